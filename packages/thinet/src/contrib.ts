import * as tf from '@tensorflow/tfjs-core';
import { dilation2, getNode, groupOf, inferShapes, rng, strides2, type ChannelGroup, type ChannelSlice, type Graph, type Node } from '@condense/ir';
import { compile } from '@condense/tfjs';
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
  /** Images per forward pass. Default 64. */
  batchSize?: number;
  /** Also compute the mean contributions over every output location (for bias correction). */
  means?: boolean;
}

interface Consumer {
  node: Node;
  slice: ChannelSlice;
  /** Output shape without the batch: [H', W', K] for conv, [K] for dense. */
  out: number[];
  /** 0/1 [inputs, C]: which group channel each consumer input position belongs to. */
  assign: tf.Tensor2D;
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
    if (!ok) throw new UnsupportedConsumer(`next layer '${name}' (${node.op}) is not a conv2d or a dense layer on flat input, so its channel contributions cannot be computed`);
    const assign = new Float32Array(slice.dim * group.size);
    slice.positions.forEach((pos, c) => pos.forEach((p) => (assign[p * group.size + c] = 1)));
    return { node, slice, out: (shapes.get(name) as number[]).slice(1), assign: tf.tensor2d(assign, [slice.dim, group.size]) };
  });
}

/** TF 'same' padding: the smaller half before. */
function pads(size: number, k: number, stride: number, dilation: number, same: boolean): [number, number] {
  if (!same) return [0, 0];
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * x_c at sampled outputs (n, i, j, k) of a conv: sum over the window of W[a, b, c, k] * in[n, i s + a d, j s + b d, c].
 * Patches are gathered at the sampled locations only (gatherND), then weighted by the sampled filters.
 */
function convContributions(node: Node, x: tf.Tensor4D, kernel: tf.Tensor4D, n: Int32Array, i: Int32Array, j: Int32Array, k: Int32Array): tf.Tensor2D {
  const [kh, kw] = kernel.shape;
  const [sh, sw] = strides2(node.attrs);
  const [dh, dw] = dilation2(node.attrs);
  const same = node.attrs.padding === 'same';
  const xp = tf.pad(x, [[0, 0], pads(x.shape[1], kh, sh, dh, same), pads(x.shape[2], kw, sw, dw, same), [0, 0]]);
  const s = n.length;
  const idx = new Int32Array(s * kh * kw * 3);
  for (let t = 0, o = 0; t < s; t++) {
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++, o += 3) {
        idx[o] = n[t];
        idx[o + 1] = i[t] * sh + a * dh;
        idx[o + 2] = j[t] * sw + b * dw;
      }
    }
  }
  const patches = tf.gatherND(xp, tf.tensor4d(idx, [s, kh, kw, 3], 'int32')); // [S, kh, kw, Cin]
  const filters = tf.gather(tf.transpose(kernel, [3, 0, 1, 2]), tf.tensor1d(k, 'int32')); // [S, kh, kw, Cin]
  return tf.sum(tf.mul(patches, filters), [1, 2]) as tf.Tensor2D;
}

/** x_f at sampled outputs (n, k) of a dense layer: W[f, k] * in[n, f]. */
function denseContributions(x: tf.Tensor2D, kernel: tf.Tensor2D, n: Int32Array, k: Int32Array): tf.Tensor2D {
  const rows = tf.gather(x, tf.tensor1d(n, 'int32'));
  const cols = tf.gather(tf.transpose(kernel), tf.tensor1d(k, 'int32'));
  return tf.mul(rows, cols);
}

/**
 * Sums over the batch and every output location of each input channel's contribution to each
 * output channel k: [Cin, K] (conv: sum over the window of W[a, b, c, k] times the sum of the
 * input values that window position sees; dense: W[f, k] times the sum of feature f).
 */
function contributionSums(node: Node, x: tf.Tensor, kernel: tf.Tensor, out: number[]): tf.Tensor2D {
  if (node.op !== 'conv2d') return tf.mul(kernel, tf.expandDims(tf.sum(x, 0), 1)) as tf.Tensor2D;
  const k4 = kernel as tf.Tensor4D;
  const x4 = x as tf.Tensor4D;
  const [kh, kw] = k4.shape;
  const [sh, sw] = strides2(node.attrs);
  const [dh, dw] = dilation2(node.attrs);
  const same = node.attrs.padding === 'same';
  const xp = tf.pad(x4, [[0, 0], pads(x4.shape[1], kh, sh, dh, same), pads(x4.shape[2], kw, sw, dw, same), [0, 0]]);
  const [ho, wo] = out;
  const seen: tf.Tensor[] = [];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const win = tf.stridedSlice(xp, [0, a * dh, b * dw, 0], [xp.shape[0], a * dh + (ho - 1) * sh + 1, b * dw + (wo - 1) * sw + 1, xp.shape[3]], [1, sh, sw, 1]);
      seen.push(tf.sum(win, [0, 1, 2]));
    }
  }
  const m = tf.reshape(tf.stack(seen), [kh, kw, -1, 1]); // [kh, kw, Cin, 1]
  return tf.sum(tf.mul(k4, m), [0, 1]) as tf.Tensor2D; // [Cin, K]
}

/** Random output locations, `m` per image of the batch. */
function sampleLocations(out: number[], batch: number, m: number, random: () => number) {
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

type Locations = { n: Int32Array; i: Int32Array; j: Int32Array; k: Int32Array };

/** Per batch and consumer: sums over every output location of the contributions ([C, K]) and of the reference response ([K]). */
interface BatchSums {
  x: tf.Tensor2D;
  t?: tf.Tensor1D;
}

/** A batch of sampled contributions of one consumer: X is [S, C] (samples by group channels); t [S] the reference response, if any. */
type BatchFn = (consumer: number, x: tf.Tensor2D, loc: Locations, start: number, t: tf.Tensor1D | undefined, sums: () => BatchSums) => void;

/** The group channels' contributions [S, C] at the sampled locations of one consumer. */
function contributions(c: Consumer, input: tf.Tensor, kernel: tf.Tensor, loc: Locations): tf.Tensor2D {
  const perInput =
    c.node.op === 'conv2d'
      ? convContributions(c.node, input as tf.Tensor4D, kernel as tf.Tensor4D, loc.n, loc.i, loc.j, loc.k)
      : denseContributions(input as tf.Tensor2D, kernel as tf.Tensor2D, loc.n, loc.k);
  return tf.matMul(perInput, c.assign);
}

/** The same consumer in the reference graph, when its channels still line up with the current one. */
function referenceConsumers(reference: Graph | undefined, group: ChannelGroup, consumers: Consumer[]): (Consumer | undefined)[] {
  if (!reference) return consumers.map(() => undefined);
  let refGroup: ChannelGroup;
  try {
    refGroup = groupOf(reference, group.producers[0]);
    if (refGroup.size !== group.size) return consumers.map(() => undefined);
  } catch {
    return consumers.map(() => undefined);
  }
  let refs: Consumer[];
  try {
    refs = consumersOf(reference, refGroup);
  } catch {
    return consumers.map(() => undefined);
  }
  return consumers.map((c) => {
    const r = refs.find((x) => x.node.name === c.node.name);
    return r && r.out.length === c.out.length && r.out.every((d, i) => d === c.out[i]) ? r : undefined;
  });
}

/** Run the calibration images through the model in batches and hand each consumer's sampled contributions to `fn` (inside a tidy). */
function sampleBatches(graph: Graph, group: ChannelGroup, data: Images, o: GramOptions, fn: BatchFn, reference?: Graph): Consumer[] {
  const consumers = consumersOf(graph, group);
  const refs = referenceConsumers(reference, group, consumers);
  const model = compile(graph);
  const refModel = refs.some(Boolean) ? compile(reference as Graph) : undefined;
  try {
    const example = data.shape.length === model.inputShapes[0].length + 1 ? data.shape.slice(1) : data.shape;
    const size = example.reduce((a, b) => a * b, 1);
    const batchSize = o.batchSize ?? 64;
    const random = rng(o.seed);
    const taps = [...new Set(consumers.map((c) => c.node.inputs[0]))];
    const refTaps = [...new Set(refs.flatMap((c) => (c ? [c.node.inputs[0]] : [])))];
    for (let start = 0; start < data.count; start += batchSize) {
      const b = Math.min(batchSize, data.count - start);
      tf.tidy(() => {
        const x = tf.tensor(data.images.subarray(start * size, (start + b) * size), [b, ...example]);
        const r = model.predict(x, { taps });
        const rr = refModel?.predict(x, { taps: refTaps });
        consumers.forEach((c, t) => {
          const loc = sampleLocations(c.out, b, o.samplesPerImage, random);
          const xs = contributions(c, r.taps[c.node.inputs[0]], model.variables.get(c.node.params.kernel) as tf.Tensor, loc);
          const ref = refs[t];
          const refInput = ref && rr ? rr.taps[ref.node.inputs[0]] : undefined;
          const refKernel = ref ? (refModel?.variables.get(ref.node.params.kernel) as tf.Tensor) : undefined;
          const target = ref && refInput && refKernel ? (tf.sum(contributions(ref, refInput, refKernel, loc), 1) as tf.Tensor1D) : undefined;
          const sums = (): BatchSums => ({
            x: tf.matMul(c.assign, contributionSums(c.node, r.taps[c.node.inputs[0]], model.variables.get(c.node.params.kernel) as tf.Tensor, c.out), true, false),
            t: ref && refInput && refKernel ? (tf.sum(tf.matMul(ref.assign, contributionSums(ref.node, refInput, refKernel, ref.out), true, false), 0) as tf.Tensor1D) : undefined,
          });
          fn(t, xs, loc, start, target, sums);
        });
      });
    }
    return consumers;
  } finally {
    model.dispose();
    refModel?.dispose();
    tf.dispose([...consumers, ...refs].flatMap((c) => (c ? [c.assign] : [])));
  }
}

/**
 * For every next layer of `group`: sample `samplesPerImage` random output locations per image,
 * record each group channel's contribution x_c to that output (summing the consumer's input
 * positions of channel c: one for a conv, H*W through a flatten), and accumulate G = X^T X.
 * With a `reference` graph (the model before pruning), also accumulate h = X^T t and |t|^2 for
 * its response t at the same locations, so that the kept channels can be fitted to the original
 * model's output rather than to the already-pruned one's.
 */
export function contributionGrams(graph: Graph, group: ChannelGroup, data: Images, o: GramOptions, reference?: Graph): ConsumerGram[] {
  const sums = new Map<number, tf.Tensor>();
  const hs = new Map<number, tf.Tensor>();
  const tts = new Map<number, tf.Tensor>();
  const xMeans = new Map<number, tf.Tensor>();
  const tMeans = new Map<number, tf.Tensor>();
  const add = (m: Map<number, tf.Tensor>, t: number, v: tf.Tensor) => {
    const prev = m.get(t);
    m.set(t, tf.keep(prev ? tf.add(prev, v) : v));
    prev?.dispose();
  };
  try {
    const consumers = sampleBatches(
      graph,
      group,
      data,
      o,
      (t, x, _loc, _start, target, batchSums) => {
        add(sums, t, tf.matMul(x, x, true, false));
        if (o.means) {
          const m = batchSums();
          add(xMeans, t, m.x);
          if (m.t) add(tMeans, t, m.t);
        }
        if (!target) return;
        add(hs, t, tf.squeeze(tf.matMul(x, tf.expandDims(target, 1), true, false), [1]));
        add(tts, t, tf.sum(tf.square(target)));
      },
      reference,
    );
    return consumers.map((c, t) => {
      const out: ConsumerGram = { consumer: c.node.name, op: c.node.op, gram: Float64Array.from((sums.get(t) as tf.Tensor).dataSync()), samples: data.count * o.samplesPerImage };
      const h = hs.get(t);
      if (h) out.target = { h: Float64Array.from(h.dataSync()), tt: (tts.get(t) as tf.Tensor).dataSync()[0] };
      const xm = xMeans.get(t);
      if (xm) {
        // Sums over the batch and every output location -> means per image and location.
        const locations = data.count * c.out.slice(0, -1).reduce((a, b) => a * b, 1);
        out.means = { x: Float64Array.from(xm.dataSync(), (v) => v / locations), outputs: c.out.at(-1) as number };
        const tm = tMeans.get(t);
        if (tm) out.means.target = Float64Array.from(tm.dataSync(), (v) => v / locations);
      }
      return out;
    });
  } finally {
    tf.dispose([...sums.values(), ...hs.values(), ...tts.values(), ...xMeans.values(), ...tMeans.values()]);
  }
}

/** The sampled contributions themselves, per consumer (for inspection and tests; keeps every sample in memory). */
export function contributionSamples(graph: Graph, group: ChannelGroup, data: Images, o: GramOptions): { consumer: string; x: Float32Array; samples: number; n: Int32Array; i: Int32Array; j: Int32Array; k: Int32Array }[] {
  const parts: { x: Float32Array; n: Int32Array; i: Int32Array; j: Int32Array; k: Int32Array }[][] = [];
  const consumers = sampleBatches(graph, group, data, o, (t, x, loc, start) => {
    (parts[t] ??= []).push({ x: x.dataSync() as Float32Array, ...loc, n: loc.n.map((v) => v + start) });
  });
  const cat = <T extends Float32Array | Int32Array>(xs: T[], make: (n: number) => T): T => {
    const out = make(xs.reduce((a, b) => a + b.length, 0));
    let at = 0;
    for (const x of xs) {
      out.set(x, at);
      at += x.length;
    }
    return out;
  };
  return consumers.map((c, t) => {
    const p = parts[t] ?? [];
    const f32 = (n: number) => new Float32Array(n);
    const i32 = (n: number) => new Int32Array(n);
    return {
      consumer: c.node.name,
      x: cat(p.map((q) => q.x), f32),
      samples: p.reduce((a, q) => a + q.n.length, 0),
      n: cat(p.map((q) => q.n), i32),
      i: cat(p.map((q) => q.i), i32),
      j: cat(p.map((q) => q.j), i32),
      k: cat(p.map((q) => q.k), i32),
    };
  });
}
