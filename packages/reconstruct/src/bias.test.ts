import { describe, expect, it } from 'vitest';
import { GraphBuilder, referenceValues } from '@condense/ir';
import { biasCorrection, correctBias, refitRows, ridgeSolve } from './bias.js';
import { outputEnergy } from './error.js';
import { gptq } from './gptq.js';
import { layerSpec } from './layout.js';
import { accumulate, createStats } from './stats.js';
import { correlatedRows, denseStats, randomValues } from './test-data.js';

const [K, N, ROWS] = [16, 5, 400];
// Inputs with a clear non-zero mean (post-ReLU activations have one).
const x = correlatedRows(ROWS, K, 31).map((v) => v + 0.7);
const w = randomValues(K * N, 32);
const stats = denseStats(x, K, N);

/** Per output channel: the mean of X (after - before) over the rows, and the error with that mean removed. */
function bruteShift(after: ArrayLike<number>): { shift: number[]; errorAfter: number } {
  const shift = new Array(N).fill(0);
  const d = (r: number, c: number) => {
    let y = 0;
    for (let i = 0; i < K; i++) y += x[r * K + i] * (after[i * N + c] - w[i * N + c]);
    return y;
  };
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < N; c++) shift[c] += d(r, c) / ROWS;
  let errorAfter = 0;
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < N; c++) errorAfter += (d(r, c) - shift[c]) ** 2;
  return { shift, errorAfter };
}

describe('bias correction', () => {
  it('the output mean shift and the error left after correcting it match a brute-force computation', () => {
    const q = gptq(stats, w, { bits: 2 }).data;
    const bc = biasCorrection(stats, w, q);
    const want = bruteShift(q);
    bc.shift.forEach((v, c) => expect(v).toBeCloseTo(want.shift[c], 9));
    expect(bc.errorAfter).toBeCloseTo(want.errorAfter, 6);
    expect(bc.errorAfter).toBeLessThan(bc.errorBefore);
  });

  it('correctBias takes the shift out of the layer output (and creates a bias when there is none)', () => {
    const graph = new GraphBuilder('m', [6, 6, 2]).conv2d(3, 3, { name: 'conv', bias: false, padding: 'same' }).build();
    const input = randomValues(4 * 6 * 6 * 2, 33, 1).map((v) => v + 0.5);
    const stats2 = createStats(layerSpec(graph, 'conv'));
    accumulate(stats2, input, [4, 6, 6, 2]);
    const kernel = graph.params.get('conv/kernel')!;
    const y0 = referenceValues(graph, input, 4).get('conv')!.data;
    const before = kernel.data.slice();
    kernel.data.set(gptq(stats2, before, { bits: 2 }).data);
    const meanErr = (y: Float64Array) => Array.from({ length: 3 }, (_, c) => y.reduce((a, v, i) => (i % 3 === c ? a + v - y0[i] : a), 0) / (y.length / 3));
    const bc = biasCorrection(stats2, before, kernel.data);
    correctBias(graph, 'conv', bc.shift);
    expect(graph.nodes.find((n) => n.name === 'conv')!.params.bias).toBe('conv/bias');
    for (const m of meanErr(referenceValues(graph, input, 4).get('conv')!.data)) expect(Math.abs(m)).toBeLessThan(1e-6);
  });
});

describe('least squares', () => {
  it('ridgeSolve recovers W from H and X^T X W when unregularised', () => {
    const h = stats.hessians[0];
    const cross = new Float64Array(K * N);
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) for (let c = 0; c < N; c++) cross[i * N + c] += h[i * K + j] * w[j * N + c];
    const sol = ridgeSolve(h, K, cross, N, 0);
    sol.forEach((v, i) => expect(v).toBeCloseTo(w[i], 5));
    // The ridge shrinks the solution.
    const shrunk = ridgeSolve(h, K, cross, N, 1);
    expect(shrunk.reduce((a, v) => a + v * v, 0)).toBeLessThan(w.reduce((a, v) => a + v * v, 0));
  });

  it('refitRows: the kept inputs reproduce the full output better than just dropping the others, and it is the least-squares optimum', () => {
    const kept = [0, 1, 2, 4, 6, 7, 9, 10, 12, 15];
    const refit = refitRows(stats.hessians[0], K, Float64Array.from(w), N, kept, 0);
    const expand = (sub: ArrayLike<number>) => {
      const full = new Float64Array(K * N);
      kept.forEach((r, i) => { for (let c = 0; c < N; c++) full[r * N + c] = sub[i * N + c]; });
      return full;
    };
    const dropped = expand(Float64Array.from(kept.flatMap((r) => Array.from(w.subarray(r * N, (r + 1) * N)))));
    const eRefit = outputEnergy(stats, w, expand(refit));
    expect(eRefit).toBeLessThan(outputEnergy(stats, w, dropped));
    // Any perturbation of the optimum is worse.
    const nudged = expand(refit.map((v, i) => (i === 3 ? v + 0.01 : v)));
    expect(outputEnergy(stats, w, nudged)).toBeGreaterThan(eRefit);
  });

  it('names the field at fault', () => {
    expect(() => ridgeSolve(new Float64Array(4), 2, new Float64Array(3), 2)).toThrow(/cross term has 3 entries/);
    expect(() => refitRows(stats.hessians[0], K, Float64Array.from(w), N, [99])).toThrow(/kept row 99/);
  });
});
