/**
 * Each group channel's contribution to the next layers' outputs, sampled at random output
 * locations. The next layers' inputs come from @condense/core's layer pass (one forward pass
 * taken a layer at a time, shared by every group of a run), so nothing here runs a model.
 */
import { convWindow, patchSums, type LayerPass, type NodeValue } from '@condense/core';
import {
  dilation2,
  getNode,
  groupOf,
  inferShapes,
  rng,
  strides2,
  topoSort,
  type ChannelGroup,
  type ChannelSlice,
  type Graph,
  type Node,
  type Padding,
} from '@condense/ir';
import { selfTarget, type Target } from './math.js';

/** Images to run through the model: NHWC float32, `shape` per example or `[count, ...example]`. */
export interface Images {
  images: Float32Array;
  count: number;
  shape: readonly number[];
}

/** The Gram matrix of the channel contributions at one next layer (a consumer of the group). */
export interface ConsumerGram {
  consumer: string;
  op: string;
  /** C x C, C = the group's channel count. */
  gram: Float64Array;
  samples: number;
  /** The reference model's response at the same samples (h = X^T t, |t|^2), when one was given. */
  target?: Target;
  /**
   * With `means`: each group channel's mean contribution to each output channel k over all
   * images and locations (`x`, C x K row-major), and the reference response's mean per k.
   */
  means?: { x: Float64Array; outputs: number; target?: Float64Array };
}

/** What the kept channels reconstruct at a consumer: the reference response, else the layer's own output y = X 1. */
export const targetOf = (c: ConsumerGram, channels: number): Target => c.target ?? selfTarget(c.gram, channels);

/** A consumer whose contributions cannot be computed (an op other than conv2d / dense). */
export class UnsupportedConsumer extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedConsumer';
  }
}

export interface GramOptions {
  /** Random output locations sampled per image (the paper: 10). */
  samplesPerImage: number;
  seed: number;
  /** Also compute the mean contributions over every output location (for bias correction). */
  means?: boolean;
}

/** Where a group's contributions are sampled from: a graph and a layer pass over the calibration images on it. */
export interface GroupSource {
  graph: Graph;
  pass: LayerPass;
  /** The model whose response the kept channels reconstruct ('original' target), with its own pass over the same images. */
  reference?: { graph: Graph; pass: LayerPass };
}

interface Consumer {
  node: Node;
  /** Output shape without the batch: [H', W', K] for conv, [K] for dense. */
  out: number[];
  /** Per consumer input position on the sliced axis: the group channel it belongs to, or -1. */
  owner: Int32Array;
  /** Row-major kernel: conv HWIO, dense [F, K]. */
  kernel: Float32Array;
  kernelShape: number[];
}

/** The consumers of a group whose contributions we can compute; throws UnsupportedConsumer otherwise. */
function consumersOf(graph: Graph, group: ChannelGroup): Consumer[] {
  const shapes = inferShapes(graph);
  if (group.consumers.length === 0) throw new UnsupportedConsumer(`group '${group.id}' has no next layer (conv2d or dense) reading its channels`);
  return group.consumers.map((name) => {
    const node = getNode(graph, name);
    const slice = group.slices.find((s) => s.node === name && s.kind === 'in' && s.role === 'kernel');
    const inRank = (shapes.get(node.inputs[0]) as unknown[]).length;
    const ok = slice && ((node.op === 'conv2d' && slice.axis === 2 && inRank === 4) || (node.op === 'dense' && slice.axis === 0 && inRank === 2));
    if (!ok)
      throw new UnsupportedConsumer(
        `next layer '${name}' (${node.op}) is not a conv2d or a dense layer on flat input, so its channel contributions cannot be computed`,
      );
    const kernel = graph.params.get(slice.param) as { data: Float32Array; shape: number[] };
    return { node, out: (shapes.get(name) as number[]).slice(1), owner: ownerOf(slice), kernel: kernel.data, kernelShape: kernel.shape };
  });
}

function ownerOf(slice: ChannelSlice): Int32Array {
  const owner = new Int32Array(slice.dim).fill(-1);
  slice.positions.forEach((pos, c) => pos.forEach((p) => (owner[p] = c)));
  return owner;
}

/** A conv consumer's window, as @condense/core's patch geometry reads it. */
function windowOf(c: Consumer) {
  return {
    name: c.node.name,
    kernel: c.kernelShape.slice(0, 2),
    strides: strides2(c.node.attrs),
    dilation: dilation2(c.node.attrs),
    padding: (c.node.attrs.padding as Padding | undefined) ?? 'valid',
  };
}

type Locations = { n: Int32Array; i: Int32Array; j: Int32Array; k: Int32Array };

/** Random output locations, `m` per image of the batch. */
function sampleLocations(out: number[], batch: number, m: number, random: () => number): Locations {
  const s = batch * m;
  const [n, i, j, k] = [new Int32Array(s), new Int32Array(s), new Int32Array(s), new Int32Array(s)];
  const pick = (d: number) => Math.min(d - 1, Math.floor(random() * d));
  for (let t = 0; t < s; t++) {
    n[t] = Math.floor(t / m);
    if (out.length === 3) {
      i[t] = pick(out[0]);
      j[t] = pick(out[1]);
    }
    k[t] = pick(out.at(-1) as number);
  }
  return { n, i, j, k };
}

/**
 * The group channels' contributions X [S, C] at the sampled locations. Conv: x_p = sum over the
 * window of W[a, b, p, k] * in[n, i s + a d - top, j s + b d - left, p] (0 in the padding);
 * dense: x_f = W[f, k] * in[n, f]; X[s, c] sums the consumer input positions of channel c.
 */
function contributions(c: Consumer, input: NodeValue, loc: Locations, channels: number): Float64Array {
  const S = loc.n.length;
  const x = new Float64Array(S * channels);
  const { kernel, owner } = c;
  const K = c.kernelShape.at(-1) as number;
  if (c.node.op === 'dense') {
    const F = c.kernelShape[0];
    for (let s = 0; s < S; s++) {
      const [row, k] = [loc.n[s] * F, loc.k[s]];
      for (let f = 0; f < F; f++) if (owner[f] >= 0) x[s * channels + owner[f]] += kernel[f * K + k] * input.values[row + f];
    }
    return x;
  }
  const [, H, W, Cin] = input.shape;
  const win = windowOf(c);
  const [kh, kw] = c.kernelShape;
  const [sh, sw] = win.strides;
  const [dh, dw] = win.dilation;
  const { top, left } = convWindow(win, H, W);
  for (let s = 0; s < S; s++) {
    const k = loc.k[s];
    for (let a = 0; a < kh; a++) {
      const iy = loc.i[s] * sh + a * dh - top;
      if (iy < 0 || iy >= H) continue;
      for (let b = 0; b < kw; b++) {
        const ix = loc.j[s] * sw + b * dw - left;
        if (ix < 0 || ix >= W) continue;
        const at = ((loc.n[s] * H + iy) * W + ix) * Cin;
        const w0 = (a * kw + b) * Cin;
        for (let p = 0; p < Cin; p++) if (owner[p] >= 0) x[s * channels + owner[p]] += kernel[(w0 + p) * K + k] * input.values[at + p];
      }
    }
  }
  return x;
}

/**
 * Sums over the images and every output location of the consumer's input as each kernel row
 * sees it (conv: the patch sums; dense: the column sums), accumulated over batches.
 */
function addInputSums(c: Consumer, input: NodeValue, into: Float64Array | undefined): Float64Array {
  if (c.node.op === 'conv2d') return patchSums(windowOf(c), input.values, input.shape, into);
  const F = c.kernelShape[0];
  const sums = into ?? new Float64Array(F);
  for (let r = 0; r < input.values.length / F; r++) for (let f = 0; f < F; f++) sums[f] += input.values[r * F + f];
  return sums;
}

/** Mean contribution of each group channel to each output channel, C x K, from the input sums over `locations`. */
function meanContributions(c: Consumer, sums: Float64Array, channels: number, locations: number): Float64Array {
  const K = c.kernelShape.at(-1) as number;
  const rows = c.kernelShape.slice(0, -1).reduce((a, b) => a * b, 1);
  const cin = c.owner.length;
  const x = new Float64Array(channels * K);
  // Kernel row r reads input position r % cin (conv: rows are (a, b, p); dense: rows are f).
  for (let r = 0; r < rows; r++) {
    const ch = c.owner[r % cin];
    if (ch < 0 || sums[r] === 0) continue;
    for (let k = 0; k < K; k++) x[ch * K + k] += (c.kernel[r * K + k] * sums[r]) / locations;
  }
  return x;
}

/** The same consumer in the reference graph, when its channels still line up with the current one. */
function referenceConsumers(reference: Graph | undefined, group: ChannelGroup, consumers: Consumer[]): (Consumer | undefined)[] {
  if (!reference) return consumers.map(() => undefined);
  let refs: Consumer[];
  try {
    const refGroup = groupOf(reference, group.producers[0]);
    if (refGroup.size !== group.size) return consumers.map(() => undefined);
    refs = consumersOf(reference, refGroup);
  } catch {
    return consumers.map(() => undefined);
  }
  return consumers.map((c) => {
    const r = refs.find((x) => x.node.name === c.node.name);
    return r && r.out.length === c.out.length && r.out.every((d, i) => d === c.out[i]) ? r : undefined;
  });
}

/** The group's first producer in topological order: every node its removal changes comes at or after it. */
export function groupCut(graph: Graph, group: ChannelGroup): string {
  const producers = new Set(group.producers);
  return (topoSort(graph).find((n) => producers.has(n.name)) as Node).name;
}

/** A batch of sampled contributions of one consumer: X [S, C] row-major; t [S] the reference response, if any. */
type BatchFn = (consumer: number, x: Float64Array, loc: Locations, start: number, t: Float64Array | undefined, inputs: BatchInputs) => void;

/** The batch's input of one consumer, and of its counterpart in the reference. */
interface BatchInputs {
  consumer: Consumer;
  x: NodeValue;
  reference?: { consumer: Consumer; x: NodeValue };
}

/** Move both passes to the group and hand each batch's sampled contributions of every consumer to `fn`. */
async function sampleBatches(
  group: ChannelGroup,
  source: GroupSource,
  o: GramOptions,
  fn: BatchFn,
): Promise<{ consumers: Consumer[]; refs: (Consumer | undefined)[] }> {
  const consumers = consumersOf(source.graph, group);
  const refs = referenceConsumers(source.reference?.graph, group, consumers);
  const cut = groupCut(source.graph, group);
  await source.pass.advance(cut);
  const taps = [...new Set(consumers.map((c) => c.node.inputs[0]))];
  const refTaps = [...new Set(refs.flatMap((c) => (c ? [c.node.inputs[0]] : [])))];
  const ref = refTaps.length ? source.reference : undefined;
  if (ref) await ref.pass.advance(cut);
  const refBatches = ref?.pass.values(refTaps);
  // One random stream per consumer (the first one's is the group's seed), so the sampled
  // locations do not depend on how the pass batches the images.
  const randoms = consumers.map((_, t) => rng(t === 0 ? o.seed : (o.seed ^ Math.imul(0x9e3779b9, t)) >>> 0));
  let start = 0;
  try {
    for await (const batch of source.pass.values(taps)) {
      const rb = (await refBatches?.next())?.value as Map<string, NodeValue> | undefined;
      const b = (batch.get(taps[0]) as NodeValue).shape[0];
      consumers.forEach((c, t) => {
        const loc = sampleLocations(c.out, b, o.samplesPerImage, randoms[t]);
        const input = batch.get(c.node.inputs[0]) as NodeValue;
        const x = contributions(c, input, loc, group.size);
        const r = refs[t];
        const refInput = r && rb ? (rb.get(r.node.inputs[0]) as NodeValue) : undefined;
        const target = r && refInput ? rowSums(contributions(r, refInput, loc, group.size), group.size) : undefined;
        fn(t, x, loc, start, target, { consumer: c, x: input, ...(r && refInput ? { reference: { consumer: r, x: refInput } } : {}) });
      });
      start += b;
    }
    // Let the reference's values run to their end: a frozen pass keeps what it computed only then.
    await refBatches?.next();
  } finally {
    await refBatches?.return(undefined);
  }
  return { consumers, refs };
}

function rowSums(x: Float64Array, channels: number): Float64Array {
  const out = new Float64Array(x.length / channels);
  for (let s = 0; s < out.length; s++) for (let c = 0; c < channels; c++) out[s] += x[s * channels + c];
  return out;
}

/** Accumulate G += X^T X (upper triangle, mirrored at the end by the caller). */
function addGram(g: Float64Array, x: Float64Array, channels: number): void {
  const S = x.length / channels;
  for (let s = 0; s < S; s++) {
    const row = s * channels;
    for (let a = 0; a < channels; a++) {
      const v = x[row + a];
      if (v === 0) continue;
      for (let b = a; b < channels; b++) g[a * channels + b] += v * x[row + b];
    }
  }
}

/**
 * For every next layer of `group`: sample `samplesPerImage` random output locations per image,
 * record each group channel's contribution x_c to that output (summing the consumer's input
 * positions of channel c: one for a conv, H*W through a flatten), and accumulate G = X^T X.
 * With a reference (the model before pruning), also accumulate h = X^T t and |t|^2 for its
 * response t at the same locations, so that the kept channels can be fitted to the original
 * model's output rather than to the already-pruned one's. The passes move to the group's first
 * producer (see `LayerPass.advance`).
 */
export async function contributionGrams(group: ChannelGroup, source: GroupSource, o: GramOptions): Promise<ConsumerGram[]> {
  const C = group.size;
  const grams: Float64Array[] = [];
  const targets: { h: Float64Array; tt: number }[] = [];
  const sums: (Float64Array | undefined)[] = [];
  const refSums: (Float64Array | undefined)[] = [];
  let count = 0;
  const { consumers, refs } = await sampleBatches(group, source, o, (t, x, _loc, start, target, inputs) => {
    addGram((grams[t] ??= new Float64Array(C * C)), x, C);
    if (t === 0) count = start + inputs.x.shape[0];
    if (o.means) {
      sums[t] = addInputSums(inputs.consumer, inputs.x, sums[t]);
      if (inputs.reference) refSums[t] = addInputSums(inputs.reference.consumer, inputs.reference.x, refSums[t]);
    }
    if (!target) return;
    const acc = (targets[t] ??= { h: new Float64Array(C), tt: 0 });
    for (let s = 0; s < target.length; s++) {
      acc.tt += target[s] ** 2;
      for (let c = 0; c < C; c++) acc.h[c] += x[s * C + c] * target[s];
    }
  });
  return consumers.map((c, t) => {
    const gram = grams[t] ?? new Float64Array(C * C);
    for (let a = 0; a < C; a++) for (let b = a + 1; b < C; b++) gram[b * C + a] = gram[a * C + b];
    const out: ConsumerGram = { consumer: c.node.name, op: c.node.op, gram, samples: count * o.samplesPerImage };
    if (targets[t]) out.target = targets[t];
    const s = sums[t];
    if (s) {
      // Sums over the images and every output location -> means per image and location.
      const locations = count * c.out.slice(0, -1).reduce((a, b) => a * b, 1);
      out.means = { x: meanContributions(c, s, C, locations), outputs: c.out.at(-1) as number };
      const rs = refSums[t];
      const r = refs[t];
      if (rs && r) out.means.target = rowSumsByOutput(meanContributions(r, rs, C, locations), C, c.out.at(-1) as number);
    }
    return out;
  });
}

/** Sum over the C group channels of a C x K matrix: one value per output channel. */
function rowSumsByOutput(x: Float64Array, channels: number, outputs: number): Float64Array {
  const out = new Float64Array(outputs);
  for (let c = 0; c < channels; c++) for (let k = 0; k < outputs; k++) out[k] += x[c * outputs + k];
  return out;
}

/** The sampled contributions themselves, per consumer (for inspection and tests; keeps every sample in memory). */
export async function contributionSamples(
  group: ChannelGroup,
  source: GroupSource,
  o: GramOptions,
): Promise<{ consumer: string; x: Float64Array; samples: number; n: Int32Array; i: Int32Array; j: Int32Array; k: Int32Array }[]> {
  const parts: { x: Float64Array; loc: Locations; start: number }[][] = [];
  const { consumers } = await sampleBatches(group, source, o, (t, x, loc, start) => (parts[t] ??= []).push({ x, loc, start }));
  const cat = <T extends Float64Array | Int32Array>(xs: T[], make: (n: number) => T): T => {
    const out = make(xs.reduce((a, b) => a + b.length, 0));
    let at = 0;
    for (const x of xs) {
      out.set(x, at);
      at += x.length;
    }
    return out;
  };
  const i32 = (n: number) => new Int32Array(n);
  return consumers.map((c, t) => {
    const p = parts[t] ?? [];
    return {
      consumer: c.node.name,
      x: cat(
        p.map((q) => q.x),
        (n) => new Float64Array(n),
      ),
      samples: p.reduce((a, q) => a + q.loc.n.length, 0),
      n: cat(
        p.map((q) => q.loc.n.map((v) => v + q.start)),
        i32,
      ),
      i: cat(
        p.map((q) => q.loc.i),
        i32,
      ),
      j: cat(
        p.map((q) => q.loc.j),
        i32,
      ),
      k: cat(
        p.map((q) => q.loc.k),
        i32,
      ),
    };
  });
}
