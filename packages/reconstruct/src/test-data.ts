/** Synthetic data for the tests: correlated layer inputs and random kernels, seeded. */
import { gaussian, rng } from '@condense/ir';
import { accumulate, createStats, type LayerStats } from './stats.js';

/**
 * `rows` x `k` inputs with strongly correlated features: X = Z A + 0.1 noise, Z rows x d
 * standard normal, A d x k (d = k / 4), as activations of a real layer are.
 */
export function correlatedRows(rows: number, k: number, seed = 1): Float32Array {
  const g = gaussian(rng(seed));
  const d = Math.max(1, Math.floor(k / 4));
  const a = Float64Array.from({ length: d * k }, g);
  const x = new Float32Array(rows * k);
  const z = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) z[j] = g();
    for (let c = 0; c < k; c++) {
      let s = 0.1 * g();
      for (let j = 0; j < d; j++) s += z[j] * a[j * k + c];
      x[r * k + c] = s;
    }
  }
  return x;
}

export function randomValues(n: number, seed = 2, scale = 0.1): Float32Array {
  const g = gaussian(rng(seed));
  return Float32Array.from({ length: n }, () => scale * g());
}

/** Statistics of a dense layer [k, n] over `x` (rows x k). */
export function denseStats(x: Float32Array, k: number, n: number, name = 'fc'): LayerStats {
  const stats = createStats({ name, op: 'dense', kernelShape: [k, n] });
  accumulate(stats, x, [x.length / k, k]);
  return stats;
}

/** || X (a - b) ||^2 from the rows themselves (X rows x k, a and b k x n): the brute-force check of the H-based errors. */
export function bruteError(x: Float32Array, k: number, n: number, a: ArrayLike<number>, b?: ArrayLike<number>): number {
  const rows = x.length / k;
  let e = 0;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < n; c++) {
      let y = 0;
      for (let i = 0; i < k; i++) y += x[r * k + i] * (a[i * n + c] - (b ? b[i * n + c] : 0));
      e += y * y;
    }
  return e;
}
