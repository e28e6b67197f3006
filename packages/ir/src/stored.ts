/**
 * The arithmetic of a param's stored form (`Param.stored`): how the file condense read it from
 * encoded its values. The entries are TF.js weights-manifest entries (the only format condense
 * reads weights from), so the encodings are TF.js's: an affine uint8/uint16 grid decoded as
 * `code * scale + min` in float64 and rounded once to float32 (tfjs-core io_utils, decodeWeight),
 * float16, or float32. A stored form is where a param came from, never a compression annotation:
 * stages compute on `data`, and these functions say whether `data` still fits the encoding.
 */
import { fromFloat16Bits, toFloat16Bits } from './half.js';
import type { Param, StoredForm } from './types.js';

/** An affine grid of a TF.js manifest: value = fround(code * scale + min), code in [0, 2^bits). */
export interface StoredGrid {
  dtype: 'uint8' | 'uint16';
  scale: number;
  min: number;
}

/** The value encoding of a stored form; float32 for a param with none. */
export type StoredEncoding = { dtype: 'float32' } | { dtype: 'float16' } | StoredGrid;

const FLOAT32: StoredEncoding = { dtype: 'float32' };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The encoding a stored entry describes (a float32 manifest entry and its `quantization`). */
export function encodingOf(stored: StoredForm | undefined): StoredEncoding {
  const entry = stored?.entry;
  if (!entry || entry.dtype !== 'float32' || !isRecord(entry.quantization)) return FLOAT32;
  const q = entry.quantization;
  if (q.dtype === 'float16') return { dtype: 'float16' };
  if (
    (q.dtype === 'uint8' || q.dtype === 'uint16') &&
    typeof q.scale === 'number' &&
    typeof q.min === 'number' &&
    q.scale > 0 &&
    Number.isFinite(q.scale) &&
    Number.isFinite(q.min)
  ) {
    return { dtype: q.dtype, scale: q.scale, min: q.min };
  }
  return FLOAT32;
}

/** The encoding the param's input file stored it in (float32 when it has no stored form). */
export const storedEncoding = (p: Pick<Param, 'stored'>): StoredEncoding => encodingOf(p.stored);

export const isGrid = (e: StoredEncoding): e is StoredGrid => e.dtype === 'uint8' || e.dtype === 'uint16';

/** Bytes per value of an encoding. */
export function bytesPerValue(e: StoredEncoding): number {
  return e.dtype === 'uint8' ? 1 : e.dtype === 'float32' ? 4 : 2;
}

export const gridMax = (g: StoredGrid): number => (g.dtype === 'uint8' ? 255 : 65535);

/** The float32 value of a grid code, exactly as TF.js decodes it. */
export const gridValue = (g: StoredGrid, code: number): number => Math.fround(code * g.scale + g.min);

/** The code whose value is exactly `v` (same float32 bits, so -0 is not +0), or -1. */
export function gridCode(g: StoredGrid, v: number): number {
  const q0 = Math.round((v - g.min) / g.scale);
  if (!Number.isFinite(q0)) return -1;
  const max = gridMax(g);
  for (const q of [q0, q0 - 1, q0 + 1]) if (q >= 0 && q <= max && Object.is(gridValue(g, q), v)) return q;
  return -1;
}

/** The grid value nearest to `v` (clamped to the grid's range). */
export function nearestGridValue(g: StoredGrid, v: number): number {
  const max = gridMax(g);
  const q0 = Math.min(max, Math.max(0, Math.round((v - g.min) / g.scale)));
  let best = gridValue(g, q0);
  for (const q of [q0 - 1, q0 + 1]) {
    if (q < 0 || q > max) continue;
    const c = gridValue(g, q);
    if (Math.abs(c - v) < Math.abs(best - v)) best = c;
  }
  return best;
}

/** The value nearest to `v` that the encoding can store (float32: `v` rounded to float32). */
export function roundToEncoding(e: StoredEncoding, v: number): number {
  if (isGrid(e)) return nearestGridValue(e, v);
  if (e.dtype === 'float16') return fromFloat16Bits(toFloat16Bits(v));
  return Math.fround(v);
}

/** The grid codes that store `data` exactly, or undefined when a value is not on the grid. */
export function gridCodes(g: StoredGrid, data: Float32Array): Uint8Array | Uint16Array | undefined {
  const codes = g.dtype === 'uint8' ? new Uint8Array(data.length) : new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const q = gridCode(g, data[i]);
    if (q < 0) return undefined;
    codes[i] = q;
  }
  return codes;
}

/** The float16 bits that store `data` exactly, or undefined when a value is not a float16 (NaN never is). */
export function float16Codes(data: Float32Array): Uint16Array | undefined {
  const bits = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    bits[i] = toFloat16Bits(data[i]);
    if (!Object.is(fromFloat16Bits(bits[i]), data[i])) return undefined;
  }
  return bits;
}

/**
 * The stored bytes (little-endian) of `data` under the encoding, when it stores every value
 * exactly; undefined when it does not. float32 always does.
 */
export function encodeExactly(e: StoredEncoding, data: Float32Array): Uint8Array | undefined {
  const codes = isGrid(e) ? gridCodes(e, data) : e.dtype === 'float16' ? float16Codes(data) : data.slice();
  return codes && littleEndianBytes(codes);
}

function littleEndianBytes(a: Uint8Array | Uint16Array | Float32Array): Uint8Array {
  if (a instanceof Uint8Array) return a;
  const out = new Uint8Array(a.byteLength);
  const view = new DataView(out.buffer);
  if (a instanceof Uint16Array) a.forEach((v, i) => view.setUint16(i * 2, v, true));
  else a.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

/** Whether the param's data is still exactly what its stored encoding holds (always, for float32). */
export function fitsStored(p: Pick<Param, 'stored' | 'data'>): boolean {
  const e = storedEncoding(p);
  if (isGrid(e)) return p.data.every((v) => gridCode(e, v) >= 0);
  if (e.dtype === 'float16') return p.data.every((v) => Object.is(fromFloat16Bits(toFloat16Bits(v)), v));
  return true;
}

/** Bytes the param takes in the encoding its input file stored it in (float32 without a stored form). */
export function sourceBytes(p: Pick<Param, 'stored' | 'data'>): number {
  return p.data.length * bytesPerValue(storedEncoding(p));
}

/**
 * Where shared values (a codebook's centroids) should lie so that the param still stores at its
 * input size: on float16 when it is marked float16, else on its stored grid or float16; a value
 * outside a grid's range stays as it is. Undefined for float32 storage (nothing to round).
 */
export function storageRounding(p: Pick<Param, 'stored' | 'float16'>): ((v: number) => number) | undefined {
  if (p.float16) return (v) => fromFloat16Bits(toFloat16Bits(v));
  const e = storedEncoding(p);
  if (e.dtype === 'float32') return undefined;
  if (e.dtype === 'float16') return (v) => fromFloat16Bits(toFloat16Bits(v));
  const lo = e.min - e.scale / 2;
  const hi = e.min + gridMax(e) * e.scale + e.scale / 2;
  return (v) => (v >= lo && v <= hi ? nearestGridValue(e, v) : v);
}
