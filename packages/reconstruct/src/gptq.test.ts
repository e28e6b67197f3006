import { describe, expect, it } from 'vitest';
import { quantRange } from '@condense/ir';
import { outputEnergy } from './error.js';
import { gptq, gptqCodebook } from './gptq.js';
import { roundToGrid } from './grid.js';
import { accumulate, createStats } from './stats.js';
import { bruteError, correlatedRows, denseStats, randomValues } from './test-data.js';

const [K, N, ROWS] = [64, 12, 512];
const x = correlatedRows(ROWS, K, 11);
const w = randomValues(K * N, 12);
const stats = denseStats(x, K, N);

/** The integer code of every element under the result's grid. */
function codes(r: ReturnType<typeof gptq>): number[] {
  return Array.from(r.data, (v, i) => {
    const s = Math.floor(Math.floor(i / N) / r.grid.groupSize) * r.grid.channels + (i % N);
    return Math.round(v / r.grid.scale[s]) + r.grid.zeroPoint[s];
  });
}

describe('gptq', () => {
  for (const bits of [4, 3]) {
    it(`${bits} bits: the layer output error is well below round-to-nearest's on correlated inputs`, () => {
      const r = gptq(stats, w, { bits });
      expect(r.error.after).toBeLessThan(r.error.before);
      expect(r.error.relativeAfter).toBeLessThan(0.5 * r.error.relativeBefore);
      // The H-based errors are the real output errors.
      const rtn = gptq(stats, w, { bits, blockSize: 1, damp: 0 });
      expect(r.error.reference).toBeCloseTo(bruteError(x, K, N, w), 6);
      expect(r.error.after / bruteError(x, K, N, w, r.data)).toBeCloseTo(1, 9);
      expect(rtn.error.before).toBeCloseTo(r.error.before, 9);
    });
  }

  it('every value is on the grid: integer codes in range, one scale per output channel', () => {
    const r = gptq(stats, w, { bits: 4 });
    expect(r.grid.scale).toHaveLength(N);
    const [qmin, qmax] = quantRange(r.grid);
    for (const q of codes(r)) expect(q >= qmin && q <= qmax).toBe(true);
    r.data.forEach((v, i) => {
      const s = i % N;
      expect(v).toBe(Math.fround(r.grid.scale[s] * (codes(r)[i] - r.grid.zeroPoint[s])));
    });
  });

  it('compensate: false is round-to-nearest on the same grid', () => {
    const r = gptq(stats, w, { bits: 3 });
    const rtn = gptq(stats, w, { bits: 3, compensate: false });
    expect(rtn.grid.scale).toEqual(r.grid.scale);
    expect(rtn.error.after).toBe(r.error.before);
    rtn.data.forEach((v, i) => expect(v).toBe(roundToGrid(rtn.grid, i % N, w[i])));
    const cb = gptqCodebook(stats, w, { bits: 3, compensate: false });
    expect(cb.error.after).toBe(gptqCodebook(stats, w, { bits: 3 }).error.before);
    cb.data.forEach((v, i) => expect(v).toBe(cb.codebook.centroids[cb.codebook.indices[i]]));
  });

  it('lazy block size changes speed, not the result', () => {
    const a = gptq(stats, w, { bits: 3, blockSize: 128 });
    const b = gptq(stats, w, { bits: 3, blockSize: 5 });
    const changed = codes(a).filter((q, i) => q !== codes(b)[i]).length;
    expect(changed).toBeLessThanOrEqual(1);
    expect(b.error.after / a.error.after).toBeCloseTo(1, 2);
  });

  it('act-order and groups: both still beat round-to-nearest, groups fit finer grids', () => {
    const plain = gptq(stats, w, { bits: 3 });
    const ordered = gptq(stats, w, { bits: 3, actOrder: true });
    const grouped = gptq(stats, w, { bits: 3, groupSize: 16 });
    const both = gptq(stats, w, { bits: 3, groupSize: 16, actOrder: true });
    for (const r of [ordered, grouped, both]) expect(r.error.after).toBeLessThan(r.error.before);
    expect(grouped.grid).toMatchObject({ groupSize: 16, groups: 4, channels: N });
    expect(grouped.grid.scale).toHaveLength(4 * N);
    expect(grouped.error.before).toBeLessThan(plain.error.before);
  });

  it('keeps masked weights at exactly 0 and compensates for them', () => {
    const mask = Uint8Array.from({ length: K * N }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const pruned = Float32Array.from(w, (v, i) => (mask[i] ? v : 0));
    const r = gptq(stats, pruned, { bits: 4, mask });
    r.data.forEach((v, i) => mask[i] === 0 && expect(v).toBe(0));
    expect(r.error.after).toBeLessThan(r.error.before);
  });

  it('dead inputs: rounded on their own by default, zeroed with zeroDead', () => {
    const xd = x.slice();
    for (let r = 0; r < ROWS; r++) xd[r * K + 5] = 0;
    const s = denseStats(xd, K, N);
    const r = gptq(s, w, { bits: 4 });
    expect(r.dead).toBe(1);
    expect(r.data.every(Number.isFinite)).toBe(true);
    // Decoupled: the dead row gets no feedback and passes none on, so it is plain round-to-nearest.
    for (let c = 0; c < N; c++) expect(r.data[5 * N + c]).toBe(roundToGrid(r.grid, c, w[5 * N + c]));
    const z = gptq(s, w, { bits: 4, zeroDead: true });
    for (let c = 0; c < N; c++) expect(z.data[5 * N + c]).toBe(0);
  });

  it('grows the damping when H is singular (fewer rows than inputs)', () => {
    const few = denseStats(correlatedRows(8, K, 3), K, N);
    const r = gptq(few, w, { bits: 4, damp: 0 });
    expect(r.damp).toBeGreaterThan(0);
    expect(r.error.after).toBeLessThan(r.error.before);
  });

  it('conv2d: im2col statistics, per output channel', () => {
    const shape = [4, 8, 8, 3];
    const input = randomValues(
      shape.reduce((a, b) => a * b),
      13,
      1,
    );
    const s = createStats({ name: 'conv', op: 'conv2d', kernelShape: [3, 3, 3, 6], padding: 'same' });
    accumulate(s, input, shape);
    const kernel = randomValues(3 * 3 * 3 * 6, 14);
    const r = gptq(s, kernel, { bits: 3 });
    expect(r.grid.scale).toHaveLength(6);
    expect(r.error.after).toBeLessThan(r.error.before);
    expect(r.error.after).toBeCloseTo(outputEnergy(s, kernel, r.data), 9);
  });

  it('rejects bad options, naming the layer and field', () => {
    expect(() => gptq(stats, w, { bits: 9 })).toThrow(/layer 'fc'.*'bits'/);
    expect(() => gptq(stats, w, { groupSize: 0 })).toThrow(/layer 'fc'.*'groupSize'/);
    expect(() => gptq(stats, w, { damp: -1 })).toThrow(/layer 'fc'.*'damp'/);
    expect(() => gptq(stats, w.subarray(1))).toThrow(/layer 'fc'.*kernel has 767 values/);
  });
});

describe('gptqCodebook', () => {
  it('assigns to a fitted codebook with error feedback: below nearest-centroid assignment', () => {
    const r = gptqCodebook(stats, w, { bits: 3 });
    expect(r.codebook.centroids).toHaveLength(8);
    expect(r.error.after).toBeLessThan(r.error.before);
    r.data.forEach((v, i) => expect(v).toBe(r.codebook.centroids[r.codebook.indices[i]]));
  });

  it('the Hessian-weighted codebook is no worse on the output than an unweighted one', () => {
    const weighted = gptqCodebook(stats, w, { bits: 2 });
    const plain = gptqCodebook(stats, w, { bits: 2, weighted: false });
    expect(weighted.error.before).toBeLessThanOrEqual(plain.error.before * 1.05);
  });
});
