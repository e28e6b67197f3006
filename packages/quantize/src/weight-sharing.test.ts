import {
  GraphBuilder,
  fitsStored,
  fromFloat16Bits,
  gaussian,
  getParam,
  lenet300100,
  lenet5,
  param,
  rng,
  setMask,
  toFloat16Bits,
  type Param,
} from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { DEEP_COMPRESSION_BITS, shareGraphWeights, shareWeights } from './weight-sharing.js';

function randomParam(name: string, n: number, seed: number): Param {
  const normal = gaussian(rng(seed));
  return param(
    name,
    [n],
    Float32Array.from({ length: n }, () => 0.1 * normal()),
  );
}

/** Mask keeping every third element. */
function thirdsMask(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
}

/** data == centroids[index] for kept elements, data == 0 and index == 0 for masked ones. */
function expectConsistent(p: Param): void {
  const cb = p.codebook!;
  let bad = 0;
  for (let i = 0; i < p.data.length; i++) {
    const kept = !p.mask || p.mask[i] === 1;
    if (kept ? p.data[i] !== cb.centroids[cb.indices[i]] : p.data[i] !== 0 || cb.indices[i] !== 0) bad++;
  }
  expect(bad).toBe(0);
}

describe('shareWeights', () => {
  it('clusters a param into at most 2^bits centroids with data == centroids[index]', () => {
    const p = randomParam('w', 4000, 1);
    const original = p.data.slice();
    const r = shareWeights(p, { bits: 4 });
    expect(r).toMatchObject({ param: 'w', bits: 4, k: 16, centroids: 16, clustersUsed: 16, weights: 4000 });
    expect(p.codebook!.bits).toBe(4);
    expectConsistent(p);
    let sq = 0;
    let max = 0;
    for (let i = 0; i < original.length; i++) {
      sq += (p.data[i] - original[i]) ** 2;
      max = Math.max(max, Math.abs(p.data[i] - original[i]));
    }
    expect(r.mse).toBeCloseTo(sq / original.length, 12);
    expect(r.maxAbsError).toBe(max);
    // 16 levels over roughly +-0.35: the error is far below the weights' spread.
    expect(r.maxAbsError).toBeLessThan(0.05);
  });

  it('clusters only the kept weights: pruned ones keep index 0 and data 0, whatever centroid 0 is', () => {
    const p = randomParam('w', 3000, 2);
    setMask(p, thirdsMask(3000));
    // Kept weights all positive, so a centroid near 0 would only come from the pruned zeros.
    for (let i = 0; i < p.data.length; i += 3) p.data[i] = 1 + Math.abs(p.data[i]);
    const r = shareWeights(p, { bits: 2 });
    expect(r.weights).toBe(1000);
    expectConsistent(p);
    for (const c of p.codebook!.centroids) expect(c).toBeGreaterThan(1);
    expect(p.codebook!.centroids[0]).not.toBe(0);
  });

  it('keeps only the distinct values as centroids when there are fewer than 2^bits, with zero error', () => {
    const p = param('w', [2, 3], Float32Array.of(0.5, -0.5, 0.5, 0.25, -0.5, 0.25));
    const r = shareWeights(p, { bits: 8 });
    expect(Array.from(p.codebook!.centroids)).toEqual([-0.5, 0.25, 0.5]);
    expect(Array.from(p.data)).toEqual([0.5, -0.5, 0.5, 0.25, -0.5, 0.25]);
    expect(r).toMatchObject({ k: 256, centroids: 3, clustersUsed: 3, mse: 0, maxAbsError: 0 });
  });

  it('is idempotent: sharing a shared param again changes nothing', () => {
    const p = randomParam('w', 2000, 3);
    shareWeights(p, { bits: 5 });
    const once = p.data.slice();
    const r = shareWeights(p, { bits: 5 });
    expect(p.data).toEqual(once);
    expect(r.maxAbsError).toBe(0);
  });

  it('shares a fully pruned param as a single zero centroid', () => {
    const p = param('w', [4], Float32Array.of(1, 2, 3, 4));
    setMask(p, new Uint8Array(4));
    const r = shareWeights(p, { bits: 3 });
    expect(Array.from(p.codebook!.centroids)).toEqual([0]);
    expect(Array.from(p.data)).toEqual([0, 0, 0, 0]);
    expect(r).toMatchObject({ weights: 0, clustersUsed: 0 });
  });

  it('gives a float16 param float16 centroids', () => {
    const p = randomParam('w', 1000, 4);
    p.float16 = true;
    shareWeights(p, { bits: 3 });
    for (const c of p.codebook!.centroids) expect(fromFloat16Bits(toFloat16Bits(c))).toBe(c);
    expectConsistent(p);
  });

  it('keeps the centroids of a weight read from a uint8 manifest on its grid, so it writes back as uint8', () => {
    const scale = 0.0014681343354430853;
    const min = -128 * scale;
    const codes = Uint8Array.from({ length: 3000 }, (_, i) => Math.min(255, Math.max(0, Math.round(128 + 40 * gaussian(rng(i))()))));
    const p = param(
      'w',
      [codes.length],
      Float32Array.from(codes, (c) => c * scale + min),
    );
    p.stored = { entry: { name: 'w', shape: [codes.length], dtype: 'float32', quantization: { dtype: 'uint8', scale, min } }, bytes: codes };
    for (const bits of [5, 6, 7, 8]) {
      const r = shareWeights(p, { bits });
      for (const c of p.codebook!.centroids) expect(fitsStored({ ...p, data: Float32Array.of(c) }), `${bits} bits: centroid ${c}`).toBe(true);
      expect(fitsStored(p)).toBe(true);
      expect(r.maxAbsError).toBeLessThan(2 ** (8 - bits) * scale);
      expectConsistent(p);
    }
  });

  it.each([0, 17, 2.5, Number.NaN, '8'])('rejects bits = %s naming the field', (bits) => {
    expect(() => shareWeights(randomParam('fc1/kernel', 10, 1), { bits: bits as number })).toThrow(/param 'fc1\/kernel': 'bits' must be an integer in 1\.\.16/);
  });

  it('refuses an affine-quantized param', () => {
    const p = randomParam('w', 10, 1);
    p.quant = { bits: 8, signed: false, scale: Float32Array.of(1), zeroPoint: Int32Array.of(0) };
    expect(() => shareWeights(p, { bits: 4 })).toThrow(/'w' is affine-quantized/);
  });
});

describe('shareGraphWeights', () => {
  it('shares conv kernels at 8 bits and dense at 5 (the paper), leaving biases alone', () => {
    const g = lenet5(1);
    const reports = shareGraphWeights(g, { bits: DEEP_COMPRESSION_BITS });
    expect(reports.map((r) => [r.param, r.op, r.bits])).toEqual([
      ['conv1/kernel', 'conv2d', 8],
      ['conv2/kernel', 'conv2d', 8],
      ['fc1/kernel', 'dense', 5],
      ['fc2/kernel', 'dense', 5],
    ]);
    for (const r of reports) {
      expect(r.centroids).toBeLessThanOrEqual(r.k);
      expect(r.layer).toBe(r.param.split('/')[0]);
      expectConsistent(getParam(g, r.param));
    }
    expect(getParam(g, 'fc1/bias').codebook).toBeUndefined();
    expect(getParam(g, 'conv1/kernel').codebook!.centroids.length).toBe(256);
  });

  it('resolves bits: the most specific key wins (exact name, then glob, then op type)', () => {
    const g = lenet300100(1);
    const reports = shareGraphWeights(g, { bits: { 'fc*': 2, dense: 6, fc3: 3 } });
    expect(reports.map((r) => r.bits)).toEqual([2, 2, 3]);
    expect(shareGraphWeights(lenet300100(1), { bits: { dense: 6, fc3: 3 } }).map((r) => r.bits)).toEqual([6, 6, 3]);
    const byGlob = shareGraphWeights(lenet300100(1), { bits: { 'fc?': 4, 'fc1/kernel': 7 } });
    expect(byGlob.map((r) => r.bits)).toEqual([7, 4, 4]);
  });

  it('leaves params no bits key covers alone; op types absent from the graph are fine', () => {
    const g = lenet300100(1);
    const reports = shareGraphWeights(g, { bits: { fc2: 6, conv2d: 8 } });
    expect(reports.map((r) => r.param)).toEqual(['fc2/kernel']);
    expect(getParam(g, 'fc1/kernel').codebook).toBeUndefined();
  });

  it('selects layers by pattern and can include biases through kinds', () => {
    const g = lenet300100(1);
    const reports = shareGraphWeights(g, { bits: 6, layers: ['fc1', 'fc3'], kinds: ['weight', 'bias'] });
    expect(reports.map((r) => r.param)).toEqual(['fc1/kernel', 'fc1/bias', 'fc3/kernel', 'fc3/bias']);
  });

  it('names what is wrong: bits out of range, unknown layer keys and patterns', () => {
    const g = lenet300100(1);
    expect(() => shareGraphWeights(g, { bits: 0 })).toThrow(/shareGraphWeights: 'bits' must be an integer in 1\.\.16, got 0/);
    expect(() => shareGraphWeights(g, { bits: { dense: 17 } })).toThrow(/'bits\.dense' must be an integer in 1\.\.16, got 17/);
    expect(() => shareGraphWeights(g, { bits: { fc9: 5 } })).toThrow(/shareGraphWeights: bits key pattern 'fc9' matches no layer.*fc1\/kernel \(dense fc1\)/);
    expect(() => shareGraphWeights(g, { bits: { 'conv*': 5 } })).toThrow(/bits key pattern 'conv\*' matches no layer/);
    expect(() => shareGraphWeights(g, { bits: 5, layers: 'fc7' })).toThrow(/include pattern 'fc7' matches no/);
    expect(() => shareGraphWeights(g, { bits: 5, include: 'fc1/bias' })).toThrow(
      /include pattern 'fc1\/bias' matches no layer, param or op type \(candidates: fc1\/kernel/,
    );
    expect(() => shareGraphWeights(g, { bits: { fc2: 5 }, layers: ['fc1'] })).toThrow(/'fc1\/kernel' .* selected by 'include' but no key of 'bits' covers it/);
    // Nothing was changed by the failed calls.
    expect(getParam(g, 'fc1/kernel').codebook).toBeUndefined();
  });

  it('shares a param used by two nodes once', () => {
    const b = new GraphBuilder('tied', [4], 1).dense(4, { name: 'a', bias: false });
    b.add('dense', [b.current], {}, {}, 'b');
    b.graph.nodes[2].params.kernel = 'a/kernel';
    const reports = shareGraphWeights(b.build(), { bits: 2 });
    expect(reports.map((r) => r.param)).toEqual(['a/kernel']);
  });
});
