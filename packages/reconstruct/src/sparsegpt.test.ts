import { describe, expect, it } from 'vitest';
import { outputEnergy } from './error.js';
import { sparseGpt } from './sparsegpt.js';
import { accumulate, createStats } from './stats.js';
import { correlatedRows, denseStats, randomValues } from './test-data.js';

const [K, N, ROWS] = [64, 12, 512];
const x = correlatedRows(ROWS, K, 21);
const w = randomValues(K * N, 22);
const stats = denseStats(x, K, N);

/** Magnitude pruning of the same amount, no update: the baseline. `groupOf(i)` = the set an element competes in. */
function magnitude(data: Float32Array, pruneCount: (members: number[]) => number, groupOf: (i: number) => number): Float32Array {
  const groups = new Map<number, number[]>();
  data.forEach((_, i) => groups.set(groupOf(i), [...(groups.get(groupOf(i)) ?? []), i]));
  const out = data.slice();
  for (const members of groups.values()) {
    members.sort((a, b) => Math.abs(data[a]) - Math.abs(data[b]));
    for (const i of members.slice(0, pruneCount(members))) out[i] = 0;
  }
  return out;
}

/** Zeros of each column in each group of m consecutive rows. */
function nmZeros(mask: Uint8Array, m: number): number[] {
  const counts: number[] = [];
  for (let r0 = 0; r0 < K; r0 += m)
    for (let c = 0; c < N; c++) {
      let z = 0;
      for (let r = r0; r < r0 + m; r++) z += mask[r * N + c] === 0 ? 1 : 0;
      counts.push(z);
    }
  return counts;
}

describe('sparseGpt', () => {
  it('50% unstructured: exactly half pruned, the output error below magnitude pruning and below the same mask without the update', () => {
    const r = sparseGpt(stats, w, { sparsity: 0.5 });
    expect(r.sparsity).toBe(0.5);
    r.data.forEach((v, i) => r.mask[i] === 0 && expect(v).toBe(0));
    const mag = magnitude(
      w,
      (m) => m.length / 2,
      () => 0,
    );
    expect(r.error.after).toBeLessThan(outputEnergy(stats, w, mag));
    expect(r.error.after).toBeLessThan(0.5 * r.error.before);
  });

  it("scope 'output': every output channel prunes exactly its share", () => {
    const r = sparseGpt(stats, w, { sparsity: 0.75, scope: 'output' });
    for (let c = 0; c < N; c++) {
      let zeros = 0;
      for (let k = 0; k < K; k++) zeros += r.mask[k * N + c] === 0 ? 1 : 0;
      expect(zeros).toBe(48);
    }
    expect(r.error.after).toBeLessThan(
      outputEnergy(
        stats,
        w,
        magnitude(
          w,
          (m) => (m.length * 3) / 4,
          (i) => i % N,
        ),
      ),
    );
  });

  it('the layer target holds exactly across lazy blocks that do not divide it', () => {
    const r = sparseGpt(stats, w, { sparsity: 0.3, blockSize: 7 });
    expect(r.mask.reduce((a, v) => a + (v === 0 ? 1 : 0), 0)).toBe(Math.round(0.3 * K * N));
  });

  it('2:4: exactly 2 zeros in every group of 4 consecutive inputs of every output, error below magnitude 2:4', () => {
    const r = sparseGpt(stats, w, { nm: { n: 2, m: 4 }, blockSize: 10 });
    expect(new Set(nmZeros(r.mask, 4))).toEqual(new Set([2]));
    const mag = magnitude(
      w,
      () => 2,
      (i) => Math.floor(i / N / 4) * N + (i % N),
    );
    expect(
      new Set(
        nmZeros(
          Uint8Array.from(mag, (v) => (v === 0 ? 0 : 1)),
          4,
        ),
      ),
    ).toEqual(new Set([2]));
    expect(r.error.after).toBeLessThan(outputEnergy(stats, w, mag));
  });

  it('1:4 on a conv kernel: groups run along the HWIO input rows', () => {
    const shape = [3, 6, 6, 4];
    const s = createStats({ name: 'conv', op: 'conv2d', kernelShape: [3, 3, 4, 5], padding: 'same' });
    accumulate(
      s,
      randomValues(
        shape.reduce((a, b) => a * b),
        23,
        1,
      ),
      shape,
    );
    const kernel = randomValues(3 * 3 * 4 * 5, 24);
    const r = sparseGpt(s, kernel, { nm: { n: 1, m: 4 } });
    for (let r0 = 0; r0 < 36; r0 += 4)
      for (let c = 0; c < 5; c++) {
        let z = 0;
        for (let k = r0; k < r0 + 4; k++) z += r.mask[k * 5 + c] === 0 ? 1 : 0;
        expect(z).toBe(1);
      }
    expect(r.error.after).toBeLessThan(r.error.before);
  });

  it('an existing mask stays pruned and counts towards the target', () => {
    const mask = Uint8Array.from({ length: K * N }, (_, i) => (i % 5 === 0 ? 0 : 1));
    const pre = Float32Array.from(w, (v, i) => (mask[i] ? v : 0));
    const r = sparseGpt(stats, pre, { sparsity: 0.5, mask });
    mask.forEach((m, i) => m === 0 && expect(r.mask[i]).toBe(0));
    expect(r.sparsity).toBe(0.5);
  });

  it('rejects bad targets, naming the layer', () => {
    expect(() => sparseGpt(stats, w, { sparsity: 1 })).toThrow(/layer 'fc'.*'sparsity'/);
    expect(() => sparseGpt(stats, w, { sparsity: 0.5, nm: { n: 2, m: 4 } })).toThrow(/layer 'fc'.*not both/);
    expect(() => sparseGpt(stats, w, { nm: { n: 2, m: 5 } })).toThrow(/layer 'fc'.*64 input rows.*multiple of 5/);
    expect(() => sparseGpt(stats, w, { sparsity: 0.5, scope: 'row' as never })).toThrow(/layer 'fc'.*'scope'/);
  });
});
