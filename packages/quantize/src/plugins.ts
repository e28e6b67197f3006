import { definePlugin, perLayer, selectionOptions, Type, type Registry } from '@condense/core';
import { quantizeGraphAffine } from './affine.js';
import { toFloat16 } from './float16.js';
import { includeOf } from './select.js';
import { shareGraphWeights } from './weight-sharing.js';

const Kinds = Type.Array(Type.Union([Type.Literal('weight'), Type.Literal('bias'), Type.Literal('norm'), Type.Literal('other')]), {
  description: 'param kinds to quantize (weight = dense/conv kernels)',
});
/** include / exclude, plus `layers`: the deprecated name of include. */
const selection = {
  ...selectionOptions('params'),
  layers: Type.Optional(Type.Array(Type.String(), { description: "deprecated: the old name of 'include'" })),
};

/** A note for a recipe that still says `layers`. */
const deprecation = (o: { layers?: unknown }, who: string) => (o.layers === undefined ? [] : [`${who}: 'layers' is deprecated, use 'include'`]);

export const kmeansQuantize = definePlugin({
  name: 'quantize.kmeans',
  description:
    "Trained k-means weight sharing (Deep Compression, Han et al. 2016): 2^bits centroids per layer over the surviving weights; later fine-tuning trains the centroids (gradient = sum of the members' gradients).",
  schema: Type.Object(
    {
      bits: perLayer(Type.Integer({ minimum: 1, maximum: 16 }), {
        default: 6,
        description: 'index bits (the paper: conv 8, dense 5; LeNet-300-100 6)',
      }),
      init: Type.Union([Type.Literal('linear'), Type.Literal('density'), Type.Literal('kmeans++')], {
        default: 'linear',
        description: "centroid initialisation (linear is the paper's best)",
      }),
      iterations: Type.Integer({ minimum: 1, default: 300 }),
      seed: Type.Integer({ default: 1 }),
      ...selection,
      kinds: Type.Optional(Kinds),
    },
    { additionalProperties: false },
  ),
  create: (o) => ({
    contract: { provides: ['codebook'], conflicts: ['quant', 'encoded'] },
    apply(graph) {
      const reports = shareGraphWeights(graph, {
        bits: o.bits,
        init: o.init,
        iterations: o.iterations,
        seed: o.seed,
        include: o.include,
        layers: o.layers,
        exclude: o.exclude,
        kinds: o.kinds,
      });
      return {
        details: { layers: reports },
        notes: [
          ...deprecation(o, 'quantize.kmeans'),
          ...reports.map((r) => `${r.layer ?? r.param}: ${r.bits} bits, ${r.clustersUsed}/${r.k} centroids used, rmse ${Math.sqrt(r.mse).toExponential(2)}`),
        ],
      };
    },
  }),
});

export const affineQuantize = definePlugin({
  name: 'quantize.affine',
  description:
    'Uniform affine quantization (uint8/int8/uint16/int16 or any 1..16 bits), per tensor or per output channel, symmetric or asymmetric; per-tensor params export as TF.js quantized weight manifests.',
  schema: Type.Object(
    {
      dtype: Type.Union([Type.Literal('uint8'), Type.Literal('int8'), Type.Literal('uint16'), Type.Literal('int16')], { default: 'uint8' }),
      bits: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: "code width; overrides the dtype's" })),
      symmetric: Type.Boolean({ default: false }),
      perChannel: Type.Boolean({ default: false, description: 'one scale per output channel (TF.js manifests cannot express it: dequantized on export)' }),
      ...selection,
      kinds: Type.Optional(Kinds),
    },
    { additionalProperties: false },
  ),
  create: (o) => ({
    contract: { provides: ['quant'], conflicts: ['codebook', 'encoded'] },
    apply(graph) {
      const { bits, dtype, ...rest } = o;
      const reports = quantizeGraphAffine(graph, bits === undefined ? { dtype, ...rest } : { bits, signed: dtype.startsWith('int'), ...rest });
      return {
        details: { layers: reports },
        notes: [
          ...deprecation(o, 'quantize.affine'),
          ...reports.map(
            (r) =>
              `${r.layer ?? r.param}: ${r.bits}-bit ${r.signed ? 'signed' : 'unsigned'}${r.axis === undefined ? '' : ` per channel (axis ${r.axis})`}, max error ${r.maxAbsError.toExponential(2)} (bound ${r.errorBound.toExponential(2)})`,
          ),
        ],
      };
    },
  }),
});

export const float16Quantize = definePlugin({
  name: 'quantize.float16',
  description: 'Round params to float16 and store them as half floats (TF.js float16 manifests).',
  schema: Type.Object({ ...selection, kinds: Type.Optional(Kinds) }, { additionalProperties: false }),
  create: (o) => ({
    contract: { provides: ['float16'], conflicts: ['encoded'] },
    apply(graph) {
      const reports = toFloat16(graph, includeOf(o, 'quantize.float16'), { kinds: o.kinds, exclude: o.exclude });
      const kept = reports.filter((r) => r.skipped);
      const keptNote = kept.length
        ? [`${kept.length} params kept as their input stores them (2 bytes per value or fewer already; float16 would not shrink them)`]
        : [];
      return {
        details: { layers: reports },
        notes: [...deprecation(o, 'quantize.float16'), `${reports.length - kept.length} params stored as float16`, ...keptNote],
      };
    },
  }),
});

export const plugins = [kmeansQuantize, affineQuantize, float16Quantize];

/** Register `quantize.kmeans`, `quantize.affine` and `quantize.float16`. */
export function register(registry: Registry): void {
  registry.register(...plugins);
}
