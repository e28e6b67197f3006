import { GraphBuilder, gaussian, getParam, lenet5, param, quantRange, quantSlot, quantize, rng, setMask, type Param } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { quantizeAffine, quantizeGraphAffine, tfjsQuantization, tfjsQuantizedWeight, type AffineOptions } from './affine.js';
import { shareWeights } from './weight-sharing.js';

/** A dense-like [in, out] kernel whose output channels have very different ranges, some zeros and an all-positive channel. */
function kernel(seed = 1, shape = [16, 6]): Param {
  const normal = gaussian(rng(seed));
  const out = shape.at(-1)!;
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => {
    const ch = i % out;
    if (i % 7 === 0) return 0;
    return ch === 0 ? 1 + Math.abs(normal()) : normal() * 0.1 * (ch + 1);
  });
  return param('k', shape, data);
}

/** Every element (masked ones: exactly 0) within scale/2 of the original, plus float32 rounding. */
function expectWithinHalfStep(p: Param, original: Float32Array): void {
  const q = p.quant!;
  const slot = quantSlot(p.shape, q.axis);
  let bad = 0;
  for (let i = 0; i < original.length; i++) {
    if (p.mask && p.mask[i] === 0) {
      if (!Object.is(p.data[i], 0)) bad++;
      continue;
    }
    const bound = q.scale[slot(i)] / 2 + Math.abs(original[i]) * 2 ** -23;
    if (Math.abs(p.data[i] - original[i]) > bound) bad++;
    if (original[i] === 0 && p.data[i] !== 0) bad++;
  }
  expect(bad).toBe(0);
}

const COMBOS: AffineOptions[] = [];
for (const dtype of ['uint8', 'int8', 'uint16', 'int16'] as const) {
  for (const symmetric of [false, true]) for (const perChannel of [false, true]) COMBOS.push({ dtype, symmetric, perChannel });
}
for (const bits of [1, 2, 3, 4, 5])
  for (const signed of [false, true]) COMBOS.push({ bits, signed, symmetric: bits > 1 && bits % 2 === 0, perChannel: bits % 3 === 0 });

describe('quantizeAffine', () => {
  it.each(COMBOS)('round-trips within scale/2 with 0 exactly representable: %o', (o) => {
    const p = kernel();
    setMask(
      p,
      Uint8Array.from({ length: p.data.length }, (_, i) => (i % 5 === 3 ? 0 : 1)),
    );
    const original = p.data.slice();
    const r = quantizeAffine(p, o);
    const q = p.quant!;
    const [qmin, qmax] = quantRange(q);
    expect(q.scale.length).toBe(o.perChannel ? 6 : 1);
    expect(r.channels).toBe(q.scale.length);
    for (let s = 0; s < q.scale.length; s++) {
      // Zero is a code: the zero point is an integer inside the code range.
      expect(Number.isInteger(q.zeroPoint[s])).toBe(true);
      expect(q.zeroPoint[s]).toBeGreaterThanOrEqual(qmin);
      expect(q.zeroPoint[s]).toBeLessThanOrEqual(qmax);
      if (o.symmetric) expect(q.zeroPoint[s]).toBe(q.signed ? 0 : 2 ** (q.bits - 1));
    }
    expectWithinHalfStep(p, original);
    expect(r.maxAbsError).toBeLessThanOrEqual(r.errorBound * (1 + 1e-6));
    // Re-quantizing dequantized data reproduces it exactly: the codes are stable.
    const codes = quantize(p, q);
    for (const c of codes) expect(c >= qmin && c <= qmax).toBe(true);
  });

  it('uses the full code range asymmetrically and stretches an all-positive range down to 0', () => {
    const p = param('w', [4], Float32Array.of(1, 2, 3, 4));
    quantizeAffine(p, { dtype: 'uint8' });
    expect(p.quant!.zeroPoint[0]).toBe(0);
    expect(p.quant!.scale[0]).toBeCloseTo(4 / 255, 7);
    expect(p.data[3]).toBeCloseTo(4, 6);
  });

  it('per channel beats per tensor when channel ranges differ', () => {
    const a = kernel();
    const b = kernel();
    const perTensor = quantizeAffine(a, { dtype: 'int8' });
    const perChannel = quantizeAffine(b, { dtype: 'int8', perChannel: true });
    expect(perChannel.mse).toBeLessThan(perTensor.mse / 2);
    expect(perChannel.axis).toBe(1);
    expect(perTensor.axis).toBeUndefined();
  });

  it('takes any channel axis, negative ones counted from the end', () => {
    const p = kernel(2, [3, 3, 2, 5]);
    quantizeAffine(p, { axis: -2 });
    expect(p.quant!.axis).toBe(2);
    expect(p.quant!.scale.length).toBe(2);
  });

  it('replaces the float16 mark and an earlier quantization', () => {
    const p = kernel();
    p.float16 = true;
    quantizeAffine(p, { dtype: 'uint16' });
    quantizeAffine(p, { dtype: 'uint8' });
    expect(p.float16).toBeUndefined();
    expect(p.quant!.bits).toBe(8);
  });

  it('names the field or param at fault', () => {
    expect(() => quantizeAffine(kernel(), { bits: 0 })).toThrow(/param 'k': 'bits' must be an integer in 1\.\.16, got 0/);
    expect(() => quantizeAffine(kernel(), { bits: 17 })).toThrow(/'bits' must be an integer in 1\.\.16, got 17/);
    expect(() => quantizeAffine(kernel(), { dtype: 'int4' as 'int8' })).toThrow(/'dtype' must be one of/);
    expect(() => quantizeAffine(kernel(), { dtype: 'uint8', bits: 4 })).toThrow(/'dtype' uint8 contradicts bits 4/);
    expect(() => quantizeAffine(kernel(), { bits: 1, symmetric: true })).toThrow(/symmetric quantization needs 'bits' >= 2/);
    expect(() => quantizeAffine(kernel(), { axis: 2 })).toThrow(/'axis' 2 is out of range for shape \[16, 6\]/);
    const shared = kernel();
    shareWeights(shared, { bits: 3 });
    expect(() => quantizeAffine(shared)).toThrow(/param 'k' is weight-shared/);
  });
});

describe('quantizeGraphAffine', () => {
  it('quantizes kernels per output channel: last axis for dense and conv, the channel axis for depthwise', () => {
    const g = new GraphBuilder('g', [8, 8, 3], 1)
      .conv2d(4, 3, { name: 'conv' })
      .depthwiseConv2d(3, { name: 'dw', depthMultiplier: 2 })
      .flatten()
      .dense(5, { name: 'fc' })
      .build();
    const reports = quantizeGraphAffine(g, { dtype: 'int8', perChannel: true });
    expect(reports.map((r) => [r.param, r.axis, r.channels])).toEqual([
      ['conv/kernel', 3, 4],
      ['dw/kernel', 2, 4],
      ['fc/kernel', 1, 5],
    ]);
    expect(reports.every((r) => !r.tfjs)).toBe(true);
    expect(getParam(g, 'fc/bias').quant).toBeUndefined();
  });

  it('selects layers and errors on a pattern that matches nothing', () => {
    const g = lenet5(1);
    expect(quantizeGraphAffine(g, { layers: 'conv*' }).map((r) => r.param)).toEqual(['conv1/kernel', 'conv2/kernel']);
    expect(() => quantizeGraphAffine(g, { layers: ['fc1', 'nope'] })).toThrow(/quantizeGraphAffine: include pattern 'nope' matches no/);
  });
});

describe('TF.js manifests', () => {
  it.each([{ dtype: 'uint8' }, { dtype: 'int8' }, { dtype: 'uint16', symmetric: true }, { dtype: 'int16' }, { bits: 4 }] as AffineOptions[])(
    'express per-tensor %o exactly: code * scale + min == data',
    (o) => {
      const p = kernel(3);
      setMask(
        p,
        Uint8Array.from({ length: p.data.length }, (_, i) => (i % 4 === 1 ? 0 : 1)),
      );
      quantizeAffine(p, o);
      const w = tfjsQuantizedWeight(p)!;
      expect(w.quantization.dtype).toBe(p.quant!.bits <= 8 ? 'uint8' : 'uint16');
      expect(w.codes).toBeInstanceOf(p.quant!.bits <= 8 ? Uint8Array : Uint16Array);
      // What tfjs-core's io_utils does when it decodes a quantized weight.
      const decoded = Float32Array.from(w.codes, (v) => v * w.quantization.scale + w.quantization.min);
      expect(decoded).toEqual(p.data);
    },
  );

  it('cannot express per-channel scales', () => {
    const p = kernel();
    quantizeAffine(p, { perChannel: true });
    expect(tfjsQuantization(p.quant!)).toBeUndefined();
    expect(tfjsQuantizedWeight(p)).toBeUndefined();
    expect(tfjsQuantizedWeight(kernel())).toBeUndefined();
  });
});
