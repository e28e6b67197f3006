import {
  definePlugin,
  imageSplit,
  layerMap,
  nodeRefs,
  perLayer,
  resolveLayerMap,
  resolvePerLayer,
  selectLayers as select,
  selectionOptions,
  Type,
  type Registry,
  type StageContext,
} from '@condense/core';
import { cloneGraph, validate, type Graph } from '@condense/ir';
import { fitToReference, type FitReport } from './fit.js';
import { factorizeLayer, kernelOf, KroneckerError, materialize, planLayer, type LayerPlan, type LayerReport } from './factorize.js';

const LayerShapes = Type.Object(
  {
    a: Type.Array(Type.Integer({ minimum: 1 }), { description: 'dense: [m1, n1]; conv2d: [h1, w1, c1, f1]' }),
    b: Type.Array(Type.Integer({ minimum: 1 }), { description: 'dense: [m2, n2]; conv2d: [h2, w2, c2, f2]' }),
  },
  { additionalProperties: false },
);

const FactorizeOptions = Type.Object(
  {
    rank: Type.Optional(perLayer(Type.Integer({ minimum: 1 }), { description: 'Kronecker terms per layer' })),
    ratio: Type.Optional(
      perLayer(Type.Number({ exclusiveMinimum: 1 }), {
        description: 'target kernel-to-factors ratio (the rank is the largest that reaches it) where no rank is given',
      }),
    ),
    shapes: Type.Optional(layerMap(LayerShapes, { description: 'factor shapes per layer (default: chosen automatically)' })),
    ops: Type.Array(Type.Union([Type.Literal('dense'), Type.Literal('conv2d')]), { default: ['dense', 'conv2d'], description: 'op types to factorize' }),
    ...selectionOptions('layers of the selected ops factorized'),
    output: Type.Boolean({ default: false, description: 'also factorize the layers producing graph outputs (the classifier) when not named in include' }),
    tolerance: Type.Number({
      minimum: 0,
      default: 0.05,
      description: 'automatic shapes: within this fraction of the fewest values per term, prefer balanced factors',
    }),
    fit: Type.Optional(
      Type.Object(
        {
          epochs: Type.Optional(Type.Integer({ minimum: 1, default: 1, description: 'passes over the examples per layer' })),
          learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, default: 1e-3 })),
          batchSize: Type.Optional(Type.Integer({ minimum: 1, default: 128 })),
          samples: Type.Optional(Type.Integer({ minimum: 1, description: 'use at most this many training examples' })),
        },
        {
          additionalProperties: false,
          description:
            'after the NKP init, train each factorized layer to reproduce the original layer on the training images (the model before this stage is the target)',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

type Options = (typeof FactorizeOptions)['static'];

const WHO = 'kronecker.factorize';

/** The layers the options select, in graph order; patterns that match nothing are errors (@condense/core's selector rule). */
export function selectLayers(graph: Graph, o: Pick<Options, 'ops' | 'include' | 'exclude' | 'output'>): string[] {
  const ops: string[] = o.ops ?? ['dense', 'conv2d'];
  const chosen = select(nodeRefs(graph.nodes.filter((n) => ops.includes(n.op))), o, WHO).map((r) => r.node.name);
  // Without an include list, the classifier (a layer producing a graph output) stays dense unless `output` says otherwise.
  return o.include || o.output ? chosen : chosen.filter((l) => !graph.outputs.includes(l));
}

/** Plans for the selected layers; every error names its layer and nothing is changed when one fails. */
export function planLayers(graph: Graph, o: Options): Map<string, LayerPlan> {
  const layers = nodeRefs(selectLayers(graph, o).map((name) => graph.nodes.find((n) => n.name === name) as Graph['nodes'][number]));
  if (layers.length === 0) throw new KroneckerError('no layer selected for factorization');
  if (o.rank === undefined && o.ratio === undefined) throw new KroneckerError('give rank or ratio (for all layers, or per layer)');
  const ranks = resolvePerLayer<(typeof layers)[number], number>(layers, o.rank, WHO, 'rank');
  const ratios = resolvePerLayer<(typeof layers)[number], number>(layers, o.ratio, WHO, 'ratio');
  const shapes = o.shapes ? resolveLayerMap(layers, o.shapes, WHO, 'shapes') : new Map();
  const plans = new Map<string, LayerPlan>();
  for (const ref of layers) {
    const layer = ref.node.name;
    const rank = ranks.get(ref);
    const ratio = ratios.get(ref);
    if (rank === undefined && ratio === undefined) throw new KroneckerError(`layer '${layer}': neither rank nor ratio gives it a value`);
    plans.set(layer, planLayer(graph, layer, { rank, ratio: rank === undefined ? ratio : undefined, shapes: shapes.get(ref), tolerance: o.tolerance }));
  }
  return plans;
}

/** Factorize the selected layers of a graph in place; returns one report per layer. */
export function factorizeGraph(graph: Graph, options: Partial<Options>, log?: (m: string) => void): LayerReport[] {
  const o = { ops: ['dense', 'conv2d'], output: false, tolerance: 0.05, ...options } as Options;
  const plans = planLayers(graph, o);
  const reports: LayerReport[] = [];
  for (const [layer, plan] of plans) {
    const r = factorizeLayer(graph, layer, plan);
    log?.(describe(r));
    reports.push(r);
  }
  validate(graph);
  return reports;
}

export function describe(r: LayerReport): string {
  return `${r.layer}: [${r.kernel.join('x')}] ~ sum of ${r.rank} [${r.a.join('x')}] (x) [${r.b.join('x')}], ${r.kernelParams} -> ${r.factorParams} values (${r.ratio.toFixed(1)}x), MACs ${r.macsBefore} -> ${r.macsAfter}, relative error ${r.relativeError.toFixed(4)}`;
}

export const kroneckerFactorize = definePlugin({
  name: 'kronecker.factorize',
  description:
    'Replace dense and conv kernels by short sums of Kronecker products (kronDense / kronConv2d ops), initialised by the nearest Kronecker product (Van Loan & Pitsianis: top singular triplets of the rearranged kernel); fine-tune afterwards. Factor params are weights, so pruning and quantization apply to them.',
  schema: FactorizeOptions,
  create: (o) => {
    if (o.rank === undefined && o.ratio === undefined) throw new KroneckerError('kronecker.factorize: give rank or ratio (for all layers, or per layer)');
    return {
      contract: { provides: ['op:kronDense', 'op:kronConv2d'], conflicts: ['encoded'], ...(o.fit ? { requires: ['calibration' as const] } : {}) },
      /** A selected kernel of the input that carries compression state, is shared or dilated cannot be factorized whatever runs first. */
      check(graph: Graph) {
        let layers: string[];
        try {
          layers = selectLayers(graph, o);
        } catch {
          return; // a pattern that matches nothing yet is apply's to judge: an earlier stage may add what it names
        }
        for (const name of layers) kernelOf(graph, graph.nodes.find((n) => n.name === name) as Graph['nodes'][number]);
      },
      async apply(graph: Graph, ctx: StageContext) {
        const reference = o.fit ? cloneGraph(graph) : undefined;
        const reports = factorizeGraph(graph, o, (m) => ctx.log(m));
        const kernel = reports.reduce((a, r) => a + r.kernelParams, 0);
        const factors = reports.reduce((a, r) => a + r.factorParams, 0);
        let fitted: FitReport[] | undefined;
        if (o.fit && reference) {
          const split = imageSplit(await ctx.examples(ctx.data.train ? 'train' : 'calibration', reference), 'kronecker.factorize fit');
          fitted = await fitToReference(
            graph,
            reference,
            reports.map((r) => r.layer),
            split,
            { ...o.fit, seed: ctx.seed },
          );
          for (const f of fitted)
            ctx.log(`${f.layer}: fitted to the original layer, output error ${f.outputErrorBefore.toFixed(4)} -> ${f.outputErrorAfter.toFixed(4)}`);
        }
        return {
          details: { layers: reports, kernelParams: kernel, factorParams: factors, ratio: kernel / factors, ...(fitted ? { fit: fitted } : {}) },
          notes: [`factorized ${reports.length} layer(s): ${kernel} kernel values -> ${factors} factor values (${(kernel / factors).toFixed(1)}x)`],
        };
      },
    };
  },
});

const MaterializeOptions = Type.Object({ include: selectionOptions('Kronecker layers').include }, { additionalProperties: false });

export const kroneckerMaterialize = definePlugin({
  name: 'kronecker.materialize',
  description:
    'Turn Kronecker layers back into plain dense / conv2d layers with the materialized kernels, so that stock TF.js loads the model without the runtime (the file is as large as the original).',
  schema: MaterializeOptions,
  create: (o) => ({
    contract: { conflicts: ['codebook', 'quant', 'encoded'], invalidates: ['op:kronDense', 'op:kronConv2d', 'mask'] },
    apply(graph: Graph) {
      const kron = nodeRefs(graph.nodes.filter((n) => n.op === 'kronDense' || n.op === 'kronConv2d'));
      const layers = select(kron, o, 'kronecker.materialize').map((r) => r.node.name);
      materialize(graph, layers);
      validate(graph);
      return { notes: [`materialized ${layers.length} Kronecker layer(s): ${layers.join(', ')}`] };
    },
  }),
});

export const plugins = [kroneckerFactorize, kroneckerMaterialize];

/** Register `kronecker.factorize` and `kronecker.materialize`. */
export function register(registry: Registry): void {
  registry.register(...plugins);
}
