import { cholesky } from '@condense/core';

/**
 * The inverse Hessian's upper Cholesky factor that GPTQ and SparseGPT sweep with, in float64 on
 * row-major n x n matrices. Cholesky itself, solves and damping are @condense/core's (shared with
 * every layer-wise method).
 */

/** B with B[i][j] = A[n-1-i][n-1-j]: the reversal permutation on both sides (its own inverse). */
function reversed(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) b[i] = a[n * n - 1 - i];
  return b;
}

/** The inverse of an upper-triangular matrix (upper-triangular too). */
export function invertUpper(v: Float64Array, n: number): Float64Array {
  const u = new Float64Array(n * n);
  // Row i of U = V^-1 from the rows below it: U[i][j] = -(sum_{i<k<=j} V[i][k] U[k][j]) / V[i][i].
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * n;
    for (let k = i + 1; k < n; k++) {
      const f = v[ri + k];
      if (f === 0) continue;
      const rk = k * n;
      for (let j = k; j < n; j++) u[ri + j] += f * u[rk + j];
    }
    const d = v[ri + i];
    for (let j = i + 1; j < n; j++) u[ri + j] = -u[ri + j] / d;
    u[ri + i] = 1 / d;
  }
  return u;
}

/**
 * Upper-triangular U with H^-1 = U^T U (what GPTQ/SparseGPT call the inverse Hessian's upper
 * Cholesky factor), or undefined when H is not positive definite. Computed without forming H^-1:
 * H = V V^T with V upper (a Cholesky from the bottom-right corner), then U = V^-1, since
 * (V V^T)^-1 = V^-T V^-1. Row i of U, scaled by U[i][i], is the OBS update of eliminating
 * input i after inputs 0..i-1; U[i][i]^2 is [H_F^-1]_ii for the inputs F = {i, ..., n-1} not yet fixed.
 */
export function upperInverseFactor(h: Float64Array, n: number): Float64Array | undefined {
  const l = cholesky(reversed(h, n), n);
  return l && invertUpper(reversed(l, n), n);
}

/** U^T U: the inverse of H from its `upperInverseFactor`. */
export function inverseFromUpper(u: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  // inv[i][j] = sum_k U[k][i] U[k][j], over k <= min(i, j): the upper triangle first.
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let i = k; i < n; i++) {
      const f = u[rk + i];
      if (f === 0) continue;
      const ri = i * n;
      for (let j = i; j < n; j++) inv[ri + j] += f * u[rk + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) inv[i * n + j] = inv[j * n + i];
  return inv;
}

