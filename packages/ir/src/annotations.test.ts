import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  affineRange,
  applyQuant,
  density,
  enforceAnnotations,
  fromFloat16Bits,
  param,
  quantize,
  quantRange,
  quantSlot,
  quantSlots,
  setCodebook,
  setFloat16,
  setMask,
  setQuant,
  toFloat16Bits,
  type AffineQuant,
} from './index.js';

const f32 = (x: number) => Math.fround(x);

describe('mask', () => {
  it('setMask zeroes pruned elements and keeps the rest', () => {
    const p = param('w', [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
    setMask(p, Uint8Array.from([1, 0, 1, 0, 0, 1]));
    expect([...p.data]).toEqual([1, 0, 3, 0, 0, 6]);
    expect(density(p)).toBe(0.5);
    expect(() => setMask(p, new Uint8Array(5))).toThrow(/param 'w': mask has 5 entries, param has 6/);
  });
});

describe('codebook', () => {
  it('setCodebook rewrites data from centroids, masked elements stay 0', () => {
    const p = param('w', [4], Float32Array.from([9, 9, 9, 9]));
    setMask(p, Uint8Array.from([1, 1, 0, 1]));
    setCodebook(p, { bits: 2, centroids: Float32Array.from([-1, 0.5, 2]), indices: Uint16Array.from([2, 0, 1, 1]) });
    expect([...p.data]).toEqual([2, -1, 0, 0.5]);
  });
  it('rejects out-of-range indices, too many centroids, bad bits, wrong length', () => {
    const p = param('w', [3]);
    expect(() => setCodebook(p, { bits: 2, centroids: new Float32Array(3), indices: Uint16Array.from([0, 3, 1]) })).toThrow(
      /param 'w': codebook index 3 at 1 is out of range/,
    );
    expect(() => setCodebook(p, { bits: 1, centroids: new Float32Array(3), indices: new Uint16Array(3) })).toThrow(/3 centroids do not fit in 1 bits/);
    expect(() => setCodebook(p, { bits: 17, centroids: new Float32Array(3), indices: new Uint16Array(3) })).toThrow(
      /codebook bits must be an integer in 1..16, got 17/,
    );
    expect(() => setCodebook(p, { bits: 2, centroids: new Float32Array(3), indices: new Uint16Array(2) })).toThrow(/codebook has 2 indices, param has 3/);
    expect(p.codebook).toBeUndefined();
  });
});

describe('affine quantization', () => {
  it('quantRange and quantSlot', () => {
    expect(quantRange({ bits: 8, signed: true })).toEqual([-128, 127]);
    expect(quantRange({ bits: 8, signed: false })).toEqual([0, 255]);
    expect(quantRange({ bits: 16, signed: false })).toEqual([0, 65535]);
    const slotsAxis1 = Array.from({ length: 6 }, (_, i) => quantSlot([2, 3], 1)(i));
    expect(slotsAxis1).toEqual([0, 1, 2, 0, 1, 2]);
    expect(Array.from({ length: 6 }, (_, i) => quantSlot([2, 3], -2)(i))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(quantSlot([2, 3], undefined)(5)).toBe(0);
  });

  it('affineRange: a grid over [lo, hi] with 0 on it and every value within scale / 2', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.integer({ min: 2, max: 16 }),
        fc.boolean(),
        fc.boolean(),
        (a, b, bits, signed, symmetric) => {
          const [lo, hi] = [Math.min(a, b), Math.max(a, b)];
          const { scale, zeroPoint } = affineRange(lo, hi, { bits, signed, symmetric });
          const [qmin, qmax] = quantRange({ bits, signed });
          expect(scale).toBe(f32(scale));
          expect(zeroPoint >= qmin && zeroPoint <= qmax).toBe(true);
          for (const v of [lo, hi, 0]) {
            const q = Math.min(qmax, Math.max(qmin, Math.round(v / scale) + zeroPoint));
            expect(Math.abs(scale * (q - zeroPoint) - v)).toBeLessThanOrEqual(scale / 2 + 1e-12);
          }
          if (symmetric) expect(zeroPoint).toBe(signed ? 0 : 2 ** (bits - 1));
        },
      ),
    );
    expect(affineRange(0, 0, { bits: 8, signed: false })).toEqual({ scale: 1, zeroPoint: 0 });
  });

  /** Random shape, axis, bits, sign; data inside the representable range of each slot. */
  const quantCase = fc
    .record({
      shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
      bits: fc.integer({ min: 2, max: 16 }),
      signed: fc.boolean(),
      perAxis: fc.boolean(),
      axisPick: fc.nat(),
      groupSize: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      seed: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 64, maxLength: 64 }),
      scales: fc.array(fc.double({ min: 1e-4, max: 10, noNaN: true }), { minLength: 5, maxLength: 5 }),
      zeroShift: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ shape, bits, signed, perAxis, axisPick, groupSize, seed, scales, zeroShift }) => {
      const axis = perAxis ? axisPick % shape.length : undefined;
      const group = axis !== undefined && groupSize !== undefined ? { size: groupSize } : undefined;
      const { slots, slotOf: slot } = quantSlots(shape, { axis, group });
      const [qmin, qmax] = quantRange({ bits, signed });
      const zp = Math.round(qmin + zeroShift * (qmax - qmin));
      const scale = Float32Array.from({ length: slots }, (_, s) => scales[s % 5] * (1 + s / 7));
      const q: AffineQuant = { bits, signed, scale, zeroPoint: new Int32Array(slots).fill(zp), axis, ...(group ? { group } : {}) };
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => q.scale[slot(i)] * (qmin - zp + seed[i % 64] * (qmax - qmin)));
      return { p: param('w', shape, data), q };
    });

  it('round-trip error <= scale/2 per tensor, per channel and per group, signed and unsigned', () => {
    fc.assert(
      fc.property(quantCase, ({ p, q }) => {
        const before = p.data.slice();
        setQuant(p, q);
        const slot = quantSlot(p.shape, q.axis, q.group);
        const codes = quantize(p, q);
        const [qmin, qmax] = quantRange(q);
        const bad: string[] = [];
        for (let i = 0; i < before.length; i++) {
          const s = q.scale[slot(i)];
          // half a step, plus float32 rounding of the stored value
          if (Math.abs(p.data[i] - before[i]) > s / 2 + Math.abs(before[i]) * 2 ** -23) bad.push(`error at ${i}`);
          if (codes[i] < qmin || codes[i] > qmax) bad.push(`code ${codes[i]} at ${i}`);
          if (p.data[i] !== f32(s * (codes[i] - q.zeroPoint[slot(i)]))) bad.push(`dequantized value at ${i}`);
        }
        expect(bad).toEqual([]);
        // idempotent: the dequantized values are on the grid
        const snapped = p.data.slice();
        applyQuant(p);
        expect(p.data).toEqual(snapped);
      }),
      { numRuns: 300 },
    );
  });

  it('clamps values outside the range and keeps masked zeros', () => {
    const p = param('w', [4], Float32Array.from([-1000, 0.26, 1000, 5]));
    setMask(p, Uint8Array.from([1, 1, 1, 0]));
    setQuant(p, { bits: 4, signed: true, scale: Float32Array.from([0.5]), zeroPoint: Int32Array.from([0]) });
    expect([...p.data]).toEqual([-4, 0.5, 3.5, 0]);
  });

  it('per channel uses each slot’s own scale and zero point', () => {
    const p = param('w', [2, 2], Float32Array.from([1.3, 1.3, 1.3, 1.3]));
    setQuant(p, { bits: 8, signed: false, axis: 1, scale: Float32Array.from([0.3, 0.4]), zeroPoint: Int32Array.from([10, 0]) });
    // 1.3 / 0.3 rounds to code 4 + 10, 1.3 / 0.4 to code 3 + 0
    expect([...quantize(p, p.quant!)]).toEqual([14, 3, 14, 3]);
    const a = f32(f32(0.3) * 4);
    const b = f32(f32(0.4) * 3);
    expect([...p.data]).toEqual([a, b, a, b]);
  });

  it('group-wise slots: rows are the other axes row-major, groups of rows x channels, group-major', () => {
    // dense [in 4, out 3] on axis 1, groups of 2 rows: element (r, c) -> floor(r / 2) * 3 + c
    const dense = quantSlots([4, 3], { axis: 1, group: { size: 2 } });
    expect(dense.slots).toBe(6);
    expect(Array.from({ length: 12 }, (_, i) => dense.slotOf(i))).toEqual([0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
    // conv HWIO [2, 1, 2, 3] on axis 3: rows (ky, kx, ci) = 4, groups of 3 -> 2 groups (the last short)
    const conv = quantSlots([2, 1, 2, 3], { axis: 3, group: { size: 3 } });
    expect(conv.slots).toBe(6);
    expect(Array.from({ length: 12 }, (_, i) => conv.slotOf(i))).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 4, 5]);
    // depthwise [kh 2, kw 1, C 2, M 2] on axis 2: rows (ky, kx, m) = 4; groups of 2 rows are per tap
    const dw = quantSlots([2, 1, 2, 2], { axis: 2, group: { size: 2 } });
    expect(dw.slots).toBe(4);
    expect(Array.from({ length: 8 }, (_, i) => dw.slotOf(i))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    // a group covering every row is per channel
    const whole = quantSlots([4, 3], { axis: 1, group: { size: 4 } });
    expect(Array.from({ length: 12 }, (_, i) => whole.slotOf(i))).toEqual(Array.from({ length: 12 }, (_, i) => quantSlot([4, 3], 1)(i)));
  });

  it('group-wise quantization uses each row group’s own scale', () => {
    const p = param('w', [2, 2], Float32Array.from([1.3, 1.3, 1.3, 1.3]));
    setQuant(p, { bits: 8, signed: false, axis: 1, group: { size: 1 }, scale: Float32Array.from([0.3, 0.4, 0.5, 0.6]), zeroPoint: new Int32Array(4) });
    expect([...quantize(p, p.quant!)]).toEqual([4, 3, 3, 2]);
  });

  it('rejects bad annotations with the param named', () => {
    const p = param('w', [2, 3]);
    const q = (o: Partial<AffineQuant>): AffineQuant => ({ bits: 8, signed: true, scale: Float32Array.from([1]), zeroPoint: Int32Array.from([0]), ...o });
    expect(() => setQuant(p, q({ axis: 1 }))).toThrow(/param 'w': quantization needs 3 scale\/zero-point entries, got 1\/1/);
    expect(() => setQuant(p, q({ axis: 2 }))).toThrow(/quantization axis 2 is out of range for shape \[2, 3\]/);
    expect(() => setQuant(p, q({ bits: 0 }))).toThrow(/bits must be an integer in 1..16, got 0/);
    expect(() => setQuant(p, q({ scale: Float32Array.from([0]) }))).toThrow(/scale\[0\] = 0 must be positive and finite/);
    expect(() => setQuant(p, q({ group: { size: 1 } }))).toThrow(/param 'w': group-wise quantization needs an axis/);
    expect(() => setQuant(p, q({ axis: 1, group: { size: 0 } }))).toThrow(/group size must be a positive integer, got 0/);
    expect(() => setQuant(p, q({ axis: 1, group: { size: 1 }, scale: new Float32Array(3).fill(1), zeroPoint: new Int32Array(3) }))).toThrow(
      /needs 6 scale\/zero-point entries, got 3\/3/,
    );
    expect(p.quant).toBeUndefined();
  });
});

describe('float16', () => {
  it('every finite half value converts exactly both ways (and inf)', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const v = fromFloat16Bits(h);
      const nan = ((h >>> 10) & 0x1f) === 0x1f && (h & 0x3ff) !== 0;
      if (nan ? !Number.isNaN(v) : toFloat16Bits(v) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('rounds to nearest, ties to even, between every pair of neighbours', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7bfe }), fc.boolean(), (h, negative) => {
        const sign = negative ? 0x8000 : 0;
        const a = fromFloat16Bits(h | sign);
        const b = fromFloat16Bits((h + 1) | sign);
        const mid = (a + b) / 2; // exact in float32: halves have 11 significant bits
        expect(f32(mid)).toBe(mid);
        const even = (h & 1) === 0 ? h : h + 1;
        expect(toFloat16Bits(mid)).toBe(even | sign);
        const towardA = a + (b - a) * 0.49;
        const towardB = a + (b - a) * 0.51;
        expect(toFloat16Bits(towardA)).toBe(h | sign);
        expect(toFloat16Bits(towardB)).toBe((h + 1) | sign);
      }),
      { numRuns: 2000 },
    );
  });

  it('handles overflow, infinities, NaN, subnormals and underflow', () => {
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65519)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00); // the tie rounds to even, which is infinity
    expect(toFloat16Bits(1e6)).toBe(0x7c00);
    expect(toFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(fromFloat16Bits(toFloat16Bits(NaN))).toBeNaN();
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toFloat16Bits(2 ** -25)).toBe(0); // tie between 0 and 2^-24: even is 0
    expect(toFloat16Bits(2 ** -25 * 1.01)).toBe(1);
    expect(toFloat16Bits(3 * 2 ** -25)).toBe(2); // tie between 1 and 2 ulps: even is 2
    expect(toFloat16Bits(1023 * 2 ** -24)).toBe(0x03ff); // largest subnormal
    expect(toFloat16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // rounds up into the normals
    expect(toFloat16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(toFloat16Bits(1e-10)).toBe(0);
    expect(toFloat16Bits(-1e-10)).toBe(0x8000);
    expect(fromFloat16Bits(0x3c00)).toBe(1);
    expect(fromFloat16Bits(0xc000)).toBe(-2);
    expect(fromFloat16Bits(0x3555)).toBeCloseTo(1 / 3, 3);
  });

  it('setFloat16 rounds data and marks the param', () => {
    const p = param('w', [3], Float32Array.from([1 / 3, 65519, 1e-9]));
    setFloat16(p);
    expect(p.float16).toBe(true);
    expect([...p.data]).toEqual([fromFloat16Bits(0x3555), 65504, 0]);
  });
});

describe('enforceAnnotations re-imposes every annotation after data moved', () => {
  const perturb = (d: Float32Array) => d.forEach((v, i) => (d[i] = v + 0.1 * (i + 1)));
  it('mask', () => {
    const p = param('w', [3], Float32Array.from([1, 2, 3]));
    setMask(p, Uint8Array.from([1, 0, 1]));
    perturb(p.data);
    enforceAnnotations(p);
    expect(p.data[1]).toBe(0);
    expect(p.data[0]).toBeCloseTo(1.1);
  });
  it('codebook (with mask)', () => {
    const p = param('w', [3]);
    setMask(p, Uint8Array.from([1, 1, 0]));
    setCodebook(p, { bits: 1, centroids: Float32Array.from([-1, 1]), indices: Uint16Array.from([1, 0, 1]) });
    perturb(p.data);
    enforceAnnotations(p);
    expect([...p.data]).toEqual([1, -1, 0]);
  });
  it('quantization grid (with mask)', () => {
    const p = param('w', [3], Float32Array.from([1, 2, 3]));
    setMask(p, Uint8Array.from([1, 1, 0]));
    setQuant(p, { bits: 8, signed: true, scale: Float32Array.from([0.25]), zeroPoint: Int32Array.from([0]) });
    perturb(p.data); // 1.1, 2.2, 0.3
    enforceAnnotations(p);
    expect([...p.data]).toEqual([1, 2.25, 0]);
  });
  it('float16', () => {
    const p = param('w', [2], Float32Array.from([1, 2]));
    setFloat16(p);
    p.data[0] = 1 + 2 ** -12;
    enforceAnnotations(p);
    expect(p.data[0]).toBe(1);
  });
});
