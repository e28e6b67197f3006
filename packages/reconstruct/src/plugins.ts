/**
 * The pipeline stages: each compresses the selected layers one after another from calibration
 * data alone, reading every layer's input from one forward pass taken a layer at a time
 * (@condense/core's `LayerPass`, run by the pipeline's runtime).
 */
import {
  definePlugin,
  nodeRefs,
  perLayer,
  resolvePerLayer,
  selectionOptions,
  selectLayers,
  batchInputs,
  Type,
  type LayerPass,
  type LayerReconstruction,
  type NodeValue,
  type PassUsage,
  type Registry,
  type StageContext,
} from '@condense/core';
import { cloneGraph, enforceAnnotations, getNode, topoSort, type Graph, type Node, type Param } from '@condense/ir';
import { biasCorrection, correctBias } from './bias.js';
import { ReconstructError } from './errors.js';
import { gptqCodebookLayer, gptqLayer, sparseGptLayer, type LayerReport } from './layer.js';
import { kernelBlocks, layerSpec, type LayerSpec } from './layout.js';
import { accumulateMeans, createMeans, meanOutput, type BlockSums } from './means.js';
import { kernelLayers, passInputs, sequential, type SequentialStep } from './sequential.js';
import type { LayerStats } from './stats.js';

/** How a stage reads its calibration data. */
const passOptions = {
  examples: Type.Integer({ minimum: 1, default: 512, description: 'calibration examples read: the first ones of data.calibration (else data.train)' }),
  batchSize: Type.Integer({
    minimum: 1,
    default: 32,
    description: 'examples per runtime call (bounds the runtime’s working memory; the results do not depend on it)',
  }),
};

/** The default row budget of a layer's statistics: 4 rows per kernel row, at least 8192. */
export const defaultMaxRows = (kernelRows: number): number => Math.max(8192, 4 * kernelRows);

const maxRowsOption = {
  maxRows: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        "rows of X (examples x output positions) per layer for its statistics: a conv layer with more uses a seeded random subset of each example's output positions (the cost grows with rows x kernel rows^2); default: max(8192, 4 x the kernel's rows)",
    }),
  ),
};

const sequentialOption = Type.Boolean({
  default: true,
  description:
    "true: each layer's statistics come from the inputs the already-compressed layers before it produce (GPTQ's sequential mode); false: from the model as the stage found it",
});

const hessianOptions = {
  damp: Type.Number({ minimum: 0, default: 0.01, description: "dampening: this fraction of H's mean diagonal is added to its diagonal (GPTQ's percdamp)" }),
  blockSize: Type.Integer({ minimum: 1, default: 128, description: 'kernel rows per lazy block update (speed only)' }),
};

/** What GPTQ and SparseGPT share: how the statistics are gathered and how H is factored. */
const solverOptions = { sequential: sequentialOption, ...maxRowsOption, ...hessianOptions, ...passOptions };

const KERNEL_LAYERS = 'kernel layers (dense, conv2d, depthwiseConv2d)';

interface PassSettings {
  examples: number;
  batchSize: number;
  sequential?: boolean;
  maxRows?: number;
}

/** One layer's row in a stage's details: the report's reconstruction fields plus the method's. */
export interface StageLayerRow extends LayerReconstruction {
  op: string;
  param: string;
  /** Calibration rows of X (examples x output positions). */
  rows: number;
  statsMs: number;
  solveMs: number;
  damp: number;
  dead: number;
}

/** The selected kernel layers, in topological order. */
function selected(graph: Graph, o: { include?: string[]; exclude?: string[] }, who: string): Node[] {
  const candidates = nodeRefs(kernelLayers(graph).map((n) => getNode(graph, n)));
  return selectLayers(candidates, o, who).map((r) => r.node);
}

/** A pass over the first `examples` calibration examples, on the graph itself (sequential) or a frozen copy. */
async function openPass(graph: Graph, ctx: StageContext, o: PassSettings): Promise<LayerPass> {
  const examples = batchInputs(await ctx.examples('calibration', graph, o.examples));
  return ctx.layerPass(o.sequential === false ? cloneGraph(graph) : graph, examples, { batchSize: o.batchSize });
}

/** Compress `layers` one at a time on their statistics from one layer pass; the pass is freed after. */
async function eachLayer<R>(
  graph: Graph,
  ctx: StageContext,
  layers: string[],
  o: PassSettings,
  compress: (stats: LayerStats) => R,
): Promise<{ steps: SequentialStep<R>[]; pass: PassUsage; examples: number }> {
  const pass = await openPass(graph, ctx, o);
  let done = 0;
  try {
    // A row budget over the whole pass: each example keeps its share of a conv layer's positions.
    const positions = (spec: LayerSpec) => ({
      positions: Math.max(1, Math.ceil((o.maxRows ?? defaultMaxRows(kernelBlocks(spec).rows)) / pass.count)),
      seed: ctx.seed,
    });
    const steps = await sequential(
      graph,
      layers,
      passInputs(pass),
      (stats) => {
        const r = compress(stats);
        ctx.emit({ type: 'progress', index: ctx.stage.index, label: stats.spec.name, done: ++done, total: layers.length });
        return r;
      },
      { stats: positions },
    );
    return { steps, pass: pass.stats(), examples: pass.count };
  } finally {
    pass.dispose();
  }
}

function layerRow(step: SequentialStep<LayerReport>, graph: Graph): StageLayerRow {
  const { stats, result: r } = step;
  return {
    layer: step.layer,
    op: getNode(graph, step.layer).op,
    param: r.param,
    errorBefore: r.error.relativeBefore,
    errorAfter: r.error.relativeAfter,
    rows: stats.rows,
    bytes: stats.bytes,
    ms: stats.ms + r.ms,
    statsMs: stats.ms,
    solveMs: r.ms,
    damp: r.damp,
    dead: r.dead,
  };
}

/** What GPTQ leaves per layer: the solver's report and the settings it ran with. */
interface GptqLayerResult extends LayerReport {
  bits: number;
  groupSize?: number;
  /** The relative output error after bias correction too. */
  errorAfterBias?: number;
  biasParam?: string;
}

function kernelOf(graph: Graph, layer: string): Param {
  const name = getNode(graph, layer).params.kernel;
  const p = name === undefined ? undefined : graph.params.get(name);
  if (!p) throw new ReconstructError(`layer '${layer}' has no 'kernel' param`);
  return p;
}

const pct = (x: number) => `${(100 * x).toFixed(3)}%`;

/** What every layer-wise stage reports besides its rows. */
function summary(run: { pass: PassUsage; examples: number }, rows: StageLayerRow[], started: number) {
  const total = (f: (r: StageLayerRow) => number) => rows.reduce((a, r) => a + f(r), 0);
  return {
    examples: run.examples,
    statsMs: total((r) => r.statsMs),
    solveMs: total((r) => r.solveMs),
    forwardMs: run.pass.forwardMs,
    passPeakBytes: run.pass.peakBytes,
    statsPeakBytes: rows.reduce((a, r) => Math.max(a, r.bytes ?? 0), 0),
    ms: performance.now() - started,
  };
}

const rowNote = (r: StageLayerRow, what: string) =>
  `${r.layer}: ${what}, output error ${pct(r.errorBefore)} -> ${pct(r.errorAfter)} (${r.rows} calibration rows, ${(r.ms ?? 0).toFixed(0)} ms)`;

export const gptqPlugin = definePlugin({
  name: 'reconstruct.gptq',
  description:
    'GPTQ (Frantar et al. 2023): quantize each kernel layer from calibration data alone, one input row at a time, spreading each row’s rounding error over the rows not quantized yet through the inverse Hessian of the layer-wise least squares; per channel or per group of rows (affine), or onto a k-means codebook.',
  schema: Type.Object(
    {
      ...selectionOptions(KERNEL_LAYERS),
      bits: perLayer(Type.Integer({ minimum: 2, maximum: 8 }), { default: 4, description: 'code width (codebook: 2^bits centroids)' }),
      groupSize: Type.Optional(
        perLayer(Type.Integer({ minimum: 1 }), {
          description: 'consecutive kernel rows (inputs; HWIO rows for convolutions) sharing a scale per channel; default: all (per channel). Affine only',
        }),
      ),
      format: Type.Union([Type.Literal('affine'), Type.Literal('codebook')], {
        default: 'affine',
        description: "'affine' (a quant annotation) or 'codebook' (a k-means codebook fitted first, Hessian-weighted)",
      }),
      symmetric: Type.Boolean({ default: false, description: 'symmetric ranges [-max|w|, max|w|] instead of [min, max]' }),
      actOrder: Type.Boolean({ default: false, description: "quantize rows by descending H diagonal (GPTQ's act-order; with groups, static groups)" }),
      compensate: Type.Boolean({ default: true, description: 'false: round every weight to nearest on the same grid, without error feedback (the baseline)' }),
      biasCorrection: Type.Boolean({
        default: false,
        description: "take each layer's output mean shift on the calibration set back into its bias (Nagel et al. 2019)",
      }),
      ...solverOptions,
    },
    { additionalProperties: false },
  ),
  create: (o) => ({
    contract: {
      requires: ['calibration'],
      runtime: ['forward'],
      provides: [o.format === 'codebook' ? 'codebook' : 'quant'],
      conflicts: [o.format === 'codebook' ? 'quant' : 'codebook', 'encoded'],
    },
    async apply(graph, ctx) {
      const started = performance.now();
      const who = 'reconstruct.gptq';
      const layers = selected(graph, o, who);
      const refs = nodeRefs(layers);
      const bits = resolvePerLayer<{ node: Node }, number>(refs, o.bits, who, 'bits');
      const groups = resolvePerLayer<{ node: Node }, number>(refs, o.groupSize, who, 'groupSize');
      if (o.format === 'codebook' && groups.size > 0)
        throw new ReconstructError(`${who}: 'groupSize' is for the affine format; a codebook is shared by the whole kernel`);
      const byName = new Map(refs.map((r) => [r.node.name, r]));
      const run = await eachLayer(
        graph,
        ctx,
        layers.map((n) => n.name),
        o,
        (stats): GptqLayerResult => {
          const ref = byName.get(stats.spec.name) as { node: Node };
          const settings = { bits: bits.get(ref) as number, ...(groups.has(ref) ? { groupSize: groups.get(ref) } : {}) };
          const kernel = kernelOf(graph, stats.spec.name);
          const before = kernel.data.slice();
          const common = { bits: settings.bits, actOrder: o.actOrder, damp: o.damp, blockSize: o.blockSize, compensate: o.compensate };
          const r =
            o.format === 'codebook'
              ? gptqCodebookLayer(graph, stats, common)
              : gptqLayer(graph, stats, { ...common, symmetric: o.symmetric, groupSize: settings.groupSize });
          if (!o.biasCorrection) return { ...r, ...settings };
          const bc = biasCorrection(stats, before, kernel.data);
          return {
            ...r,
            ...settings,
            biasParam: correctBias(graph, stats.spec.name, bc.shift),
            errorAfterBias: r.error.reference > 0 ? bc.errorAfter / r.error.reference : 0,
          };
        },
      );
      const rows = run.steps.map((s) => {
        const { bits: b, groupSize, errorAfterBias } = s.result;
        return {
          ...layerRow(s, graph),
          bits: b,
          ...(groupSize !== undefined ? { groupSize } : {}),
          ...(errorAfterBias !== undefined ? { errorAfterBias } : {}),
        };
      });
      const what = (r: (typeof rows)[number]) =>
        `${r.bits}-bit ${o.format}${r.groupSize ? `, groups of ${r.groupSize}` : ''}${o.compensate ? '' : ' (round to nearest)'}`;
      return {
        details: { method: o.compensate ? 'gptq' : 'round-to-nearest', ...summary(run, rows, started), reconstruction: rows },
        notes: rows.map((r) => rowNote(r, what(r)) + (r.errorAfterBias !== undefined ? `, after bias correction ${pct(r.errorAfterBias)}` : '')),
      };
    },
  }),
});

/** "2:4" -> { n: 2, m: 4 }. */
function parseNm(s: string, who: string): { n: number; m: number } {
  const m = /^(\d+):(\d+)$/.exec(s);
  if (!m) throw new ReconstructError(`${who}: 'nm' must look like '2:4', got '${s}'`);
  return { n: Number(m[1]), m: Number(m[2]) };
}

export const sparseGptPlugin = definePlugin({
  name: 'reconstruct.sparsegpt',
  description:
    'SparseGPT (Frantar & Alistarh 2023): one-shot pruning of each kernel layer from calibration data alone, unstructured or N:M, the weights to prune chosen by OBS saliency and the kept ones updated to compensate.',
  schema: Type.Object(
    {
      ...selectionOptions(KERNEL_LAYERS),
      sparsity: Type.Optional(
        perLayer(Type.Number({ minimum: 0, exclusiveMaximum: 1 }), { description: 'fraction of each kernel pruned (default 0.5 unless nm is given)' }),
      ),
      nm: Type.Optional(
        Type.String({
          pattern: '^[0-9]+:[0-9]+$',
          description:
            "N:M instead of a fraction: n of every m consecutive kernel rows pruned per output ('2:4'); layers whose rows do not split into groups of m are left dense, with a note",
        }),
      ),
      scope: Type.Union([Type.Literal('layer'), Type.Literal('output')], {
        default: 'layer',
        description: "'layer': the target over the whole kernel (the reference code); 'output': for every output channel",
      }),
      ...solverOptions,
    },
    { additionalProperties: false },
  ),
  create: (o) => ({
    contract: { requires: ['calibration'], runtime: ['forward'], provides: ['mask'], conflicts: ['quant', 'codebook', 'encoded'] },
    async apply(graph, ctx) {
      const started = performance.now();
      const who = 'reconstruct.sparsegpt';
      if (o.nm !== undefined && o.sparsity !== undefined) throw new ReconstructError(`${who}: give 'sparsity' or 'nm', not both`);
      const nm = o.nm === undefined ? undefined : parseNm(o.nm, who);
      const layers = selected(graph, o, who);
      const refs = nodeRefs(layers);
      const sparsity = resolvePerLayer<{ node: Node }, number>(refs, o.sparsity ?? 0.5, who, 'sparsity');
      const notes: string[] = [];
      // N:M needs whole groups of m rows: leave the layers it does not fit alone (before any statistics).
      const fits = (n: Node) => !nm || kernelBlocks(layerSpec(graph, n.name)).rows % nm.m === 0;
      for (const n of layers)
        if (!fits(n)) notes.push(`${n.name}: left dense: its ${kernelBlocks(layerSpec(graph, n.name)).rows} kernel rows do not split into groups of ${nm?.m}`);
      const chosen = refs.filter((r) => fits(r.node));
      const run = await eachLayer(
        graph,
        ctx,
        chosen.map((r) => r.node.name),
        o,
        (stats) => {
          const ref = chosen.find((r) => r.node.name === stats.spec.name) as { node: Node };
          const common = { scope: o.scope, damp: o.damp, blockSize: o.blockSize };
          return sparseGptLayer(graph, stats, nm ? { ...common, nm } : { ...common, sparsity: sparsity.get(ref) as number });
        },
      );
      const rows = run.steps.map((s) => ({ ...layerRow(s, graph), sparsity: s.result.sparsity }));
      return {
        details: { method: 'sparsegpt', ...(nm ? { nm: o.nm } : {}), ...summary(run, rows, started), reconstruction: rows },
        notes: [...notes, ...rows.map((r) => rowNote(r, `${(100 * r.sparsity).toFixed(1)}% pruned`))],
      };
    },
  }),
});

/** A layer's mean input from a pass (the pass moved to the layer first). */
async function meansFrom(pass: LayerPass, graph: Graph, layer: string): Promise<BlockSums> {
  const node = getNode(graph, layer);
  await pass.advance(layer);
  const m = createMeans(layerSpec(graph, layer));
  for await (const batch of pass.values([node.inputs[0]])) {
    const v = batch.get(node.inputs[0]) as NodeValue;
    accumulateMeans(m, v.values, v.shape);
  }
  return m;
}

/** The layer's node in the reference model when it computes the same thing from the same shapes, else why not. */
function counterpart(reference: Graph, graph: Graph, layer: string): Node | string {
  const node = reference.nodes.find((n) => n.name === layer);
  if (!node) return 'not in the model before the pipeline';
  const [a, b] = [kernelOf(graph, layer).shape, reference.params.get(node.params.kernel ?? '')?.shape ?? []];
  if (node.op !== getNode(graph, layer).op || a.join() !== b.join())
    return `its kernel [${a.join(', ')}] differs from the model before the pipeline's [${b.join(', ')}]`;
  return node;
}

const rms = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0) / Math.max(v.length, 1));

const paramData = (graph: Graph, node: Node, role: string) => {
  const name = node.params[role];
  return name === undefined ? undefined : graph.params.get(name)?.data;
};

export const biasCorrectionPlugin = definePlugin({
  name: 'reconstruct.biasCorrection',
  description:
    'Empirical bias correction (Nagel et al. 2019, with calibration data): per layer, the shift of its mean output (before the activation) on the calibration set against the model before the pipeline, taken back into its bias (or the batch norm that follows it); layer by layer, so each sees the corrected ones before it. After quantization or pruning.',
  schema: Type.Object({ ...selectionOptions(KERNEL_LAYERS), ...passOptions }, { additionalProperties: false }),
  create: (o) => ({
    contract: { requires: ['calibration'], runtime: ['forward'], conflicts: ['encoded'] },
    async apply(graph, ctx) {
      const who = 'reconstruct.biasCorrection';
      const reference = ctx.original;
      const notes: string[] = [];
      const layers = selected(graph, o, who).filter((n) => {
        const c = counterpart(reference, graph, n.name);
        if (typeof c === 'string') notes.push(`${n.name}: skipped: ${c}`);
        return typeof c !== 'string';
      });
      const examples = batchInputs(await ctx.examples('calibration', graph, o.examples));
      const [current, before] = [ctx.layerPass(graph, examples, o), ctx.layerPass(reference, examples, o)];
      const rows: { layer: string; param: string; shiftRms: number; meanRms: number }[] = [];
      try {
        for (const [i, node] of layers.entries()) {
          const ref = reference.nodes.find((n) => n.name === node.name) as Node;
          const now = meanOutput(await meansFrom(current, graph, node.name), kernelOf(graph, node.name).data, paramData(graph, node, 'bias'));
          const was = meanOutput(await meansFrom(before, reference, node.name), kernelOf(reference, node.name).data, paramData(reference, ref, 'bias'));
          const shift = now.map((v, c) => v - was[c]);
          try {
            rows.push({ layer: node.name, param: correctBias(graph, node.name, shift), shiftRms: rms(shift), meanRms: rms(was) });
          } catch (e) {
            if (!(e instanceof ReconstructError)) throw e;
            notes.push(`${node.name}: skipped: ${e.message}`);
          }
          ctx.emit({ type: 'progress', index: ctx.stage.index, label: node.name, done: i + 1, total: layers.length });
        }
      } finally {
        current.dispose();
        before.dispose();
      }
      notes.push(
        ...rows.map(
          (r) =>
            `${r.layer}: mean output shift ${r.shiftRms.toExponential(2)} (rms; the mean output's rms is ${r.meanRms.toExponential(2)}) taken into '${r.param}'`,
        ),
      );
      return { details: { method: 'bias correction', examples: examples.count, layers: rows }, notes };
    },
  }),
});

export const bnRecalibratePlugin = definePlugin({
  name: 'reconstruct.bnRecalibrate',
  description:
    "Re-estimate the batch norms' moving mean and variance on the calibration set, in graph order (each on the inputs the re-estimated ones before it produce): after structural pruning, or anything else that moved the statistics.",
  schema: Type.Object({ ...selectionOptions('batch norm layers'), ...passOptions }, { additionalProperties: false }),
  create: (o) => ({
    contract: { requires: ['calibration'], runtime: ['forward'], conflicts: ['encoded'] },
    async apply(graph, ctx) {
      const who = 'reconstruct.bnRecalibrate';
      const norms = selectLayers(nodeRefs(topoSort(graph).filter((n) => n.op === 'batchNorm')), o, who).map((r) => r.node);
      const pass = await openPass(graph, ctx, { ...o, sequential: true });
      const rows: BatchNormRow[] = [];
      const notes: string[] = [];
      try {
        for (const [i, bn] of norms.entries()) {
          await pass.advance(bn.name);
          const moments = await channelMoments(pass, bn.inputs[0]);
          const r = setMoments(graph, bn, moments);
          if (typeof r === 'string') notes.push(`${bn.name}: skipped: ${r}`);
          else rows.push(r);
          ctx.emit({ type: 'progress', index: ctx.stage.index, label: bn.name, done: i + 1, total: norms.length });
        }
      } finally {
        pass.dispose();
      }
      notes.push(
        ...rows.map(
          (r) => `${r.layer}: mean moved ${r.meanShift.toFixed(3)} std (rms), variance x${r.varianceRatio.toFixed(3)} (mean), over ${r.positions} positions`,
        ),
      );
      return { details: { method: 'batch norm re-estimation', examples: pass.count, layers: rows }, notes };
    },
  }),
});

/** Per channel (the last axis), the mean and the (population) variance of a value over every example and position. */
async function channelMoments(pass: LayerPass, value: string): Promise<{ mean: Float64Array; variance: Float64Array; positions: number }> {
  let sum: Float64Array | undefined;
  let squares: Float64Array | undefined;
  let positions = 0;
  for await (const batch of pass.values([value])) {
    const { values, shape } = batch.get(value) as NodeValue;
    const c = shape[shape.length - 1];
    sum ??= new Float64Array(c);
    squares ??= new Float64Array(c);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      sum[i % c] += v;
      squares[i % c] += v * v;
    }
    positions += values.length / c;
  }
  const mean = (sum as Float64Array).map((s) => s / positions);
  return { mean, variance: (squares as Float64Array).map((q, ch) => Math.max(q / positions - mean[ch] ** 2, 0)), positions };
}

export interface BatchNormRow {
  layer: string;
  channels: number;
  positions: number;
  /** rms over channels of (new mean - old mean) / old std. */
  meanShift: number;
  /** Mean over channels of new variance / old variance. */
  varianceRatio: number;
}

/** Write the moments into the norm's moving statistics, or say why not. */
function setMoments(graph: Graph, bn: Node, m: { mean: Float64Array; variance: Float64Array; positions: number }): BatchNormRow | string {
  const [mean, variance] = [bn.params.movingMean, bn.params.movingVariance].map((n) => (n === undefined ? undefined : graph.params.get(n)));
  if (!mean || !variance) return 'it has no moving statistics';
  const pinned = [mean, variance].find((p) => p.quant || p.codebook);
  if (pinned) return `'${pinned.name}' is ${pinned.quant ? 'quantized' : 'weight-shared'}`;
  if (mean.data.length !== m.mean.length) return `its ${mean.data.length} channels do not match the ${m.mean.length} of its input`;
  const eps = typeof bn.attrs.epsilon === 'number' ? bn.attrs.epsilon : 1e-3;
  const shifts = Array.from(m.mean, (v, c) => (v - mean.data[c]) / Math.sqrt(variance.data[c] + eps));
  const ratio = Array.from(m.variance, (v, c) => v / Math.max(variance.data[c], 1e-12)).reduce((a, x) => a + x, 0) / m.variance.length;
  mean.data.set(m.mean);
  variance.data.set(m.variance);
  enforceAnnotations(mean);
  enforceAnnotations(variance);
  return { layer: bn.name, channels: m.mean.length, positions: m.positions, meanShift: rms(shifts), varianceRatio: ratio };
}

export const plugins = [gptqPlugin, sparseGptPlugin, biasCorrectionPlugin, bnRecalibratePlugin];

/** Register `reconstruct.gptq`, `reconstruct.sparsegpt`, `reconstruct.biasCorrection` and `reconstruct.bnRecalibrate`. */
export function register(registry: Registry): void {
  registry.register(...plugins);
}
