import { describe, expect, it } from 'vitest';
import { jacobiSvd, matrix, orthonormalize, topSvd, type Matrix } from './linalg.js';

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
}

/** A = U diag(s) V^T with random orthonormal U (rows x k) and V (cols x k). */
function withSpectrum(rows: number, cols: number, s: number[], seed = 1): Matrix {
  const r = lcg(seed);
  const u = orthonormalize(
    s.map(() => Float64Array.from({ length: rows }, r)),
    r,
  );
  const v = orthonormalize(
    s.map(() => Float64Array.from({ length: cols }, r)),
    r,
  );
  const m = matrix(rows, cols);
  s.forEach((sk, k) => {
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.data[i * cols + j] += sk * u[k][i] * v[k][j];
  });
  return m;
}

function reconstruct(rows: number, cols: number, svd: { s: number[]; u: Float64Array[]; v: Float64Array[] }): Float64Array {
  const out = new Float64Array(rows * cols);
  svd.s.forEach((sk, k) => {
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] += sk * svd.u[k][i] * svd.v[k][j];
  });
  return out;
}

describe('jacobiSvd', () => {
  it('recovers a known spectrum and reconstructs the matrix, tall and wide', () => {
    const s = [9, 4, 2.5, 1, 0.3];
    for (const [rows, cols] of [
      [12, 7],
      [6, 15],
    ]) {
      const m = withSpectrum(rows, cols, s, rows);
      const svd = jacobiSvd(m);
      expect(svd.s.length).toBe(Math.min(rows, cols));
      s.forEach((sk, k) => expect(svd.s[k]).toBeCloseTo(sk, 10));
      for (let k = s.length; k < svd.s.length; k++) expect(svd.s[k]).toBeLessThan(1e-10);
      const back = reconstruct(rows, cols, svd);
      back.forEach((v, i) => expect(v).toBeCloseTo(m.data[i], 10));
      // Orthonormal singular vectors.
      for (let a = 0; a < s.length; a++)
        for (let b = 0; b < s.length; b++) {
          const d = svd.v[a].reduce((acc, x, i) => acc + x * svd.v[b][i], 0);
          expect(d).toBeCloseTo(a === b ? 1 : 0, 10);
        }
    }
  });
});

describe('topSvd', () => {
  it('subspace iteration agrees with the full Jacobi SVD on a larger matrix', () => {
    const spectrum = Array.from({ length: 40 }, (_, k) => 10 * 0.8 ** k);
    const m = withSpectrum(90, 70, spectrum, 3);
    const top = topSvd(m, 5);
    expect(top.method).toBe('subspace');
    const full = jacobiSvd(m);
    for (let k = 0; k < 5; k++) {
      expect(top.s[k]).toBeCloseTo(full.s[k], 9);
      // Same vectors up to sign.
      const d = Math.abs(top.v[k].reduce((acc, x, i) => acc + x * full.v[k][i], 0));
      expect(d).toBeCloseTo(1, 7);
    }
  });

  it('handles a matrix of lower rank than the block', () => {
    const m = withSpectrum(80, 60, [5, 2], 5);
    const top = topSvd(m, 4);
    expect(top.s[0]).toBeCloseTo(5, 10);
    expect(top.s[1]).toBeCloseTo(2, 10);
    expect(top.s[2]).toBeLessThan(1e-9);
  });

  it('rejects a rank beyond the matrix', () => {
    expect(() => topSvd(matrix(3, 4), 4)).toThrow(/k must be an integer in \[1, 3\]/);
  });
});
