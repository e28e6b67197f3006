/**
 * Dense symmetric least squares in float64 on row-major matrices, shared by every layer-wise
 * method: Cholesky factors and solves, damping that grows until a rank-deficient H factors, and
 * the ridge / row-refit solves of layer reconstruction (ThiNet's rescaling, channel pruning's
 * least-squares step). @condense/reconstruct builds its inverse-Hessian machinery on these.
 */

/**
 * Lower-triangular L with A = L L^T, or undefined when A is not (numerically) positive definite.
 * Row by row; four entries of a row at once share the loads of its prefix (the inner products
 * dominate: n^3 / 6 multiply-adds).
 */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let j = 0;
    for (; j + 3 < i; j += 4) {
      const [r0, r1, r2, r3] = [j * n, (j + 1) * n, (j + 2) * n, (j + 3) * n];
      let s0 = a[ri + j],
        s1 = a[ri + j + 1],
        s2 = a[ri + j + 2],
        s3 = a[ri + j + 3];
      for (let k = 0; k < j; k++) {
        const x = l[ri + k];
        s0 -= x * l[r0 + k];
        s1 -= x * l[r1 + k];
        s2 -= x * l[r2 + k];
        s3 -= x * l[r3 + k];
      }
      // The four columns' own triangle, in order.
      const l0 = (l[ri + j] = s0 / l[r0 + j]);
      s1 -= l0 * l[r1 + j];
      const l1 = (l[ri + j + 1] = s1 / l[r1 + j + 1]);
      s2 -= l0 * l[r2 + j] + l1 * l[r2 + j + 1];
      const l2 = (l[ri + j + 2] = s2 / l[r2 + j + 2]);
      s3 -= l0 * l[r3 + j] + l1 * l[r3 + j + 1] + l2 * l[r3 + j + 2];
      l[ri + j + 3] = s3 / l[r3 + j + 3];
    }
    for (; j < i; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= l[ri + k] * l[rj + k];
      l[ri + j] = s / l[rj + j];
    }
    let d = a[ri + i];
    for (let k = 0; k < i; k++) d -= l[ri + k] * l[ri + k];
    if (!(d > 0)) return undefined;
    l[ri + i] = Math.sqrt(d);
  }
  return l;
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

/**
 * Factor H + lambda I, lambda = percent * mean diagonal; when that is still not positive definite
 * (rank-deficient H in floating point), grow lambda tenfold until it is (at most 8 times).
 * Returns the factor and the lambda that worked. The ridge is added to H's diagonal in place for
 * the call and taken off again (no k x k copy): `factor` must not keep or change its input.
 */
export function dampedFactor<T>(
  h: Float64Array,
  n: number,
  percent: number,
  factor: (a: Float64Array, n: number) => T | undefined,
  where: string,
): { factor: T; lambda: number } {
  const scale = meanDiagonal(h, n) || 1;
  const diagonal = Float64Array.from({ length: n }, (_, i) => h[i * n + i]);
  let lambda = percent * scale;
  try {
    for (let attempt = 0; attempt <= 8; attempt++) {
      for (let i = 0; i < n; i++) h[i * n + i] = diagonal[i] + lambda;
      const f = factor(h, n);
      if (f !== undefined) return { factor: f, lambda };
      lambda = lambda > 0 ? lambda * 10 : 1e-10 * scale;
    }
  } finally {
    for (let i = 0; i < n; i++) h[i * n + i] = diagonal[i];
  }
  throw new Error(`${where}: the ${n} x ${n} input Hessian is not positive definite even with damping ${lambda / scale} x its mean diagonal`);
}

/** Default ridge of the least-squares helpers, relative to H's mean diagonal: light, for stability only. */
export const DEFAULT_RIDGE = 1e-4;

/**
 * W' = argmin || X W' - T ||^2 + lambda || W' ||^2 from H = X^T X (k x k) and the cross term
 * C = X^T T (k x n, row-major): the solution of (H + lambda I) W' = C, lambda = ridge x the mean
 * diagonal of H (grown tenfold until H + lambda I factors, if it does not).
 */
export function ridgeSolve(h: Float64Array, k: number, cross: Float64Array, n: number, ridge = DEFAULT_RIDGE): Float64Array {
  if (h.length !== k * k) throw new Error(`ridgeSolve: H has ${h.length} entries, expected ${k} x ${k}`);
  if (cross.length !== k * n) throw new Error(`ridgeSolve: the cross term has ${cross.length} entries, expected ${k} x ${n}`);
  if (!(Number.isFinite(ridge) && ridge >= 0)) throw new Error(`ridgeSolve: 'ridge' must be a finite number >= 0, got ${ridge}`);
  const { factor } = dampedFactor(h, k, ridge, cholesky, 'ridgeSolve');
  return choleskySolve(factor, k, cross, n);
}

/**
 * Refit the weights of a subset of a layer's inputs so that they reproduce its full output: the
 * W' (kept.length x n) minimising || X_kept W' - X W ||^2 (+ the ridge), i.e.
 * (H_kept,kept + lambda I) W' = H_kept,: W. W is k x n row-major; `kept` lists row indices of W.
 * The least-squares step of channel pruning (ThiNet's rescaling, for one).
 */
export function refitRows(h: Float64Array, k: number, w: Float64Array, n: number, kept: readonly number[], ridge = DEFAULT_RIDGE): Float64Array {
  if (h.length !== k * k) throw new Error(`refitRows: H has ${h.length} entries, expected ${k} x ${k}`);
  if (w.length !== k * n) throw new Error(`refitRows: W has ${w.length} entries, expected ${k} x ${n}`);
  const bad = kept.find((r) => !(Number.isInteger(r) && r >= 0 && r < k));
  if (bad !== undefined) throw new Error(`refitRows: kept row ${bad} is not in 0..${k - 1}`);
  const m = kept.length;
  const hk = new Float64Array(m * m);
  const cross = new Float64Array(m * n);
  kept.forEach((p, i) => {
    kept.forEach((q, j) => (hk[i * m + j] = h[p * k + q]));
    // Row i of H_kept,: W.
    for (let r = 0; r < k; r++) {
      const f = h[p * k + r];
      if (f !== 0) for (let c = 0; c < n; c++) cross[i * n + c] += f * w[r * n + c];
    }
  });
  return ridgeSolve(hk, m, cross, n, ridge);
}
