import { cholesky } from '@condense/core';

/**
 * The inverse Hessian's upper Cholesky factor that GPTQ and SparseGPT sweep with, in float64 on
 * row-major n x n matrices. Cholesky itself, solves and damping are @condense/core's (shared with
 * every layer-wise method).
 */

/** A[i][j] <-> A[n-1-i][n-1-j] in place: the reversal permutation on both sides (its own inverse). */
function reverse(a: Float64Array, n: number): Float64Array {
  for (let i = 0, j = n * n - 1; i < j; i++, j--) [a[i], a[j]] = [a[j], a[i]];
  return a;
}

/**
 * The inverse of an upper-triangular matrix (upper-triangular too). Built transposed, as T = U^T
 * (lower), so every step is an inner product of two contiguous rows:
 * U[i][j] = -(sum_{i<k<=j} V[i][k] U[k][j]) / V[i][i] = -(V[i, i+1..j] . T[j, i+1..j]) / V[i][i],
 * for i from the last row up (T's rows hold the U entries below i already); four j at once share
 * the loads of V's row.
 */
export function invertUpper(v: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * n;
    const d = v[ri + i];
    t[ri + i] = 1 / d;
    let j = i + 1;
    for (; j + 3 < n; j += 4) {
      const [r0, r1, r2, r3] = [j * n, (j + 1) * n, (j + 2) * n, (j + 3) * n];
      // The common range k in (i, j]; then each longer row's own tail.
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let k = i + 1; k <= j; k++) {
        const x = v[ri + k];
        s0 += x * t[r0 + k];
        s1 += x * t[r1 + k];
        s2 += x * t[r2 + k];
        s3 += x * t[r3 + k];
      }
      s1 += v[ri + j + 1] * t[r1 + j + 1];
      s2 += v[ri + j + 1] * t[r2 + j + 1] + v[ri + j + 2] * t[r2 + j + 2];
      s3 += v[ri + j + 1] * t[r3 + j + 1] + v[ri + j + 2] * t[r3 + j + 2] + v[ri + j + 3] * t[r3 + j + 3];
      t[r0 + i] = -s0 / d;
      t[r1 + i] = -s1 / d;
      t[r2 + i] = -s2 / d;
      t[r3 + i] = -s3 / d;
    }
    for (; j < n; j++) {
      const rj = j * n;
      let s = 0;
      for (let k = i + 1; k <= j; k++) s += v[ri + k] * t[rj + k];
      t[rj + i] = -s / d;
    }
  }
  // U = T^T, in place.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) [t[j * n + i], t[i * n + j]] = [t[i * n + j], 0];
  return t;
}

/**
 * Upper-triangular U with H^-1 = U^T U (what GPTQ/SparseGPT call the inverse Hessian's upper
 * Cholesky factor), or undefined when H is not positive definite. Computed without forming H^-1:
 * H = V V^T with V upper (a Cholesky from the bottom-right corner), then U = V^-1, since
 * (V V^T)^-1 = V^-T V^-1. Row i of U, scaled by U[i][i], is the OBS update of eliminating
 * input i after inputs 0..i-1; U[i][i]^2 is [H_F^-1]_ii for the inputs F = {i, ..., n-1} not yet fixed.
 */
export function upperInverseFactor(h: Float64Array, n: number): Float64Array | undefined {
  // H reversed in place for the factorisation and put back: two k x k arrays live at a time, not four.
  const l = cholesky(reverse(h, n), n);
  reverse(h, n);
  return l && invertUpper(reverse(l, n), n);
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
