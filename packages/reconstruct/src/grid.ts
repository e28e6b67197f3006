import { affineRange, quantRange } from '@condense/ir';
import { ReconstructError } from './errors.js';
import { channelOf, type KernelBlocks } from './layout.js';

/** An affine code format: value = scale * (q - zeroPoint), q an integer of `bits` bits. */
export interface AffineFormat {
  bits: number;
  signed: boolean;
  /** Range [-max|w|, max|w|] (zero point 0 signed, mid-range unsigned) instead of [min, max]. */
  symmetric: boolean;
}

/**
 * Scales and zero points of a kernel: one per channel (dense and conv2d: output channel;
 * depthwise: input channel, shared by its multipliers) and per group of `groupSize` consecutive
 * kernel rows. With groupSize = the block's rows this is plain per-channel quantization.
 */
export interface AffineGrid extends AffineFormat {
  groupSize: number;
  /** Row groups: ceil(rows / groupSize). */
  groups: number;
  /** Slots along the kernel's channel axis. */
  channels: number;
  /** groups x channels, row-major: the slot of row group g, channel ch is g * channels + ch. */
  scale: Float32Array;
  zeroPoint: Int32Array;
}

export function checkFormat(o: { bits?: number; signed?: boolean; symmetric?: boolean }, where: string): AffineFormat {
  const { bits = 4, signed = true, symmetric = false } = o;
  if (!(Number.isInteger(bits) && bits >= 2 && bits <= 8)) throw new ReconstructError(`${where}: 'bits' must be an integer in 2..8, got ${bits}`);
  return { bits, signed, symmetric };
}

export function createGrid(format: AffineFormat, blocks: KernelBlocks, groupSize: number | undefined, where: string): AffineGrid {
  const size = groupSize ?? blocks.rows;
  if (!(Number.isInteger(size) && size >= 1)) throw new ReconstructError(`${where}: 'groupSize' must be a positive integer, got ${groupSize}`);
  const groups = Math.ceil(blocks.rows / Math.min(size, blocks.rows));
  const slots = groups * blocks.channels;
  return {
    ...format,
    groupSize: Math.min(size, blocks.rows),
    groups,
    channels: blocks.channels,
    scale: new Float32Array(slots).fill(1),
    zeroPoint: new Int32Array(slots),
  };
}

export const slotOf = (grid: AffineGrid, blocks: KernelBlocks, b: number, r: number, c: number): number =>
  Math.floor(r / grid.groupSize) * grid.channels + channelOf(blocks, b, c);

/**
 * Fit the slots of block b's rows [from, to) to the min/max of their kept values. `value(r, c)`
 * reads the block's current weights in kernel row order; `kept(r, c)` is false for masked ones.
 */
export function fitRows(
  grid: AffineGrid,
  blocks: KernelBlocks,
  b: number,
  from: number,
  to: number,
  value: (r: number, c: number) => number,
  kept: (r: number, c: number) => boolean,
): void {
  const lo = new Map<number, number>();
  const hi = new Map<number, number>();
  for (let r = from; r < to; r++)
    for (let c = 0; c < blocks.cols; c++) {
      if (!kept(r, c)) continue;
      const s = slotOf(grid, blocks, b, r, c);
      const v = value(r, c);
      lo.set(s, Math.min(lo.get(s) ?? 0, v));
      hi.set(s, Math.max(hi.get(s) ?? 0, v));
    }
  for (const [s, l] of lo) ({ scale: grid.scale[s], zeroPoint: grid.zeroPoint[s] } = affineRange(l, hi.get(s) as number, grid));
}

/** The grid point nearest to w in slot s (codes clamped to the format's range), as float32. */
export function roundToGrid(grid: AffineGrid, s: number, w: number): number {
  const [qmin, qmax] = quantRange(grid);
  const scale = grid.scale[s];
  const z = grid.zeroPoint[s];
  const q = Math.min(qmax, Math.max(qmin, Math.round(w / scale) + z));
  return Math.fround(scale * (q - z));
}

/**
 * A weighted 1-D k-means codebook: minimises sum_i weight_i (v_i - c(v_i))^2 over k centroids
 * (Lloyd from centroids spaced evenly over [min, max], Deep Compression's linear init). Every
 * cluster is a contiguous range of the sorted values, so one sweep per iteration assigns them.
 * Returns the centroids ascending, as float32.
 */
export function fitCodebook(values: ArrayLike<number>, weights: ArrayLike<number>, k: number, iterations = 100): Float32Array {
  const n = values.length;
  if (n === 0) return new Float32Array(k);
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const [min, max] = [values[order[0]], values[order[n - 1]]];
  let c = Float64Array.from({ length: k }, (_, j) => (k === 1 ? (min + max) / 2 : min + ((max - min) * j) / (k - 1)));
  const sw = new Float64Array(k);
  const swv = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    sw.fill(0);
    swv.fill(0);
    let j = 0;
    for (const i of order) {
      const v = values[i];
      while (j < k - 1 && v > (c[j] + c[j + 1]) / 2) j++;
      sw[j] += weights[i];
      swv[j] += weights[i] * v;
    }
    // An empty cluster keeps its centroid: it stays between its neighbours, so c stays sorted.
    const next = c.map((v, m) => (sw[m] > 0 ? swv[m] / sw[m] : v));
    const moved = next.some((v, m) => v !== c[m]);
    c = next;
    if (!moved) break;
  }
  return Float32Array.from(c);
}

/** Index of the centroid nearest to v (centroids ascending). */
export function nearestCentroid(centroids: Float32Array, v: number): number {
  let [lo, hi] = [0, centroids.length - 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (centroids[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && v - centroids[lo - 1] <= centroids[lo] - v ? lo - 1 : lo;
}
