import { convWindow, type ConvWindow } from '@condense/core';
import { rng } from '@condense/ir';
import { ReconstructError } from './errors.js';
import { kernelBlocks, type KernelBlocks, type LayerSpec } from './layout.js';

/**
 * A layer's input statistics over a calibration set, per kernel block (see `kernelBlocks`):
 * the second moments H_b = X_b^T X_b and the sums X_b^T 1, where X_b has one row per output
 * position of one example (dense: every row of the input; conv: the im2col patch of every output
 * pixel, padding zeros included) and one column per kernel row. Accumulated in float64, one
 * batch at a time, so calibration data streams with bounded memory.
 */
export interface LayerStats {
  readonly spec: LayerSpec;
  readonly blocks: KernelBlocks;
  /** Per block: H_b, rows x rows, row-major, symmetric. Not normalised: divide by `rows` for the mean. */
  readonly hessians: Float64Array[];
  /** Per block: the column sums of X_b. */
  readonly sums: Float64Array[];
  /** Rows of X seen: examples x output positions. */
  rows: number;
  examples: number;
  batches: number;
  /** Time spent accumulating, in milliseconds. */
  ms: number;
  /** Convolutions: the output positions used per example, when not all (see `StatsOptions`). */
  readonly sample?: { positions: number; random: () => number };
}

export interface StatsReport {
  layer: string;
  op: string;
  blocks: number;
  /** Size of each block's H (its kernel rows). */
  size: number;
  rows: number;
  examples: number;
  /** Bytes the statistics hold (H and sums, float64) plus the patch buffer. */
  bytes: number;
  ms: number;
}

/** Patch rows gathered before one Gram update: large enough to amortise the H sweep, small enough for cache. */
const CHUNK = 128;

export interface StatsOptions {
  /**
   * Convolutions: at most this many output positions (rows of X) per example, a seeded random
   * subset of each example's, so that H is estimated from fewer rows at a fraction of the cost
   * (it grows with rows x kernel rows^2). Default: every position.
   */
  positions?: number;
  /** Seed of the subsets (default 1). */
  seed?: number;
}

export function createStats(spec: LayerSpec, options: StatsOptions = {}): LayerStats {
  const blocks = kernelBlocks(spec);
  const k = blocks.rows;
  const { positions, seed = 1 } = options;
  if (positions !== undefined && !(Number.isInteger(positions) && positions >= 1))
    throw new ReconstructError(`layer '${spec.name}': 'positions' must be a positive integer, got ${positions}`);
  return {
    spec,
    blocks,
    hessians: Array.from({ length: blocks.count }, () => new Float64Array(k * k)),
    sums: Array.from({ length: blocks.count }, () => new Float64Array(k)),
    rows: 0,
    examples: 0,
    batches: 0,
    ms: 0,
    ...(positions !== undefined ? { sample: { positions, random: rng(seed) } } : {}),
  };
}

/** Each example's output positions to use, ascending: all of them, or a random subset of `p`. */
function positionsOf(stats: LayerStats, examples: number, all: number): Int32Array[] {
  const p = Math.min(all, stats.sample?.positions ?? all);
  const every = Int32Array.from({ length: all }, (_, i) => i);
  if (p === all) return Array.from({ length: examples }, () => every);
  const random = (stats.sample as { random: () => number }).random;
  return Array.from({ length: examples }, () => {
    const idx = every.slice();
    for (let t = 0; t < p; t++) {
      const j = t + Math.floor(random() * (all - t));
      [idx[t], idx[j]] = [idx[j], idx[t]];
    }
    return idx.subarray(0, p).sort();
  });
}

export function statsReport(stats: LayerStats): StatsReport {
  const { blocks } = stats;
  const k = blocks.rows;
  return {
    layer: stats.spec.name,
    op: stats.spec.op,
    blocks: blocks.count,
    size: k,
    rows: stats.rows,
    examples: stats.examples,
    bytes: 8 * blocks.count * (k * k + k) + 2 * 8 * k * CHUNK,
    ms: stats.ms,
  };
}

/** The mean input row of block b (the mean patch, for convolutions). */
export function inputMean(stats: Pick<LayerStats, 'sums' | 'rows'>, b: number): Float64Array {
  const n = stats.rows || 1;
  return stats.sums[b].map((v) => v / n);
}

/**
 * Gathers rows of X_b transposed (kernel row a, sample r at a * CHUNK + r) and folds them into
 * H_b's upper triangle and the sums every CHUNK rows.
 */
class GramChunk {
  readonly pt: Float64Array;
  /** The live rows of the chunk, compacted: row i (of `used` samples) at i * used. */
  private readonly q: Float64Array;
  used = 0;

  constructor(readonly k: number) {
    this.pt = new Float64Array(k * CHUNK);
    this.q = new Float64Array(k * CHUNK);
  }

  /** Call after writing column `used`; folds a full chunk into (h, sum). */
  next(h: Float64Array, sum: Float64Array): void {
    if (++this.used === CHUNK) this.flush(h, sum);
  }

  /**
   * H += P P^T over the live rows (inputs not all 0 in the chunk), in 4 x 4 tiles of H: eight
   * loads for sixteen products, what keeps a JS inner loop busy. Tiles on the diagonal also
   * write below it; the caller mirrors the upper triangle over it.
   */
  flush(h: Float64Array, sum: Float64Array): void {
    const { k, pt, q, used } = this;
    if (used === 0) return;
    const live: number[] = [];
    for (let a = 0; a < k; a++) {
      let s = 0;
      let nz = false;
      for (let r = a * CHUNK, end = r + used; r < end; r++) {
        s += pt[r];
        nz ||= pt[r] !== 0;
      }
      sum[a] += s;
      if (!nz) continue;
      q.set(pt.subarray(a * CHUNK, a * CHUNK + used), live.length * used);
      live.push(a);
    }
    const n = live.length;
    const tiles = n - (n % 4);
    for (let i = 0; i < tiles; i += 4) {
      for (let j = i; j < tiles; j += 4) tile4x4(q, used, i, j, h, k, live);
      for (let j = tiles; j < n; j++) tile4x1(q, used, i, j, h, k, live);
    }
    for (let i = tiles; i < n; i++) {
      for (let j = i; j < n; j++) {
        let d = 0;
        for (let r = 0, a = i * used, b = j * used; r < used; r++) d += q[a + r] * q[b + r];
        h[live[i] * k + live[j]] += d;
      }
    }
    this.used = 0;
  }
}

/** H[live[i..i+3], live[j..j+3]] += the products of compacted rows i..i+3 and j..j+3. */
function tile4x4(q: Float64Array, used: number, i: number, j: number, h: Float64Array, k: number, live: number[]): void {
  const [a0, a1, a2, a3] = [i * used, (i + 1) * used, (i + 2) * used, (i + 3) * used];
  const [b0, b1, b2, b3] = [j * used, (j + 1) * used, (j + 2) * used, (j + 3) * used];
  let s00 = 0,
    s01 = 0,
    s02 = 0,
    s03 = 0,
    s10 = 0,
    s11 = 0,
    s12 = 0,
    s13 = 0;
  let s20 = 0,
    s21 = 0,
    s22 = 0,
    s23 = 0,
    s30 = 0,
    s31 = 0,
    s32 = 0,
    s33 = 0;
  for (let r = 0; r < used; r++) {
    const x0 = q[a0 + r],
      x1 = q[a1 + r],
      x2 = q[a2 + r],
      x3 = q[a3 + r];
    const y0 = q[b0 + r],
      y1 = q[b1 + r],
      y2 = q[b2 + r],
      y3 = q[b3 + r];
    s00 += x0 * y0;
    s01 += x0 * y1;
    s02 += x0 * y2;
    s03 += x0 * y3;
    s10 += x1 * y0;
    s11 += x1 * y1;
    s12 += x1 * y2;
    s13 += x1 * y3;
    s20 += x2 * y0;
    s21 += x2 * y1;
    s22 += x2 * y2;
    s23 += x2 * y3;
    s30 += x3 * y0;
    s31 += x3 * y1;
    s32 += x3 * y2;
    s33 += x3 * y3;
  }
  const [c0, c1, c2, c3] = [live[j], live[j + 1], live[j + 2], live[j + 3]];
  let o = live[i] * k;
  h[o + c0] += s00;
  h[o + c1] += s01;
  h[o + c2] += s02;
  h[o + c3] += s03;
  o = live[i + 1] * k;
  h[o + c0] += s10;
  h[o + c1] += s11;
  h[o + c2] += s12;
  h[o + c3] += s13;
  o = live[i + 2] * k;
  h[o + c0] += s20;
  h[o + c1] += s21;
  h[o + c2] += s22;
  h[o + c3] += s23;
  o = live[i + 3] * k;
  h[o + c0] += s30;
  h[o + c1] += s31;
  h[o + c2] += s32;
  h[o + c3] += s33;
}

/** H[live[i..i+3], live[j]] += the products of compacted rows i..i+3 and row j. */
function tile4x1(q: Float64Array, used: number, i: number, j: number, h: Float64Array, k: number, live: number[]): void {
  const b = j * used;
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  for (let r = 0, a = i * used; r < used; r++) {
    const y = q[b + r];
    s0 += q[a + r] * y;
    s1 += q[a + used + r] * y;
    s2 += q[a + 2 * used + r] * y;
    s3 += q[a + 3 * used + r] * y;
  }
  const c = live[j];
  h[live[i] * k + c] += s0;
  h[live[i + 1] * k + c] += s1;
  h[live[i + 2] * k + c] += s2;
  h[live[i + 3] * k + c] += s3;
}

function mirrorUpper(h: Float64Array, k: number): void {
  for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) h[b * k + a] = h[a * k + b];
}

/**
 * Fold one batch of the layer's input into the statistics. `shape` includes the batch: dense
 * [..., in] (every leading position is a row), convolutions NHWC [n, h, w, channels].
 */
export function accumulate(stats: LayerStats, input: ArrayLike<number>, shape: readonly number[]): void {
  const t0 = performance.now();
  const where = `layer '${stats.spec.name}'`;
  const size = shape.reduce((a, b) => a * b, 1);
  if (input.length !== size) throw new ReconstructError(`${where}: input has ${input.length} values, shape [${shape.join(', ')}] needs ${size}`);
  const rows = stats.spec.op === 'dense' ? accumulateDense(stats, input, shape, where) : accumulateConv(stats, input, shape, where);
  for (const h of stats.hessians) mirrorUpper(h, stats.blocks.rows);
  stats.rows += rows;
  stats.examples += shape[0];
  stats.batches++;
  stats.ms += performance.now() - t0;
}

function accumulateDense(stats: LayerStats, x: ArrayLike<number>, shape: readonly number[], where: string): number {
  const k = stats.blocks.rows;
  if (shape.length < 2 || shape[shape.length - 1] !== k) throw new ReconstructError(`${where}: a dense input must be [..., ${k}], got [${shape.join(', ')}]`);
  const n = x.length / k;
  const chunk = new GramChunk(k);
  const [h, sum] = [stats.hessians[0], stats.sums[0]];
  for (let s = 0; s < n; s++) {
    for (let a = 0; a < k; a++) chunk.pt[a * CHUNK + chunk.used] = x[s * k + a];
    chunk.next(h, sum);
  }
  chunk.flush(h, sum);
  return n;
}

/** The window of a convolution layer, as @condense/core's patch geometry reads it. */
export const windowOf = (spec: LayerSpec): ConvWindow => ({
  name: spec.name,
  kernel: [spec.kernelShape[0], spec.kernelShape[1]],
  strides: spec.strides,
  dilation: spec.dilation,
  padding: spec.padding,
});

/**
 * im2col, one block at a time: block b reads input channels [b * cin, (b + 1) * cin) (cin = the
 * kernel's input channels per group; 1 for depthwise), and patch row (ky * kw + kx) * cin + ci
 * is the input at tap (ky, kx), channel ci, matching the HWIO kernel's flat row order.
 */
function accumulateConv(stats: LayerStats, x: ArrayLike<number>, shape: readonly number[], where: string): number {
  const { spec, blocks } = stats;
  const [kh, kw, kin] = spec.kernelShape;
  const cin = spec.op === 'depthwiseConv2d' ? 1 : kin;
  const channels = cin * blocks.count;
  if (shape.length !== 4 || shape[3] !== channels)
    throw new ReconstructError(`${where}: a ${spec.op} input must be NHWC [n, h, w, ${channels}], got [${shape.join(', ')}]`);
  const [n, h, w] = shape;
  const { ho, wo, top, left } = convWindow(windowOf(spec), h, w);
  const [sh, sw] = spec.strides ?? [1, 1];
  const [dh, dw] = spec.dilation ?? [1, 1];
  const chunk = new GramChunk(blocks.rows);
  const pt = chunk.pt;
  const chosen = positionsOf(stats, n, ho * wo);
  for (let b = 0; b < blocks.count; b++) {
    const [hb, sum] = [stats.hessians[b], stats.sums[b]];
    const c0 = b * cin;
    for (let e = 0; e < n; e++)
      for (const at of chosen[e]) {
        const [oy, ox] = [Math.floor(at / wo), at % wo];
        const col = chunk.used;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - top + ky * dh;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - left + kx * dw;
            const row = (ky * kw + kx) * cin;
            const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
            const base = ((e * h + iy) * w + ix) * channels + c0;
            for (let ci = 0; ci < cin; ci++) pt[(row + ci) * CHUNK + col] = inside ? x[base + ci] : 0;
          }
        }
        chunk.next(hb, sum);
      }
    chunk.flush(hb, sum);
  }
  return chosen.reduce((a, c) => a + c.length, 0);
}
