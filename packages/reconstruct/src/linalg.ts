import { ReconstructError } from './errors.js';

/**
 * Dense symmetric linear algebra in float64 on row-major n x n matrices: what the layer-wise
 * problems need (Cholesky factors, the inverse's upper factor, solves) and nothing more.
 */

/** Lower-triangular L with A = L L^T, or undefined when A is not (numerically) positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= l[ri + k] * l[rj + k];
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[ri + i] = Math.sqrt(s);
      } else {
        l[ri + j] = s / l[rj + j];
      }
    }
  }
  return l;
}

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

/** X with L L^T X = B, for B n x m row-major (m right-hand sides). */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const xi = i * m;
    for (let k = 0; k < i; k++) {
      const f = l[ri + k];
      if (f === 0) continue;
      for (let c = 0; c < m; c++) x[xi + c] -= f * x[k * m + c];
    }
    for (let c = 0; c < m; c++) x[xi + c] /= l[ri + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * m;
    for (let k = i + 1; k < n; k++) {
      const f = l[k * n + i];
      if (f === 0) continue;
      for (let c = 0; c < m; c++) x[xi + c] -= f * x[k * m + c];
    }
    for (let c = 0; c < m; c++) x[xi + c] /= l[i * n + i];
  }
  return x;
}

export function meanDiagonal(h: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += h[i * n + i];
  return n > 0 ? s / n : 0;
}

/** A copy of H with lambda added to the diagonal. */
export function withRidge(h: Float64Array, n: number, lambda: number): Float64Array {
  const a = Float64Array.from(h);
  for (let i = 0; i < n; i++) a[i * n + i] += lambda;
  return a;
}

/**
 * Factor H + lambda I, lambda = percent * mean diagonal; when that is still not positive definite
 * (rank-deficient H in floating point), grow lambda tenfold until it is (at most 8 times).
 * Returns the factor and the lambda that worked.
 */
export function dampedFactor<T>(
  h: Float64Array, n: number, percent: number, factor: (a: Float64Array, n: number) => T | undefined, where: string,
): { factor: T; lambda: number } {
  const scale = meanDiagonal(h, n) || 1;
  let lambda = percent * scale;
  for (let attempt = 0; attempt <= 8; attempt++) {
    const f = factor(withRidge(h, n, lambda), n);
    if (f !== undefined) return { factor: f, lambda };
    lambda = lambda > 0 ? lambda * 10 : 1e-10 * scale;
  }
  throw new ReconstructError(`${where}: the ${n} x ${n} input Hessian is not positive definite even with damping ${lambda / scale} x its mean diagonal`);
}
