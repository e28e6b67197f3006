import { describe, expect, it } from 'vitest';
import { GraphBuilder, referenceValues, type Padding } from '@condense/ir';
import { outputEnergy } from './error.js';
import { layerSpec, type LayerSpec } from './layout.js';
import { accumulate, createStats, inputMean, statsReport } from './stats.js';
import { correlatedRows, randomValues } from './test-data.js';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** Y^T Y and the column sums of Y for Y rows x k. */
function gramOf(y: ArrayLike<number>, k: number): { h: Float64Array; sum: Float64Array } {
  const h = new Float64Array(k * k);
  const sum = new Float64Array(k);
  for (let r = 0; r < y.length / k; r++)
    for (let a = 0; a < k; a++) {
      sum[a] += y[r * k + a];
      for (let b = 0; b < k; b++) h[a * k + b] += y[r * k + a] * y[r * k + b];
    }
  return { h, sum };
}

interface Window {
  kh: number;
  kw: number;
  padding: Padding;
  strides: [number, number];
  dilation: [number, number];
}

/**
 * The im2col matrix by brute force through the IR's reference conv: a conv whose kernel is the
 * identity (output channel j reads only patch row j, in HWIO order) outputs exactly the patches.
 */
function patchesByConv(x: Float32Array, shape: [number, number, number, number], w: Window): Float64Array {
  const [n, h, wd, c] = shape;
  const k = w.kh * w.kw * c;
  const identity = new Float32Array(k * k);
  for (let j = 0; j < k; j++) identity[j * k + j] = 1;
  const b = new GraphBuilder('patches', [h, wd, c]);
  b.add('conv2d', [b.current], { padding: w.padding, strides: w.strides, dilation: w.dilation }, { kernel: [[w.kh, w.kw, c, k], identity] }, 'conv');
  return referenceValues(b.build(), x, n).get('conv')!.data;
}

/** Channels [from, from + count) of an NHWC tensor. */
function channelSlice(x: Float32Array, c: number, from: number, count: number): Float32Array {
  const out = new Float32Array((x.length / c) * count);
  for (let p = 0; p < x.length / c; p++) for (let i = 0; i < count; i++) out[p * count + i] = x[p * c + from + i];
  return out;
}

const WINDOWS: [string, Window][] = [
  ['3x3 valid', { kh: 3, kw: 3, padding: 'valid', strides: [1, 1], dilation: [1, 1] }],
  ['3x2 same, stride 2', { kh: 3, kw: 2, padding: 'same', strides: [2, 2], dilation: [1, 1] }],
  ['2x3 same, dilation 2', { kh: 2, kw: 3, padding: 'same', strides: [1, 1], dilation: [2, 2] }],
  ['3x3 valid, stride [2, 1], dilation [1, 2]', { kh: 3, kw: 3, padding: 'valid', strides: [2, 1], dilation: [1, 2] }],
];

describe('layer statistics', () => {
  it('dense: H = X^T X and the sums, the same streamed in batches as at once', () => {
    const [k, rows] = [10, 300];
    const x = correlatedRows(rows, k, 4);
    const whole = createStats({ name: 'fc', op: 'dense', kernelShape: [k, 3] });
    accumulate(whole, x, [rows, k]);
    const streamed = createStats({ name: 'fc', op: 'dense', kernelShape: [k, 3] });
    accumulate(streamed, x.subarray(0, 100 * k), [100, k]);
    accumulate(streamed, x.subarray(100 * k), [20, 10, k]); // rank-3 input: every leading position is a row
    const want = gramOf(x, k);
    for (const s of [whole, streamed]) {
      expect(maxAbsDiff(s.hessians[0], want.h)).toBeLessThan(1e-9);
      expect(maxAbsDiff(s.sums[0], want.sum)).toBeLessThan(1e-9);
      expect(s.rows).toBe(rows);
    }
    expect([streamed.batches, streamed.examples]).toEqual([2, 120]);
    expect(
      maxAbsDiff(
        inputMean(whole, 0),
        want.sum.map((v) => v / rows),
      ),
    ).toBeLessThan(1e-12);
  });

  for (const [label, w] of WINDOWS) {
    it(`conv2d im2col (${label}): H equals the Gram matrix of the patches a brute-force conv produces`, () => {
      const shape: [number, number, number, number] = [2, 7, 6, 3];
      const x = randomValues(
        shape.reduce((a, b) => a * b),
        5,
        1,
      );
      const spec: LayerSpec = { name: 'conv', op: 'conv2d', kernelShape: [w.kh, w.kw, 3, 4], padding: w.padding, strides: w.strides, dilation: w.dilation };
      const stats = createStats(spec);
      accumulate(stats, x, shape);
      const want = gramOf(patchesByConv(x, shape, w), w.kh * w.kw * 3);
      expect(maxAbsDiff(stats.hessians[0], want.h)).toBeLessThan(1e-9);
      expect(maxAbsDiff(stats.sums[0], want.sum)).toBeLessThan(1e-9);
    });
  }

  it('positions: a seeded subset of each example’s output positions, the same streamed as at once', () => {
    const shape: [number, number, number, number] = [40, 7, 6, 3];
    const x = randomValues(
      shape.reduce((a, b) => a * b),
      8,
      1,
    );
    const spec: LayerSpec = { name: 'conv', op: 'conv2d', kernelShape: [3, 3, 3, 4], padding: 'same' };
    const full = createStats(spec);
    accumulate(full, x, shape);
    const sub = (seed: number, batches: number) => {
      const st = createStats(spec, { positions: 10, seed });
      const per = x.length / 40;
      for (let e = 0; e < 40; e += 40 / batches) accumulate(st, x.subarray(e * per, (e + 40 / batches) * per), [40 / batches, 7, 6, 3]);
      return st;
    };
    const [a, b, c] = [sub(3, 1), sub(3, 4), sub(4, 1)];
    expect([a.rows, full.rows]).toEqual([400, 40 * 42]);
    expect(maxAbsDiff(b.hessians[0], a.hessians[0])).toBeLessThan(1e-9);
    expect(c.hessians[0]).not.toEqual(a.hessians[0]);
    // A subset of the rows: every diagonal entry at most the full one; on average 10 / 42 of it.
    const k = 27;
    let [tr, trFull] = [0, 0];
    for (let i = 0; i < k; i++) {
      expect(a.hessians[0][i * k + i]).toBeLessThanOrEqual(full.hessians[0][i * k + i] + 1e-9);
      [tr, trFull] = [tr + a.hessians[0][i * k + i], trFull + full.hessians[0][i * k + i]];
    }
    expect(tr / trFull).toBeCloseTo(10 / 42, 1);
    const all = createStats(spec, { positions: 42 });
    accumulate(all, x, shape);
    expect(all.hessians[0]).toEqual(full.hessians[0]);
    expect(() => createStats(spec, { positions: 0 })).toThrow(/layer 'conv': 'positions' must be a positive integer, got 0/);
  });

  it('grouped conv: one H per group, over that group input channels', () => {
    const shape: [number, number, number, number] = [2, 6, 6, 6];
    const x = randomValues(
      shape.reduce((a, b) => a * b),
      6,
      1,
    );
    const w = WINDOWS[1][1];
    const stats = createStats({ name: 'g', op: 'conv2d', kernelShape: [w.kh, w.kw, 2, 9], groups: 3, padding: w.padding, strides: w.strides });
    accumulate(stats, x, shape);
    expect(stats.hessians).toHaveLength(3);
    for (let g = 0; g < 3; g++) {
      const want = gramOf(patchesByConv(channelSlice(x, 6, 2 * g, 2), [2, 6, 6, 2], w), w.kh * w.kw * 2);
      expect(maxAbsDiff(stats.hessians[g], want.h)).toBeLessThan(1e-9);
    }
  });

  it('depthwise: one small H per channel, and || depthwise(x, W) ||^2 from it matches the IR reference', () => {
    const shape: [number, number, number, number] = [2, 6, 5, 4];
    const x = randomValues(
      shape.reduce((a, b) => a * b),
      7,
      1,
    );
    const b = new GraphBuilder('dw', [6, 5, 4]).depthwiseConv2d(3, { name: 'dw', padding: 'same', depthMultiplier: 2, bias: false });
    const graph = b.build();
    const stats = createStats(layerSpec(graph, 'dw'));
    accumulate(stats, x, shape);
    expect(stats.hessians.map((h) => h.length)).toEqual([81, 81, 81, 81]);
    const w = WINDOWS[0][1];
    for (let c = 0; c < 4; c++) {
      const want = gramOf(patchesByConv(channelSlice(x, 4, c, 1), [2, 6, 5, 1], { ...w, padding: 'same' }), 9);
      expect(maxAbsDiff(stats.hessians[c], want.h)).toBeLessThan(1e-9);
    }
    const y = referenceValues(graph, x, 2).get('dw')!.data;
    const energy = y.reduce((a, v) => a + v * v, 0);
    expect(outputEnergy(stats, graph.params.get('dw/kernel')!.data)).toBeCloseTo(energy, 8);
  });

  it('reports size, rows, memory and time', () => {
    const stats = createStats({ name: 'conv', op: 'conv2d', kernelShape: [3, 3, 2, 5], padding: 'valid' });
    accumulate(stats, randomValues(2 * 5 * 5 * 2), [2, 5, 5, 2]);
    const r = statsReport(stats);
    expect(r).toMatchObject({ layer: 'conv', op: 'conv2d', blocks: 1, size: 18, rows: 18, examples: 2 });
    expect(r.bytes).toBeGreaterThanOrEqual(8 * 18 * 18);
    expect(r.ms).toBeGreaterThanOrEqual(0);
  });

  it('names the layer on a bad input', () => {
    const stats = createStats({ name: 'conv9', op: 'conv2d', kernelShape: [3, 3, 2, 5] });
    expect(() => accumulate(stats, new Float32Array(2 * 5 * 5 * 3), [2, 5, 5, 3])).toThrow(/layer 'conv9'.*\[n, h, w, 2\]/);
    expect(() => accumulate(stats, new Float32Array(2 * 2 * 2 * 2), [2, 2, 2, 2])).toThrow(/layer 'conv9'.*does not fit/);
    expect(() => accumulate(stats, new Float32Array(7), [2, 5, 5, 2])).toThrow(/layer 'conv9'.*7 values/);
    expect(() => createStats({ name: 'p', op: 'maxPool2d' as never, kernelShape: [2, 2] })).toThrow(/layer 'p'.*no kernel/);
    expect(() => createStats({ name: 'g', op: 'conv2d', kernelShape: [3, 3, 2, 5], groups: 2 })).toThrow(/layer 'g'.*groups/);
  });
});
