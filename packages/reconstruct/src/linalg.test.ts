import { describe, expect, it } from 'vitest';
import { gaussian, rng } from '@condense/ir';
import { cholesky, choleskySolve } from '@condense/core';
import { inverseFromUpper, upperInverseFactor } from './linalg.js';

/** A random SPD matrix M M^T + 0.1 I. */
function spd(n: number, seed: number): Float64Array {
  const g = gaussian(rng(seed));
  const m = Float64Array.from({ length: n * n }, g);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? 0.1 : 0;
      for (let k = 0; k < n; k++) s += m[i * n + k] * m[j * n + k];
      a[i * n + j] = s;
    }
  return a;
}

/** Gauss-Jordan with partial pivoting: the independent direct solve the factorizations are checked against. */
function directInverse(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (const x of [m, inv]) for (let j = 0; j < n; j++) [x[c * n + j], x[p * n + j]] = [x[p * n + j], x[c * n + j]];
    const d = m[c * n + c];
    for (const x of [m, inv]) for (let j = 0; j < n; j++) x[c * n + j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      for (const x of [m, inv]) for (let j = 0; j < n; j++) x[r * n + j] -= f * x[c * n + j];
    }
  }
  return inv;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('linear algebra', () => {
  const n = 24;
  const a = spd(n, 3);

  it('cholesky: L is lower triangular and L L^T = A', () => {
    const l = cholesky(a, n)!;
    const back = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (j > i) expect(l[i * n + j]).toBe(0);
        for (let k = 0; k < n; k++) back[i * n + j] += l[i * n + k] * l[j * n + k];
      }
    expect(maxAbsDiff(back, a)).toBeLessThan(1e-9);
  });

  it("the inverse's upper factor: U is upper triangular with a positive diagonal and U^T U = A^-1 (a direct solve)", () => {
    const u = upperInverseFactor(a, n)!;
    for (let i = 0; i < n; i++) {
      expect(u[i * n + i]).toBeGreaterThan(0);
      for (let j = 0; j < i; j++) expect(u[i * n + j]).toBe(0);
    }
    const inv = directInverse(a, n);
    const scale = Math.max(...inv.map(Math.abs));
    expect(maxAbsDiff(inverseFromUpper(u, n), inv) / scale).toBeLessThan(1e-10);
  });

  it('U[i][i]^2 is the inverse of the trailing block [A_FF^-1]_ii, F = {i, ..., n-1} (the OBS view)', () => {
    const u = upperInverseFactor(a, n)!;
    for (const i of [0, 5, n - 1]) {
      const m = n - i;
      const sub = new Float64Array(m * m);
      for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) sub[r * m + c] = a[(i + r) * n + i + c];
      expect(u[i * n + i] ** 2).toBeCloseTo(directInverse(sub, m)[0], 10);
    }
  });

  it('choleskySolve solves several right-hand sides', () => {
    const b = Float64Array.from({ length: n * 3 }, gaussian(rng(9)));
    const x = choleskySolve(cholesky(a, n)!, n, b, 3);
    const inv = directInverse(a, n);
    const want = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) for (let k = 0; k < n; k++) want[i * 3 + c] += inv[i * n + k] * b[k * 3 + c];
    expect(maxAbsDiff(x, want)).toBeLessThan(1e-9);
  });

  it('refuses a matrix that is not positive definite', () => {
    const singular = new Float64Array([1, 1, 1, 1]);
    expect(cholesky(singular, 2)).toBeUndefined();
    expect(upperInverseFactor(new Float64Array([1, 2, 2, 1]), 2)).toBeUndefined();
  });
});
