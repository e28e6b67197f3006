import { ReconstructError } from './errors.js';
import { readBlock } from './layout.js';
import type { LayerStats } from './stats.js';

/**
 * A layer's output error on the calibration set, from its statistics alone:
 * || X (W - W') ||^2 = sum over blocks and output columns of d^T H d, relative to || X W ||^2.
 * `before` is the error of the naive change (round-to-nearest on the same grid, or the same mask
 * without the compensating update), `after` that of the compensated one.
 */
export interface LayerError {
  /** || X W ||^2 of the original weights. */
  reference: number;
  /** || X (W - W_naive) ||^2. */
  before: number;
  /** || X (W - W_compensated) ||^2. */
  after: number;
  /** before / reference (0 when the reference is 0). */
  relativeBefore: number;
  /** after / reference. */
  relativeAfter: number;
}

/**
 * sum_c d_c^T H d_c for D (k x n, row-major): half the products, by symmetry; four rows j at a
 * time share the loads of row i.
 */
export function quadraticForm(h: Float64Array, k: number, d: Float64Array, n: number): number {
  let total = 0;
  for (let i = 0; i < k; i++) {
    const di = i * n;
    const hi = i * k;
    let diag = 0;
    for (let c = 0; c < n; c++) diag += d[di + c] * d[di + c];
    total += h[hi + i] * diag;
    let j = i + 1;
    for (; j + 3 < k; j += 4) {
      const [h0, h1, h2, h3] = [h[hi + j], h[hi + j + 1], h[hi + j + 2], h[hi + j + 3]];
      if (h0 === 0 && h1 === 0 && h2 === 0 && h3 === 0) continue;
      const [d0, d1, d2, d3] = [j * n, (j + 1) * n, (j + 2) * n, (j + 3) * n];
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let c = 0; c < n; c++) {
        const x = d[di + c];
        s0 += x * d[d0 + c];
        s1 += x * d[d1 + c];
        s2 += x * d[d2 + c];
        s3 += x * d[d3 + c];
      }
      total += 2 * (h0 * s0 + h1 * s1 + h2 * s2 + h3 * s3);
    }
    for (; j < k; j++) {
      const hij = h[hi + j];
      if (hij === 0) continue;
      const dj = j * n;
      let s = 0;
      for (let c = 0; c < n; c++) s += d[di + c] * d[dj + c];
      total += 2 * hij * s;
    }
  }
  return total;
}

/** || X (a - b) ||^2 over the whole kernel (a, b: flat kernel data); b omitted: || X a ||^2. */
export function outputEnergy(stats: LayerStats, a: ArrayLike<number>, b?: ArrayLike<number>): number {
  const { blocks, spec } = stats;
  const size = blocks.rows * blocks.stride;
  for (const v of b ? [a, b] : [a]) {
    if (v.length !== size)
      throw new ReconstructError(`layer '${spec.name}': kernel data has ${v.length} values, the statistics are for [${spec.kernelShape.join(', ')}] (${size})`);
  }
  let total = 0;
  for (let blk = 0; blk < blocks.count; blk++) {
    const d = readBlock(a, blocks, blk);
    if (b) {
      const db = readBlock(b, blocks, blk);
      for (let i = 0; i < d.length; i++) d[i] -= db[i];
    }
    total += quadraticForm(stats.hessians[blk], blocks.rows, d, blocks.cols);
  }
  return total;
}

/** The layer error of a naive and a compensated change of `original`. */
export function layerError(stats: LayerStats, original: ArrayLike<number>, naive: ArrayLike<number>, compensated: ArrayLike<number>): LayerError {
  const reference = outputEnergy(stats, original);
  const before = outputEnergy(stats, original, naive);
  const after = outputEnergy(stats, original, compensated);
  const rel = (e: number) => (reference > 0 ? e / reference : 0);
  return { reference, before, after, relativeBefore: rel(before), relativeAfter: rel(after) };
}
