import { describe, expect, it } from 'vitest';
import { jacobiSvd } from './linalg.js';
import { checkFactorShapes, kronSum, nkp, rearrange } from './nkp.js';

function values(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

/** np.kron of two matrices, written out directly. */
function kron2(a: Float32Array, [m1, n1]: number[], b: Float32Array, [m2, n2]: number[]): Float32Array {
  const out = new Float32Array(m1 * m2 * n1 * n2);
  const n = n1 * n2;
  for (let i1 = 0; i1 < m1; i1++)
    for (let j1 = 0; j1 < n1; j1++)
      for (let i2 = 0; i2 < m2; i2++)
        for (let j2 = 0; j2 < n2; j2++) {
          out[(i1 * m2 + i2) * n + j1 * n2 + j2] = a[i1 * n1 + j1] * b[i2 * n2 + j2];
        }
  return out;
}

const maxAbsDiff = (x: ArrayLike<number>, y: ArrayLike<number>) => Array.from(x).reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);

describe('kronSum', () => {
  it('is the matrix Kronecker product (np.kron index convention)', () => {
    const a = values(4 * 3, 1);
    const b = values(5 * 2, 2);
    expect(maxAbsDiff(kronSum(a, b, [4, 3], [5, 2], 1), kron2(a, [4, 3], b, [5, 2]))).toBeLessThan(1e-7);
  });
});

describe('nkp', () => {
  it('is exact when W is a Kronecker product, dense and 4-D', () => {
    const a = values(6 * 5, 3);
    const b = values(7 * 4, 4);
    const w = kron2(a, [6, 5], b, [7, 4]);
    const r = nkp(w, [6, 5], [7, 4], 1);
    expect(r.relativeError).toBeLessThan(1e-6);
    expect(r.tailRelativeError).toBeLessThan(1e-6);
    // The factors reproduce W (each factor is only defined up to a scale and sign).
    expect(maxAbsDiff(kronSum(r.a, r.b, [6, 5], [7, 4], 1), w)).toBeLessThan(1e-6);

    const sa = [3, 1, 2, 4];
    const sb = [1, 3, 3, 2];
    const w4 = kronSum(values(3 * 24, 5), values(3 * 18, 6), sa, sb, 3);
    const r4 = nkp(w4, sa, sb, 3);
    expect(r4.relativeError).toBeLessThan(1e-5);
    expect(nkp(w4, sa, sb, 2).relativeError).toBeGreaterThan(1e-2);
  });

  it('has the error the singular-value tail predicts, and it is the smallest possible', () => {
    const sa = [8, 6];
    const sb = [5, 9];
    const w = values(40 * 54, 7);
    const all = jacobiSvd(rearrange(w, sa, sb)).s;
    const total = all.reduce((s, x) => s + x * x, 0);
    for (const rank of [1, 3, 10]) {
      const r = nkp(w, sa, sb, rank);
      const tail = all.slice(rank).reduce((s, x) => s + x * x, 0);
      expect(r.tailRelativeError).toBeCloseTo(Math.sqrt(tail / total), 6);
      expect(r.relativeError).toBeCloseTo(Math.sqrt(tail / total), 5);
      r.singularValues.forEach((s, k) => expect(s).toBeCloseTo(all[k], 6));
      // Any other rank-r Kronecker sum is worse: perturb the optimum.
      const worse = kronSum(
        r.a.map((v, i) => v + (i % 3 === 0 ? 0.01 : 0)),
        r.b,
        sa,
        sb,
        rank,
      );
      const err = Math.sqrt(w.reduce((s, v, i) => s + (v - worse[i]) ** 2, 0) / total);
      expect(err).toBeGreaterThan(r.relativeError);
    }
  });

  it('takes the iterative route on a larger kernel and still matches the tail', () => {
    // A decaying spectrum of 12 Kronecker terms plus noise: an 80 x 72 rearrangement.
    const sa = [10, 8];
    const sb = [8, 9];
    const scaled = values(12 * 80, 10).map((v, i) => v * 0.7 ** Math.floor(i / 80));
    const noise = values(80 * 72, 12);
    const w = kronSum(scaled, values(12 * 72, 11), sa, sb, 12).map((v, i) => v + 1e-3 * noise[i]);
    const r = nkp(w, sa, sb, 4);
    const all = jacobiSvd(rearrange(w, sa, sb)).s;
    const total = all.reduce((s, x) => s + x * x, 0);
    expect(r.method).toBe('subspace');
    expect(r.relativeError).toBeCloseTo(Math.sqrt(all.slice(4).reduce((s, x) => s + x * x, 0) / total), 5);
  });

  it('names the axis when factor shapes do not divide the kernel', () => {
    expect(() => checkFactorShapes([784, 300], [28, 15], [27, 20])).toThrow(/axis 0, 28 x 27 = 756, not 784/);
    expect(() => checkFactorShapes([784, 300], [28, 15, 1], [28, 20])).toThrow(/rank 2/);
    expect(() => nkp(values(20), [2, 2], [5, 1], 5)).toThrow(/rank must be an integer in \[1, 4\]/);
  });
});
