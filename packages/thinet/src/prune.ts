import {
  applyFloat16, channelGroups, cloneGraph, cost, groupOf, removeChannels, rng, shuffle,
  type ChannelGroup, type Graph, type Param,
} from '@condense/ir';
import { contributionGrams, UnsupportedConsumer, type ConsumerGram, type Images } from './contrib.js';
import { fitScales, greedyRemove, reconstructionError, selfTarget, type Target } from './math.js';

/** How the channels to remove are chosen. */
export type Method = 'thinet' | 'l1norm' | 'random';

export interface FinetuneStep {
  epochs: number;
  learningRate: number;
  batchSize: number;
}

export interface ChannelPruneOptions {
  /** Fraction of channels removed from every selected layer, in (0, 1). Default 0.5 when `layers` is not given either. */
  ratio?: number;
  /** Per-layer fractions by producer name; these layers are pruned even when their op is not in `ops`. */
  layers?: Record<string, number>;
  /** Op types pruned at `ratio`. Default ['conv2d']. */
  ops?: string[];
  /** Producers coupled by a residual add: prune them together with a combined criterion, or skip them. Default 'prune'. */
  coupled?: 'prune' | 'skip';
  /** Calibration images taken per class. Default 20. */
  imagesPerClass?: number;
  /** Random output locations of the next layer sampled per image. Default 10 (the paper). */
  samplesPerImage?: number;
  /** ThiNet only: rescale the kept channels by least squares, folded into the next layer. Default true. */
  leastSquares?: boolean;
  /**
   * What the kept channels must reconstruct: the next layer's output in the model as pruned so
   * far ('current', the paper), or in the model before this stage or the last between-layer
   * fine-tune ('original', which also corrects the error left by the layers pruned since).
   * Default: 'original' for ThiNet,
   * 'current' for the baselines (it only changes their reported errors and bias correction).
   */
  target?: 'current' | 'original';
  /**
   * Add to the next layer's bias, per output channel, the mean shift the removal leaves (after
   * the rescaling) over every calibration image and location. Needs calibration data.
   * Default: true for ThiNet, false for the baselines.
   */
  biasCorrection?: boolean;
  /** Short fine-tune after each pruned layer (not after the last). */
  finetuneBetween?: FinetuneStep;
  /** Fine-tune once every layer is pruned. */
  finetune?: FinetuneStep;
  seed?: number;
}

/** Labelled (or not) images for calibration: NHWC float32. */
export interface CalibrationSet extends Images {
  labels?: ArrayLike<number>;
}

/** What pruning needs from its surroundings (a pipeline stage context provides it). */
export interface PruneEnv {
  /** ThiNet needs it; the baselines use it, when given, to report reconstruction errors. */
  calibration?: CalibrationSet;
  finetune?(graph: Graph, options: FinetuneStep): Promise<unknown>;
  log?(message: string): void;
}

export interface ConsumerReport {
  consumer: string;
  /** || y - y_kept ||^2 / || y ||^2 on the calibration samples, kept channels unscaled. */
  error: number;
  /** The same after the least-squares rescaling (ThiNet). */
  errorLS?: number;
  /** Why the rescaling or the bias correction was not applied, when it was not. */
  note?: string;
}

export interface LayerReport {
  /** The channel group: the producer's name, or the coupled producers joined by '+'. */
  layer: string;
  producers: string[];
  channelsBefore: number;
  channelsAfter: number;
  /** Removed channels (indices before removal), in the order chosen. */
  removed: number[];
  /** Mean over the next layers of the relative reconstruction error before rescaling (when calibration data was available). */
  reconstructionError?: number;
  /** The same after the least-squares rescaling (ThiNet). */
  reconstructionErrorLS?: number;
  consumers: ConsumerReport[];
}

export interface PruneReport {
  method: Method;
  layers: LayerReport[];
  skipped: { layer: string; reason: string }[];
  macsBefore: number;
  macsAfter: number;
  paramsBefore: number;
  paramsAfter: number;
  calibrationImages: number;
}

interface PlanEntry {
  producers: string[];
  ratio: number;
}

const DEFAULT_RATIO = 0.5;

function checkRatio(who: string, field: string, r: unknown): number {
  if (typeof r !== 'number' || !(r > 0 && r < 1)) throw new Error(`${who}: ${field} must be a number in (0, 1) (exclusive), got ${JSON.stringify(r)}`);
  return r;
}

/** Check the options that do not depend on the graph; errors name the field. */
export function checkOptions(o: ChannelPruneOptions, who: string): void {
  if (o.ratio !== undefined) checkRatio(who, 'ratio', o.ratio);
  for (const [name, r] of Object.entries(o.layers ?? {})) checkRatio(who, `layers.${name}`, r);
  for (const f of ['imagesPerClass', 'samplesPerImage'] as const) {
    const v = o[f];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`${who}: ${f} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (o.coupled !== undefined && o.coupled !== 'prune' && o.coupled !== 'skip') throw new Error(`${who}: coupled must be 'prune' or 'skip', got ${JSON.stringify(o.coupled)}`);
  if (o.target !== undefined && o.target !== 'current' && o.target !== 'original') throw new Error(`${who}: target must be 'current' or 'original', got ${JSON.stringify(o.target)}`);
}

/** Which groups to prune, at which ratio, in graph order; names in `layers` must exist and be prunable. */
export function planLayers(graph: Graph, o: ChannelPruneOptions, who: string): { plan: PlanEntry[]; skipped: { layer: string; reason: string }[] } {
  checkOptions(o, who);
  const groups = channelGroups(graph);
  const layers = o.layers ?? {};
  const ratio = o.ratio ?? (o.layers ? undefined : DEFAULT_RATIO);
  const ops = new Set(o.ops ?? ['conv2d']);
  for (const name of Object.keys(layers)) {
    const node = graph.nodes.find((n) => n.name === name);
    const prunable = groups.filter((g) => g.prunable).flatMap((g) => g.producers);
    if (!node) throw new Error(`${who}: layer '${name}' does not exist in graph '${graph.name}' (prunable layers: ${prunable.join(', ') || 'none'})`);
    const g = groups.find((x) => x.producers.includes(name));
    if (!g) throw new Error(`${who}: layer '${name}' (${node.op}) does not produce channels; prunable layers: ${prunable.join(', ') || 'none'}`);
    if (!g.prunable) throw new Error(`${who}: layer '${name}' cannot be pruned: ${g.reason}`);
  }
  const plan: PlanEntry[] = [];
  const skipped: { layer: string; reason: string }[] = [];
  for (const g of groups) {
    const named = g.producers.find((p) => layers[p] !== undefined);
    const selected = named !== undefined || (ratio !== undefined && g.producers.some((p) => ops.has(getOpOf(graph, p))));
    if (!selected) continue;
    if (!g.prunable) {
      skipped.push({ layer: g.id, reason: g.reason ?? 'not prunable' });
      continue;
    }
    if (g.producers.length > 1 && (o.coupled ?? 'prune') === 'skip') {
      skipped.push({ layer: g.id, reason: `producers ${g.producers.join(', ')} are coupled (residual add) and coupled: 'skip' was given` });
      continue;
    }
    plan.push({ producers: g.producers, ratio: named !== undefined ? layers[named] : (ratio as number) });
  }
  return { plan, skipped };
}

const getOpOf = (graph: Graph, name: string) => graph.nodes.find((n) => n.name === name)?.op ?? '';

/** `perClass` images of each label (seeded choice); all images up to 10 * perClass when there are no labels. */
export function pickCalibration(set: CalibrationSet, perClass: number, seed: number): Images {
  const size = set.images.length / Math.max(set.count, 1);
  const order = shuffle(Int32Array.from({ length: set.count }, (_, i) => i), rng(seed));
  let chosen: number[];
  if (set.labels) {
    const taken = new Map<number, number>();
    chosen = [];
    for (const i of order) {
      const y = set.labels[i];
      if ((taken.get(y) ?? 0) >= perClass) continue;
      taken.set(y, (taken.get(y) ?? 0) + 1);
      chosen.push(i);
    }
  } else {
    chosen = [...order.slice(0, perClass * 10)];
  }
  chosen.sort((a, b) => a - b);
  const images = new Float32Array(chosen.length * size);
  chosen.forEach((i, k) => images.set(set.images.subarray(i * size, (i + 1) * size), k * size));
  // `shape` is per example or [count, ...example].
  const example = set.shape.reduce((a, b) => a * b, 1) === size ? set.shape : set.shape.slice(1);
  return { images, count: chosen.length, shape: example };
}

/** Sum of |kernel| over each group channel's output slices (Li et al. 2017), summed over coupled producers. */
export function l1Scores(graph: Graph, group: ChannelGroup): Float64Array {
  const scores = new Float64Array(group.size);
  const slices = group.slices.filter((s) => s.kind === 'out' && s.role === 'kernel');
  if (slices.length === 0) throw new Error(`group '${group.id}': no producer kernel to take filter norms of`);
  for (const s of slices) {
    const p = graph.params.get(s.param) as Param;
    const inner = p.shape.slice(s.axis + 1).reduce((a, b) => a * b, 1);
    const owner = new Int32Array(s.dim).fill(-1);
    s.positions.forEach((pos, c) => pos.forEach((i) => (owner[i] = c)));
    for (let e = 0; e < p.data.length; e++) {
      const c = owner[Math.floor(e / inner) % s.dim];
      if (c >= 0) scores[c] += Math.abs(p.data[e]);
    }
  }
  return scores;
}

/** The `count` channels with the smallest scores (ties: lowest index). */
function smallest(scores: Float64Array, count: number): number[] {
  return [...scores.keys()].sort((a, b) => scores[a] - scores[b] || a - b).slice(0, count);
}

const targetOf = (c: ConsumerGram, channels: number): Target => c.target ?? selfTarget(c.gram, channels);

/** Sum of the consumers' problems, each normalised by its target's energy: one criterion for coupled next layers. */
function combined(grams: ConsumerGram[], channels: number): { g: Float64Array; target: Target } {
  const g = new Float64Array(channels * channels);
  const h = new Float64Array(channels);
  for (const c of grams) {
    const t = targetOf(c, channels);
    if (!(t.tt > 0)) continue;
    for (let i = 0; i < g.length; i++) g[i] += c.gram[i] / t.tt;
    for (let i = 0; i < channels; i++) h[i] += t.h[i] / t.tt;
  }
  return { g, target: { h, tt: grams.length } };
}

/** Multiply the consumer's input rows of each kept channel by its least-squares scale. */
function foldScales(graph: Graph, group: ChannelGroup, consumer: string, kept: number[], w: Float64Array): string | undefined {
  const slice = group.slices.find((s) => s.node === consumer && s.kind === 'in' && s.role === 'kernel');
  if (!slice) return 'no input rows to scale';
  const p = graph.params.get(slice.param) as Param;
  if (p.quant || p.codebook) return `kernel '${p.name}' is ${p.quant ? 'quantized' : 'shared (codebook)'}; kept channels not rescaled`;
  const inner = p.shape.slice(slice.axis + 1).reduce((a, b) => a * b, 1);
  const outer = p.shape.slice(0, slice.axis).reduce((a, b) => a * b, 1);
  kept.forEach((c, k) => {
    for (const pos of slice.positions[c]) {
      for (let o = 0; o < outer; o++) {
        const from = (o * slice.dim + pos) * inner;
        for (let e = from; e < from + inner; e++) p.data[e] *= w[k];
      }
    }
  });
  applyFloat16(p);
  return undefined;
}

/**
 * Add to the next layer's bias, per output channel k, the mean over every calibration location
 * of (target - sum of the kept channels' rescaled contributions): what the removal shifted.
 */
function correctBias(graph: Graph, g: ConsumerGram, channels: number, kept: number[], w: ArrayLike<number>): string | undefined {
  if (!g.means) return 'no mean contributions for bias correction';
  const { x, outputs: K, target } = g.means;
  const shift = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    if (target) shift[k] = target[k];
    else for (let c = 0; c < channels; c++) shift[k] += x[c * K + k];
    kept.forEach((c, i) => (shift[k] -= w[i] * x[c * K + k]));
  }
  const into = biasSlot(graph, g.consumer);
  if (typeof into === 'string') return into;
  const { param, sign } = into;
  for (let k = 0; k < K; k++) param.data[k] += sign * shift[k];
  applyFloat16(param);
  return undefined;
}

/**
 * Where a per-output-channel shift of a layer goes: its bias, or, for a layer without one whose
 * only reader is a batch norm, that norm's moving mean (subtracted). A string says why neither.
 */
function biasSlot(graph: Graph, layer: string): { param: Param; sign: 1 | -1 } | string {
  const node = graph.nodes.find((n) => n.name === layer) as Graph['nodes'][number];
  let slot: { param: Param; sign: 1 | -1 } | undefined;
  const bias = node.params.bias === undefined ? undefined : graph.params.get(node.params.bias);
  if (bias) slot = { param: bias, sign: 1 };
  else {
    const readers = graph.nodes.filter((n) => n.inputs.includes(layer));
    const bn = readers.length === 1 && readers[0].op === 'batchNorm' && !graph.outputs.includes(layer) ? readers[0] : undefined;
    const mean = bn?.params.movingMean === undefined ? undefined : graph.params.get(bn.params.movingMean);
    if (mean) slot = { param: mean, sign: -1 };
  }
  if (!slot) return `'${layer}' has no bias and no batch norm after it; not bias-corrected`;
  if (slot.param.quant || slot.param.codebook || slot.param.mask) return `'${slot.param.name}' is quantized, shared or masked; not bias-corrected`;
  return slot;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/**
 * Prune channel groups layer by layer: pick the channels to remove (ThiNet's greedy
 * reconstruction criterion, smallest filter L1 norm, or at random), rescale the kept ones by
 * least squares (ThiNet), and remove them from every coupled param (bias, batch norm, the next
 * layers' input rows, through flatten and add). Edits `graph` in place.
 */
export async function pruneChannels(graph: Graph, method: Method, options: ChannelPruneOptions, env: PruneEnv = {}, who = pluginName(method)): Promise<PruneReport> {
  const o = { ...defaultsFor(method), ...options };
  const { plan, skipped } = planLayers(graph, o, who);
  if ((o.finetune || o.finetuneBetween) && !env.finetune) throw new Error(`${who}: fine-tuning was asked for, and no training data was given`);
  if (method === 'thinet' && !env.calibration) throw new Error(`${who}: needs calibration data (a few images per class)`);
  if (o.biasCorrection && !env.calibration) throw new Error(`${who}: biasCorrection needs calibration data`);
  const seed = o.seed ?? 1;
  const calib = env.calibration ? pickCalibration(env.calibration, o.imagesPerClass ?? 20, seed) : undefined;
  if (calib?.count === 0) throw new Error(`${who}: the calibration set is empty`);
  const before = cost(graph).totals;
  let reference = o.target === 'original' && calib ? cloneGraph(graph) : undefined;
  const report: PruneReport = { method, layers: [], skipped, macsBefore: before.macs, macsAfter: before.macs, paramsBefore: before.params, paramsAfter: before.params, calibrationImages: calib?.count ?? 0 };
  for (const [index, entry] of plan.entries()) {
    const group = groupOf(graph, entry.producers[0]);
    const remove = Math.min(Math.round(group.size * entry.ratio), group.size - 1);
    if (remove <= 0) {
      skipped.push({ layer: group.id, reason: `ratio ${entry.ratio} removes no channel of ${group.size}` });
      continue;
    }
    const layerSeed = seed + 7919 * (index + 1);
    let grams: ConsumerGram[] | undefined;
    try {
      if (calib) grams = contributionGrams(graph, group, calib, { samplesPerImage: o.samplesPerImage ?? 10, seed: layerSeed, means: o.biasCorrection }, reference);
    } catch (e) {
      if (!(e instanceof UnsupportedConsumer)) throw e;
      // The baselines can choose without contributions; ThiNet and bias correction cannot.
      if (method === 'thinet' || o.biasCorrection) {
        skipped.push({ layer: group.id, reason: e.message });
        continue;
      }
    }
    const removed = chooseRemoved(method, graph, group, remove, grams, layerSeed);
    const gone = new Set(removed);
    const kept = [...Array(group.size).keys()].filter((c) => !gone.has(c));
    const consumers = (grams ?? []).map((g) => compensate(graph, group, g, kept, method === 'thinet' && o.leastSquares !== false, o.biasCorrection === true));
    removeChannels(graph, group, kept);
    const row: LayerReport = { layer: group.id, producers: group.producers, channelsBefore: group.size, channelsAfter: kept.length, removed, consumers };
    if (consumers.length) row.reconstructionError = mean(consumers.map((c) => c.error));
    if (consumers.some((c) => c.errorLS !== undefined)) row.reconstructionErrorLS = mean(consumers.map((c) => c.errorLS ?? c.error));
    report.layers.push(row);
    env.log?.(describeLayer(row));
    if (o.finetuneBetween && index < plan.length - 1 && o.finetuneBetween.epochs > 0) {
      env.log?.(`fine-tuning ${o.finetuneBetween.epochs} epoch(s) after '${group.id}'`);
      await env.finetune?.(graph, o.finetuneBetween);
      // The fine-tuned layers downstream no longer match the old reference: follow the fine-tuned model.
      if (reference) reference = cloneGraph(graph);
    }
  }
  if (o.finetune && o.finetune.epochs > 0) {
    env.log?.(`final fine-tune: ${o.finetune.epochs} epoch(s)`);
    await env.finetune?.(graph, o.finetune);
  }
  const after = cost(graph).totals;
  Object.assign(report, { macsAfter: after.macs, paramsAfter: after.params });
  return report;
}

/** ThiNet reconstructs the unpruned model's response and corrects the bias by default; the baselines are the published methods. */
export function defaultsFor(method: Method): Pick<ChannelPruneOptions, 'target' | 'biasCorrection' | 'leastSquares'> {
  return method === 'thinet' ? { target: 'original', biasCorrection: true, leastSquares: true } : { target: 'current', biasCorrection: false };
}

/** The channels to remove, by the method's criterion. */
function chooseRemoved(method: Method, graph: Graph, group: ChannelGroup, remove: number, grams: ConsumerGram[] | undefined, seed: number): number[] {
  if (method === 'l1norm') return smallest(l1Scores(graph, group), remove);
  if (method === 'random') return [...shuffle(Int32Array.from({ length: group.size }, (_, i) => i), rng(seed))].slice(0, remove);
  const { g, target } = combined(grams as ConsumerGram[], group.size);
  return greedyRemove(g, group.size, remove, target);
}

/**
 * Measure the reconstruction error of one next layer and repair it: least-squares scales on the
 * kept channels' input rows, then the mean shift into its bias (each when asked).
 */
function compensate(graph: Graph, group: ChannelGroup, g: ConsumerGram, kept: number[], leastSquares: boolean, biasCorrection: boolean): ConsumerReport {
  const target = targetOf(g, group.size);
  const r: ConsumerReport = { consumer: g.consumer, error: reconstructionError(g.gram, group.size, kept, undefined, target) };
  const notes: string[] = [];
  let w: Float64Array = new Float64Array(kept.length).fill(1);
  if (leastSquares) {
    const fitted = fitScales(g.gram, group.size, kept, target);
    const note = foldScales(graph, group, g.consumer, kept, fitted);
    if (note) notes.push(note);
    else [w, r.errorLS] = [fitted, reconstructionError(g.gram, group.size, kept, fitted, target)];
  }
  if (biasCorrection) {
    const note = correctBias(graph, g, group.size, kept, w);
    if (note) notes.push(note);
  }
  if (notes.length) r.note = notes.join('; ');
  return r;
}

export function pluginName(method: Method): string {
  return method === 'thinet' ? 'thinet' : `thinet.${method}`;
}

const fmt = (x: number) => (x < 1e-3 && x > 0 ? x.toExponential(2) : x.toFixed(4));

/** One line per layer for logs and notes. */
export function describeLayer(r: LayerReport): string {
  let s = `${r.layer}: ${r.channelsBefore} -> ${r.channelsAfter} channels`;
  if (r.reconstructionError !== undefined) s += `, reconstruction error ${fmt(r.reconstructionError)}`;
  if (r.reconstructionErrorLS !== undefined) s += ` (after least squares ${fmt(r.reconstructionErrorLS)})`;
  for (const c of r.consumers) if (c.note) s += `; ${c.consumer}: ${c.note}`;
  return s;
}
