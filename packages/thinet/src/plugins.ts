import { definePlugin, imageSplit, Type, type Registry, type StageContext, type TObject } from '@condense/core';
import type { Graph } from '@condense/ir';
import { checkOptions, describeLayer, pruneChannels, type ChannelPruneOptions, type Method, type PruneEnv, type PruneReport } from './prune.js';

const Finetune = Type.Object(
  {
    epochs: Type.Integer({ minimum: 0, default: 1 }),
    learningRate: Type.Number({ exclusiveMinimum: 0, default: 1e-3 }),
    batchSize: Type.Integer({ minimum: 1, default: 128 }),
  },
  { additionalProperties: false },
);

const common = {
  ratio: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'fraction of channels removed from every selected layer (default 0.5 when layers is not given)' })),
  layers: Type.Optional(Type.Record(Type.String(), Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }), { description: 'per-layer fractions by layer name; with no ratio, only these layers are pruned' })),
  ops: Type.Array(Type.String(), { default: ['conv2d'], description: 'op types pruned at ratio' }),
  coupled: Type.Union([Type.Literal('prune'), Type.Literal('skip')], { default: 'prune', description: 'layers coupled by a residual add: prune together with a combined criterion, or skip' }),
  imagesPerClass: Type.Integer({ minimum: 1, default: 20, description: 'calibration images per class' }),
  samplesPerImage: Type.Integer({ minimum: 1, default: 10, description: 'random output locations of the next layer sampled per image' }),
  finetuneBetween: Type.Optional(Finetune),
  finetune: Type.Optional(Finetune),
  seed: Type.Optional(Type.Integer()),
};

const ThinetOptions = Type.Object(
  {
    ...common,
    leastSquares: Type.Boolean({ default: true, description: 'rescale the kept channels by least squares, folded into the next layer' }),
    target: Type.Union([Type.Literal('original'), Type.Literal('current')], {
      default: 'original',
      description: "what the kept channels reconstruct: the next layer's output in the model before this stage ('original'), or in the model as pruned so far ('current', the paper)",
    }),
    biasCorrection: Type.Boolean({ default: true, description: "add the mean shift the removal leaves to the next layer's bias (after the rescaling)" }),
  },
  { additionalProperties: false },
);
const BaselineOptions = Type.Object(common, { additionalProperties: false });

/** The pipeline's stage context as the pruning environment. */
async function envOf(graph: Graph, ctx: StageContext, o: ChannelPruneOptions, needsCalibration: boolean): Promise<PruneEnv> {
  const d = ctx.data;
  const given = needsCalibration || d.calibration !== undefined || d.train !== undefined;
  const calibration = given ? imageSplit(await ctx.examples('calibration', graph), ctx.stage.name) : undefined;
  return {
    calibration,
    // Progress only: the per-layer lines become the stage's notes at the end.
    log: (message) => ctx.emit({ type: 'log', index: ctx.stage.index, message }),
    finetune: o.finetune || o.finetuneBetween ? (graph, f) => ctx.finetune(graph, f) : undefined,
  };
}

function stageResult(r: PruneReport) {
  const notes = r.layers.map(describeLayer);
  for (const s of r.skipped) notes.push(`skipped ${s.layer}: ${s.reason}`);
  notes.push(`MACs ${r.macsBefore} -> ${r.macsAfter} (${(r.macsBefore / Math.max(r.macsAfter, 1)).toFixed(2)}x fewer), params ${r.paramsBefore} -> ${r.paramsAfter}`);
  return { details: { ...r }, notes };
}

function makePlugin<S extends TObject>(method: Method, name: string, description: string, schema: S) {
  return definePlugin({
    name,
    description,
    schema,
    create: (options) => {
      const o = options as ChannelPruneOptions;
      checkOptions(o, name);
      const trains = Boolean(o.finetune || o.finetuneBetween);
      const labels = trains ? ['labels' as const] : [];
      return {
        contract: {
          requires: method === 'thinet' ? ['calibration' as const, ...labels] : labels,
          provides: ['structure'],
          conflicts: ['codebook', 'encoded'],
          ...(trains ? { runtime: ['train' as const] } : {}),
        },
        async apply(graph: Graph, ctx: StageContext) {
          const seed = o.seed ?? ctx.seed;
          return stageResult(await pruneChannels(graph, method, { ...o, seed }, await envOf(graph, ctx, o, method === 'thinet'), name));
        },
      };
    },
  });
}

export const thinet = makePlugin(
  'thinet',
  'thinet',
  'ThiNet (Luo et al. 2017): per layer, remove the channels whose removal the next layer input can best do without (greedy on sampled contributions), rescale the kept ones by least squares, and remove them for real (bias, batch norm, next layer rows, through flatten and add).',
  ThinetOptions,
);

export const thinetL1 = makePlugin(
  'l1norm',
  'thinet.l1norm',
  'Filter pruning baseline (Li et al. 2017): per layer, remove the channels whose filters have the smallest L1 norm, for real.',
  BaselineOptions,
);

export const thinetRandom = makePlugin('random', 'thinet.random', 'Filter pruning baseline: per layer, remove channels chosen at random (seeded), for real.', BaselineOptions);

export const plugins = [thinet, thinetL1, thinetRandom];

/** Register `thinet`, `thinet.l1norm` and `thinet.random`. */
export function register(registry: Registry): void {
  registry.register(...plugins);
}
