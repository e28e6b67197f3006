import { fromFloat16Bits, getParam, lenet300100, setMask, toFloat16Bits } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { float16Param, toFloat16 } from './float16.js';
import { quantizeAffine } from './affine.js';
import { shareWeights } from './weight-sharing.js';

const isHalf = (v: number) => fromFloat16Bits(toFloat16Bits(v)) === v;

describe('toFloat16', () => {
  it('rounds every param of the graph to float16 by default and marks it', () => {
    const g = lenet300100(1);
    const before = getParam(g, 'fc1/kernel').data.slice();
    const reports = toFloat16(g);
    expect(reports.map((r) => r.param)).toEqual([...g.params.keys()]);
    for (const p of g.params.values()) {
      expect(p.float16).toBe(true);
      expect(p.data.every(isHalf)).toBe(true);
    }
    const fc1 = reports.find((r) => r.param === 'fc1/kernel')!;
    expect(fc1.maxAbsError).toBeGreaterThan(0);
    // float16 keeps 11 significant bits: relative rounding error <= 2^-11.
    expect(fc1.relativeError).toBeLessThan(2 ** -11);
    expect(fc1.maxAbsError).toBeLessThanOrEqual(before.reduce((m, v) => Math.max(m, Math.abs(v)), 0) * 2 ** -11);
  });

  it('keeps pruned weights at 0', () => {
    const g = lenet300100(1);
    const p = getParam(g, 'fc2/kernel');
    setMask(
      p,
      Uint8Array.from({ length: p.data.length }, (_, i) => i % 2),
    );
    toFloat16(g, 'fc2');
    let nonzero = 0;
    for (let i = 0; i < p.data.length; i += 2) if (!Object.is(p.data[i], 0)) nonzero++;
    expect(nonzero).toBe(0);
  });

  it('selects by layer, op type or kind, and skips shared or quantized params unless asked', () => {
    const g = lenet300100(1);
    shareWeights(getParam(g, 'fc1/kernel'), { bits: 4 });
    quantizeAffine(getParam(g, 'fc3/kernel'));
    expect(toFloat16(g, undefined, { kinds: ['weight'] }).map((r) => r.param)).toEqual(['fc2/kernel']);
    expect(toFloat16(g, 'dense', { kinds: ['bias'] }).map((r) => r.param)).toEqual(['fc1/bias', 'fc2/bias', 'fc3/bias']);
    expect(() => toFloat16(g, 'fc1')).toThrow(/toFloat16: param 'fc1\/kernel' is already weight-shared/);
    expect(() => toFloat16(g, 'fc3/kernel')).toThrow(/'fc3\/kernel' is already affine-quantized/);
    expect(() => toFloat16(g, 'fc4')).toThrow(/toFloat16: include pattern 'fc4' matches no/);
  });

  it('leaves params their input stores in 2 bytes or fewer as they are, unless selected', () => {
    const g = lenet300100(1);
    const k = getParam(g, 'fc2/kernel');
    const scale = 0.002;
    k.stored = { entry: { name: k.name, shape: k.shape, dtype: 'float32', quantization: { dtype: 'uint16', scale, min: 0 } }, bytes: new Uint8Array(0) };
    k.data = k.data.map((v) => Math.fround(Math.max(0, Math.round(v / scale)) * scale)); // on the grid, as decoded
    const before = k.data.slice();
    const reports = toFloat16(g, undefined, { kinds: ['weight'] });
    expect(reports.find((r) => r.param === 'fc2/kernel')).toMatchObject({
      skipped: expect.stringMatching(/stores it as uint16 \(2 bytes per value\) already/),
      maxAbsError: 0,
    });
    expect(k.float16).toBeUndefined();
    expect(k.data).toEqual(before);
    expect(reports.filter((r) => !r.skipped).map((r) => r.param)).toEqual(['fc1/kernel', 'fc3/kernel']);
    expect(toFloat16(g, 'fc2/kernel')[0].skipped).toBeUndefined();
    expect(k.float16).toBe(true);
  });

  it('refuses values beyond the float16 range instead of storing Infinity', () => {
    const g = lenet300100(1);
    const p = getParam(g, 'fc3/bias');
    p.data[2] = 70000;
    expect(() => float16Param(p)).toThrow(/param 'fc3\/bias' has 70000 at index 2, beyond the float16 range/);
    expect(p.float16).toBeUndefined();
  });
});
