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

/** sum_c d_c^T H d_c for D (k x n, row-major): half the products, by symmetry. */
export function quadraticForm(h: Float64Array, k: number, d: Float64Array, n: number): number {
  let total = 0;
  for (let i = 0; i < k; i++) {
    const di = i * n;
    let diag = 0;
    for (let c = 0; c < n; c++) diag += d[di + c] * d[di + c];
    total += h[i * k + i] * diag;
    for (let j = i + 1; j < k; j++) {
      const hij = h[i * k + j];
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
    if (v.length !== size) throw new ReconstructError(`layer '${spec.name}': kernel data has ${v.length} values, the statistics are for [${spec.kernelShape.join(', ')}] (${size})`);
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
