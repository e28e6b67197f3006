import { definePlugin, layerMap, resolveLayerMap, selectLayers, selectionOptions, Type, type Registry, type StageContext } from '@condense/core';
import { channelGroups, getNode, weightParams, type Graph, type Node } from '@condense/ir';
import { apgContribution, groupLassoContribution, l1Contribution, type Factor, type GroupLayer } from './contributions.js';
import { finalize, type FinalizeReport } from './finalize.js';
import { scaleNodes, type StructureKind } from './scale-op.js';
import { channelStructures, findStructures, insertScales, layerOf, type ChannelStructure, type Selection, type Structure } from './structures.js';
const Kind = Type.Union([Type.Literal('neuron'), Type.Literal('channel'), Type.Literal('block')]);
const LearningRate = Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "APG step size of the factors; default: the fine-tune's learning rate" }));
const Momentum = Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'APG momentum mu' });
const Finalize = Type.Boolean({ default: true, description: 'fold and remove zeroed structures at the end of the next finetune (else use sparsity.finalize)' });

/** Channel-removing stages rewrite kernels and biases: codebooks and quantization grids would not survive. */
const STRUCTURE_CONTRACT = { provides: ['structure'], conflicts: ['codebook', 'quant', 'encoded'] };

function summary(who: string, r: FinalizeReport): string {
  const layers = r.layers.map((l) => `${l.node} ${l.before}->${l.after}`).join(', ') || 'none';
  const blocks = r.blocksRemoved.length ? `; blocks removed: ${r.blocksRemoved.join(', ')}` : '';
  const approx = r.approximate
    ? `; ${r.approximate} removed channels had a constant output folded into a 'same'-padded conv bias (exact away from the borders only)`
    : '';
  const kept = r.kept.length ? `; scale nodes kept (not foldable): ${r.kept.join(', ')}` : '';
  return `${who}: folded ${r.folded.length} scale nodes, removed ${r.channelsRemoved} channels (${layers})${blocks}${approx}${kept}`;
}

function countKinds(nodes: Node[]): Record<StructureKind, number> {
  const out: Record<StructureKind, number> = { neuron: 0, channel: 0, block: 0 };
  for (const n of scaleNodes(nodes)) out[n.attrs.structure as StructureKind]++;
  return out;
}

/** Each structure's layer, for the selector. */
const layerRefs = (graph: Graph, structures: Structure[]) => structures.map((s) => ({ node: getNode(graph, layerOf(s)) }));

/** The penalty `layerGamma` gives each scale node (the most specific key naming its layer); absent: gamma. */
function layerGammas(graph: Graph, layerGamma: Record<string, number> | undefined): Map<Node, number> {
  if (!layerGamma) return new Map();
  const refs = scaleNodes(graph.nodes).flatMap((n) => (typeof n.attrs.layer === 'string' ? [{ node: getNode(graph, n.attrs.layer), scale: n }] : []));
  return new Map([...resolveLayerMap(refs, layerGamma, 'sparsity.sss', 'layerGamma')].map(([r, g]) => [r.scale, g]));
}

export const sss = definePlugin({
  name: 'sparsity.sss',
  description:
    'Sparse Structure Selection (Huang & Wang 2017): a scale factor per neuron, channel or residual block, trained with an L1 penalty by accelerated proximal gradient during the next finetune; factors that reach 0 are removed, the rest folded into the weights.',
  schema: Type.Object(
    {
      gamma: Type.Number({ minimum: 0, default: 1e-3, description: 'L1 penalty on the scale factors' }),
      learningRate: LearningRate,
      momentum: Momentum,
      structures: Type.Optional(
        Type.Array(Kind, {
          minItems: 1,
          description: "what gets a factor: 'neuron' (dense), 'channel' (conv2d), 'block' (residual branch); default: every kind the model has",
        }),
      ),
      layerGamma: Type.Optional(
        layerMap(Type.Number({ minimum: 0 }), {
          description: 'a penalty per layer (the producer, or the add node for a block) in place of gamma, to steer how much each layer loses',
        }),
      ),
      ...selectionOptions('layers (producers, or add nodes for blocks) given factors'),
      finalize: Finalize,
    },
    { additionalProperties: false },
  ),
  create: (o) => ({
    contract: { ...STRUCTURE_CONTRACT, provides: ['structure', 'op:scale'] },
    trainingScope: 'next',
    apply(graph) {
      if (scaleNodes(graph.nodes).length)
        throw new Error(`sparsity.sss: graph '${graph.name}' already has scale nodes; finalise them first (sparsity.finalize)`);
      const structures = findStructures(graph, o.structures, o, 'sparsity.sss');
      if (o.layerGamma) resolveLayerMap(layerRefs(graph, structures), o.layerGamma, 'sparsity.sss', 'layerGamma');
      const inserted = insertScales(graph, structures);
      const kinds = countKinds(graph.nodes);
      return {
        details: { scaleNodes: inserted, structures: kinds },
        notes: [
          `${inserted.length} scale nodes (${kinds.neuron} neuron, ${kinds.channel} channel, ${kinds.block} block layers): trained by APG in the next finetune, ${o.finalize ? 'then folded and removed' : 'finalise with sparsity.finalize'}`,
        ],
      };
    },
    training(graph, ctx) {
      const gammas = layerGammas(graph, o.layerGamma);
      const factors: Factor[] = scaleNodes(graph.nodes).map((n) => ({ param: n.params.scale, tied: n.attrs.structure === 'block', gamma: gammas.get(n) }));
      return [
        apgContribution({
          name: 'sparsity.sss',
          factors,
          gamma: o.gamma,
          learningRate: o.learningRate,
          momentum: o.momentum,
          nonNegative: true,
          finalize: o.finalize,
          onFinalize: (r) => ctx.log(summary('sparsity.sss', r)),
        }),
      ];
    },
  }),
});

/** BatchNorm gammas whose channels form a removable single-producer group. */
export function slimmingFactors(graph: Graph, sel: Selection = {}): Factor[] {
  const groups = channelGroups(graph).filter((g) => g.prunable && g.producers.length === 1);
  const norms = graph.nodes.filter(
    (n) => n.op === 'batchNorm' && n.params.gamma !== undefined && groups.some((g) => g.slices.some((s) => s.param === n.params.gamma)),
  );
  return selectLayers(
    norms.map((node) => ({ node })),
    sel,
    'sparsity.slimming',
  ).map(({ node }) => ({ param: node.params.gamma, tied: false }));
}

export const slimming = definePlugin({
  name: 'sparsity.slimming',
  description:
    "Network Slimming (Liu et al. 2017): L1 on batchNorm gammas, moved by the same proximal (APG) update during the next finetune; channels whose gamma reaches 0 are removed (their constant beta is moved into the next layer's bias).",
  schema: Type.Object(
    {
      lambda: Type.Number({ minimum: 0, default: 1e-3, description: 'L1 penalty on the batchNorm gammas' }),
      learningRate: LearningRate,
      momentum: Momentum,
      ...selectionOptions('batchNorm layers penalised'),
      finalize: Finalize,
    },
    { additionalProperties: false },
  ),
  create: (o) => ({
    contract: STRUCTURE_CONTRACT,
    trainingScope: 'next',
    apply(graph) {
      const factors = slimmingFactors(graph, o);
      if (factors.length === 0) {
        const any = graph.nodes.some((n) => n.op === 'batchNorm' && n.params.gamma !== undefined);
        throw new Error(
          `sparsity.slimming: graph '${graph.name}' has no ${any ? 'selected ' : ''}batchNorm layer with a gamma on removable channels${any ? '' : ' (use sparsity.sss for models without batchNorm)'}`,
        );
      }
      return { details: { gammas: factors.map((f) => f.param) }, notes: [`${factors.length} batchNorm gammas penalised during the next finetune`] };
    },
    training(graph, ctx) {
      return [
        apgContribution({
          name: 'sparsity.slimming',
          factors: slimmingFactors(graph, o),
          gamma: o.lambda,
          learningRate: o.learningRate,
          momentum: o.momentum,
          nonNegative: false,
          finalize: o.finalize,
          onFinalize: (r) => ctx.log(summary('sparsity.slimming', r)),
        }),
      ];
    },
  }),
});

function groupLayers(graph: Graph, o: { structures?: ('neuron' | 'channel')[] } & Selection, who: string): GroupLayer[] {
  return findStructures<ChannelStructure>(graph, o.structures, o, who, channelStructures(graph)).map((s) => {
    const node = getNode(graph, s.node);
    return { kernel: node.params.kernel, bias: node.params.bias };
  });
}

export const groupLasso = definePlugin({
  name: 'sparsity.groupLasso',
  description:
    'Group lasso over whole filters / neurons: after every optimizer step of the next finetune each group shrinks in L2 norm (proximal group shrinkage); groups that reach 0 are removed.',
  schema: Type.Object(
    {
      lambda: Type.Number({ minimum: 0, default: 1e-3, description: 'group-L2 penalty (times sqrt(group size))' }),
      structures: Type.Optional(Type.Array(Type.Union([Type.Literal('neuron'), Type.Literal('channel')]), { minItems: 1 })),
      ...selectionOptions('dense / conv2d layers penalised'),
      finalize: Finalize,
    },
    { additionalProperties: false },
  ),
  create: (o) => ({
    contract: STRUCTURE_CONTRACT,
    trainingScope: 'next',
    apply(graph) {
      const layers = groupLayers(graph, o, 'sparsity.groupLasso');
      return { details: { layers: layers.map((l) => l.kernel) }, notes: [`${layers.length} layers under group lasso during the next finetune`] };
    },
    training(graph, ctx) {
      return [
        groupLassoContribution({
          name: 'sparsity.groupLasso',
          layers: groupLayers(graph, o, 'sparsity.groupLasso'),
          lambda: o.lambda,
          finalize: o.finalize,
          onFinalize: (r) => ctx.log(summary('sparsity.groupLasso', r)),
        }),
      ];
    },
  }),
});

function l1Params(graph: Graph, o: { ops: string[] } & Selection): string[] {
  const kernels = weightParams(graph)
    .filter(({ node }) => o.ops.includes(node.op))
    .map(({ node, param }) => ({ node, param }));
  const names = selectLayers(kernels, o, 'sparsity.l1').map((u) => u.param.name);
  if (names.length === 0) throw new Error(`sparsity.l1: graph '${graph.name}' has no ${o.ops.join('/')} kernels among the selected layers`);
  return [...new Set(names)];
}

export const l1 = definePlugin({
  name: 'sparsity.l1',
  description:
    'L1 penalty on weights with a proximal (soft-threshold) step after every optimizer step of the next finetune, so weights reach exact zeros; the zeros become masks that later stages keep.',
  schema: Type.Object(
    {
      lambda: Type.Number({ minimum: 0, default: 1e-4, description: 'L1 penalty' }),
      ops: Type.Array(Type.String(), { default: ['dense', 'conv2d'], description: 'op types whose kernels are penalised' }),
      ...selectionOptions('kernels penalised'),
      mask: Type.Boolean({ default: true, description: 'turn the zeros reached into masks at the end of the finetune' }),
    },
    { additionalProperties: false },
  ),
  create: (o) => ({
    contract: { provides: ['mask'], conflicts: ['codebook', 'encoded'] },
    trainingScope: 'next',
    apply(graph) {
      const params = l1Params(graph, o);
      return { details: { params }, notes: [`${params.length} kernels under L1 during the next finetune`] };
    },
    training(graph, ctx: StageContext) {
      return [
        l1Contribution({
          name: 'sparsity.l1',
          params: l1Params(graph, o),
          lambda: o.lambda,
          mask: o.mask,
          onEnd: (s) =>
            ctx.log(
              `sparsity.l1: ${s.zeros} of ${s.params} weights are exactly 0 (${((100 * s.zeros) / Math.max(s.params, 1)).toFixed(1)}%)${o.mask ? ', now masked' : ''}`,
            ),
        }),
      ];
    },
  }),
});

export const finalizeStage = definePlugin({
  name: 'sparsity.finalize',
  description:
    'Fold scale factors into the adjacent weights and physically remove every zeroed structure (residual branches, channels) through the channel groups.',
  schema: Type.Object({}, { additionalProperties: false }),
  create: () => ({
    contract: STRUCTURE_CONTRACT,
    apply(graph) {
      const r = finalize(graph);
      return { details: { ...r }, notes: [summary('sparsity.finalize', r)] };
    },
  }),
});

export const plugins = [sss, slimming, groupLasso, l1, finalizeStage];

/** Register `sparsity.sss`, `sparsity.slimming`, `sparsity.groupLasso`, `sparsity.l1`, `sparsity.finalize`. */
export function register(registry: Registry): void {
  registry.register(...plugins);
}
