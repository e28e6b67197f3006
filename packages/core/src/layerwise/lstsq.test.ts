import { describe, expect, it } from 'vitest';
import { gaussian, rng } from '@condense/ir';
import { cholesky, choleskySolve, dampedFactor, refitRows, ridgeSolve } from './lstsq.js';

const [K, N, ROWS] = [12, 4, 300];
const g = gaussian(rng(5));
// Correlated inputs (rows x K): a rank-3 signal plus a little noise, as layer activations are.
const basis = Float64Array.from({ length: 3 * K }, g);
const x = Float64Array.from({ length: ROWS * K }, (_, i) => {
  const [r, k] = [Math.floor(i / K), i % K];
  const z = [0, 1, 2].map((j) => Math.sin(r * (j + 1.3) + j));
  return z.reduce((s, v, j) => s + v * basis[j * K + k], 0.05 * g());
});
const w = Float64Array.from({ length: K * N }, g);

/** H = X^T X from the rows. */
const h = new Float64Array(K * K);
for (let r = 0; r < ROWS; r++) for (let a = 0; a < K; a++) for (let b = 0; b < K; b++) h[a * K + b] += x[r * K + a] * x[r * K + b];

/** || X a - X b ||^2 from the rows themselves (a, b: K x N). */
function residual(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let r = 0; r < ROWS; r++)
    for (let c = 0; c < N; c++) {
      let y = 0;
      for (let i = 0; i < K; i++) y += x[r * K + i] * (a[i * N + c] - b[i * N + c]);
      e += y * y;
    }
  return e;
}

describe('least squares', () => {
  it('cholesky and choleskySolve: L L^T = A, and the solve satisfies A X = B', () => {
    const l = cholesky(h, K)!;
    for (let i = 0; i < K; i++)
      for (let j = 0; j < K; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += l[i * K + k] * l[j * K + k];
        expect(s).toBeCloseTo(h[i * K + j], 8);
      }
    const b = Float64Array.from({ length: K * 2 }, g);
    const sol = choleskySolve(l, K, b, 2);
    for (let i = 0; i < K; i++)
      for (let c = 0; c < 2; c++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += h[i * K + k] * sol[k * 2 + c];
        expect(s).toBeCloseTo(b[i * 2 + c], 6);
      }
    expect(cholesky(new Float64Array([1, 1, 1, 1]), 2)).toBeUndefined();
  });

  it('dampedFactor grows the damping until a rank-deficient H factors', () => {
    const singular = new Float64Array([1, 1, 1, 1]);
    const { lambda } = dampedFactor(singular, 2, 0, cholesky, 'test');
    expect(lambda).toBeGreaterThan(0);
    expect(() => dampedFactor(new Float64Array([-1, 0, 0, -1]), 2, 0.01, cholesky, "layer 'x'")).toThrow(
      /layer 'x': the 2 x 2 input Hessian is not positive definite/,
    );
  });

  it('ridgeSolve recovers W from H and X^T X W when unregularised; a ridge shrinks it', () => {
    const cross = new Float64Array(K * N);
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) for (let c = 0; c < N; c++) cross[i * N + c] += h[i * K + j] * w[j * N + c];
    const sol = ridgeSolve(h, K, cross, N, 0);
    // H is nearly rank 3: the solution need not be W, but it reproduces X W.
    expect(residual(sol, w) / residual(w, new Float64Array(K * N))).toBeLessThan(1e-8);
    const shrunk = ridgeSolve(h, K, cross, N, 1);
    expect(shrunk.reduce((a, v) => a + v * v, 0)).toBeLessThan(sol.reduce((a, v) => a + v * v, 0));
  });

  it('refitRows: the kept inputs reproduce the full output better than dropping the others, at the least-squares optimum', () => {
    const kept = [0, 2, 5, 7, 11];
    const refit = refitRows(h, K, w, N, kept, 0);
    const expand = (sub: ArrayLike<number>) => {
      const full = new Float64Array(K * N);
      kept.forEach((r, i) => {
        for (let c = 0; c < N; c++) full[r * N + c] = sub[i * N + c];
      });
      return full;
    };
    const dropped = expand(Float64Array.from(kept.flatMap((r) => Array.from(w.subarray(r * N, (r + 1) * N)))));
    const best = residual(w, expand(refit));
    expect(best).toBeLessThan(residual(w, dropped));
    for (const i of [0, 7, 19]) expect(residual(w, expand(refit.map((v, j) => (j === i ? v + 0.01 : v))))).toBeGreaterThan(best);
  });

  it('names the field at fault', () => {
    expect(() => ridgeSolve(new Float64Array(4), 2, new Float64Array(3), 2)).toThrow(/ridgeSolve: the cross term has 3 entries, expected 2 x 2/);
    expect(() => ridgeSolve(h, K, new Float64Array(K), 1, -1)).toThrow(/'ridge' must be a finite number >= 0, got -1/);
    expect(() => refitRows(h, K, w, N, [99])).toThrow(/refitRows: kept row 99 is not in 0..11/);
  });
});
