import { describe, expect, it } from 'vitest';
import {
  cost,
  encodeExactly,
  encodingOf,
  fitsStored,
  GraphBuilder,
  gridCode,
  gridValue,
  nearestGridValue,
  paramBytes,
  setCodebook,
  setFloat16,
  sourceBytes,
  storedEncoding,
  toFloat16Bits,
  type Param,
  type StoredForm,
  type StoredGrid,
} from './index.js';

/** A uint8 grid as tfjs-converter writes one: min a whole number of steps below 0. */
const GRID: StoredGrid = { dtype: 'uint8', scale: 0.0014681343354430853, min: -0.1879211949367149 };
const form = (quantization: Record<string, unknown>, bytes = new Uint8Array(0)): StoredForm => ({
  entry: { name: 'w', shape: [bytes.length], dtype: 'float32', quantization },
  bytes,
});

/** A param decoded from uint8 codes the way TF.js does. */
function gridParam(codes: number[]): Param {
  const data = Float32Array.from(codes, (c) => c * GRID.scale + GRID.min);
  return { name: 'w', shape: [codes.length], data, stored: form({ ...GRID, original_dtype: 'float32' }, Uint8Array.from(codes)) };
}

describe('stored forms', () => {
  it('reads the encoding of a TF.js manifest entry; anything else is float32', () => {
    expect(encodingOf(form({ dtype: 'uint8', scale: 0.5, min: -1 }))).toEqual({ dtype: 'uint8', scale: 0.5, min: -1 });
    expect(encodingOf(form({ dtype: 'float16' }))).toEqual({ dtype: 'float16' });
    expect(encodingOf(undefined)).toEqual({ dtype: 'float32' });
    expect(encodingOf(form({ dtype: 'uint8', scale: -1, min: 0 }))).toEqual({ dtype: 'float32' });
    expect(encodingOf({ entry: { dtype: 'int32' }, bytes: new Uint8Array(0) })).toEqual({ dtype: 'float32' });
  });

  it('decodes a grid code as TF.js does (float64 code * scale + min, then float32) and finds the code of a value', () => {
    const v = gridValue(GRID, 128);
    expect(v).toBe(Math.fround(128 * GRID.scale + GRID.min));
    expect(gridValue(GRID, 128)).toBe(0); // the converter's nudge puts 0 on the grid
    expect(gridCode(GRID, gridValue(GRID, 77))).toBe(77);
    expect(gridCode(GRID, gridValue(GRID, 77) + 1e-4)).toBe(-1);
    expect(gridCode(GRID, -0)).toBe(-1); // -0 is not the +0 the grid decodes to
    expect(nearestGridValue(GRID, 5)).toBe(gridValue(GRID, 255)); // clamped
  });

  it('re-encodes values exactly, or says it cannot', () => {
    const p = gridParam([0, 128, 255, 3]);
    expect(encodeExactly(storedEncoding(p), p.data)).toEqual(Uint8Array.of(0, 128, 255, 3));
    expect(fitsStored(p)).toBe(true);
    p.data[1] = 0.001;
    expect(encodeExactly(storedEncoding(p), p.data)).toBeUndefined();
    expect(fitsStored(p)).toBe(false);
    const half = Float32Array.of(0.5, -2, 65504);
    const bits = encodeExactly({ dtype: 'float16' }, half) as Uint8Array;
    expect(Array.from(new Uint16Array(bits.buffer))).toEqual(Array.from(half, toFloat16Bits));
    expect(encodeExactly({ dtype: 'float16' }, Float32Array.of(0.1))).toBeUndefined();
  });

  it('counts a param at its stored width while its data fits, and the input bytes always', () => {
    const p = gridParam([0, 128, 255, 3]);
    expect(paramBytes(p)).toMatchObject({ encoding: 'grid', valueBits: 8 });
    expect(sourceBytes(p)).toBe(4);
    p.data[0] = 0.3;
    expect(paramBytes(p)).toMatchObject({ encoding: 'float32', valueBits: 32 });
    expect(sourceBytes(p)).toBe(4);

    const b = new GraphBuilder('m', [4]);
    b.dense(3, { name: 'fc' });
    const g = b.build();
    const k = g.params.get('fc/kernel') as Param;
    k.stored = form({ dtype: 'float16' });
    k.data = k.data.map((v) => Math.fround(Math.round(v * 64) / 64));
    const { totals } = cost(g);
    expect(totals.sourceBytes).toBe(12 * 2 + 3 * 4);
    expect(totals.float32Bytes).toBe(15 * 4);
  });

  it('keeps codebook centroids storable: on the input grid, or on float16 when marked', () => {
    const p = gridParam([0, 10, 20, 200, 210, 255]);
    setCodebook(p, { bits: 1, centroids: Float32Array.of(-0.17, 0.13), indices: Uint16Array.of(0, 0, 0, 1, 1, 1) });
    for (const c of p.codebook!.centroids) expect(gridCode(GRID, c)).toBeGreaterThanOrEqual(0);
    expect(fitsStored(p)).toBe(true);
    const far = gridParam([0, 255]);
    setCodebook(far, { bits: 1, centroids: Float32Array.of(-0.5, 0.1), indices: Uint16Array.of(0, 1) });
    expect(far.codebook!.centroids[0]).toBe(Math.fround(-0.5)); // outside the grid's range: left alone
    const h: Param = { name: 'h', shape: [2], data: Float32Array.of(0.1, 0.2) };
    setFloat16(h);
    setCodebook(h, { bits: 1, centroids: Float32Array.of(0.1, 0.2), indices: Uint16Array.of(0, 1) });
    expect(encodeExactly({ dtype: 'float16' }, h.codebook!.centroids)).toBeDefined();
  });
});
