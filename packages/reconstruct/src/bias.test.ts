import { describe, expect, it } from 'vitest';
import { GraphBuilder, referenceValues } from '@condense/ir';
import { biasCorrection, correctBias } from './bias.js';
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
