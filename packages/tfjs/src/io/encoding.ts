/**
 * Which TF.js manifest encoding each weight is written in. Stock TF.js reads four: uint8 and
 * uint16 affine grids (value = code * scale + min), float16 and float32. The candidates for a
 * weight: exactly, the input file's own encoding (so an untouched weight keeps its bytes), the grid
 * of its per-tensor affine annotation, float16 when it is marked so, float32; within the tolerance
 * its compression states (`tolerances`), a uint8/uint16 grid over its values or float16. The
 * fewest bytes win, then the smaller error, then the earlier candidate; every choice comes back
 * with its reason, for reports.
 */
import {
  affineRange,
  encodeExactly,
  gridMax,
  gridValue,
  isGrid,
  quantSlot,
  sourceBytes,
  storedEncoding,
  toFloat16Bits,
  fromFloat16Bits,
  type Param,
  type StoredEncoding,
  type StoredGrid,
} from '@condense/ir';
import type { io } from '@tensorflow/tfjs-core';

/** The value encodings a stock TF.js weights manifest can hold. */
export type ManifestDtype = 'uint8' | 'uint16' | 'float16' | 'float32';

/** How one weight was written, and why. */
export interface WeightEncoding {
  /** IR param name. */
  param: string;
  /** Its name in the manifest. */
  weight: string;
  dtype: ManifestDtype;
  bytes: number;
  /** How the input file stored the param (float32 for a param that came from no file). */
  input: { dtype: ManifestDtype; bytes: number };
  /** Largest |written - data| over the param's values: 0 when exact. */
  maxError: number;
  reason: string;
}

export interface ChooseOptions {
  /** Round every weight that would be written float32 to float16 instead (lossy, asked for by the user). */
  float16?: boolean;
  /** 'dequantize': the values exactly, in float encodings only (no uint8/uint16 grid, nothing within a tolerance). */
  quantized?: 'manifest' | 'dequantize';
}

/** The chosen encoding: the manifest quantization (none for float32) and the stored bytes. */
export interface ChosenEncoding {
  quantization?: io.WeightsManifestEntry['quantization'];
  bytes: Uint8Array;
  encoding: Omit<WeightEncoding, 'weight'>;
}

interface Candidate {
  encoding: StoredEncoding;
  bytes: Uint8Array;
  maxError: number;
  reason: string;
  /** The manifest quantization object to write (the input's own, extra fields included, when it is the input's). */
  quantization?: io.WeightsManifestEntry['quantization'];
}

const manifestDtype = (e: StoredEncoding): ManifestDtype => e.dtype;
const describe = (e: StoredEncoding): string => (isGrid(e) ? `${e.dtype} grid (scale ${e.scale}, min ${e.min})` : e.dtype);

/** The param's values as they must be written: pruned elements are 0 even if a stage left a value behind. */
function valuesOf(p: Param): Float32Array {
  const { data, mask } = p;
  if (!mask || !mask.some((m, i) => m === 0 && !Object.is(data[i], 0))) return data;
  return data.map((v, i) => (mask[i] === 0 ? 0 : v));
}

/** How far storage may move the value at an index. */
export type Tolerance = (i: number) => number;

/**
 * How far storage may move each value, from what the param's compression states (undefined: it
 * must be exact). A codebook: an eighth of the gap to the nearest other used centroid, so every
 * weight stays far nearer its own shared value than its neighbour's. Affine quantization: a quarter
 * of its own error bound scale / 2. Pruned elements must stay exactly 0.
 */
export function tolerances(p: Param): Tolerance | undefined {
  const { mask } = p;
  let tol: Tolerance | undefined;
  if (p.codebook) {
    const { centroids, indices } = p.codebook;
    const isUsed = new Uint8Array(centroids.length);
    for (let i = 0; i < indices.length; i++) if (!mask || mask[i] !== 0) isUsed[indices[i]] = 1;
    const used = Array.from(isUsed.keys())
      .filter((j) => isUsed[j])
      .sort((a, b) => centroids[a] - centroids[b]);
    const perCentroid = new Float64Array(centroids.length);
    used.forEach((j, k) => {
      const gap = Math.min(k > 0 ? centroids[j] - centroids[used[k - 1]] : Infinity, k + 1 < used.length ? centroids[used[k + 1]] - centroids[j] : Infinity);
      perCentroid[j] = Number.isFinite(gap) ? gap / 8 : Math.abs(centroids[j]) * 2 ** -8;
    });
    tol = (i) => perCentroid[indices[i]];
  } else if (p.quant) {
    const { scale, axis, group } = p.quant;
    const slot = quantSlot(p.shape, axis, group);
    tol = (i) => scale[slot(i)] / 8;
  }
  if (!tol || !mask) return tol;
  const kept = tol;
  return (i) => (mask[i] === 0 ? 0 : kept(i));
}

/** Codes of `values` on a grid: exact (undefined when a value is off it), or nearest within `tol`. */
function onGrid(g: StoredGrid, values: Float32Array, tol?: Tolerance): { codes: Uint8Array | Uint16Array; maxError: number } | undefined {
  const max = gridMax(g);
  const codes = g.dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  let maxError = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const q0 = Math.min(max, Math.max(0, Math.round((v - g.min) / g.scale)));
    let best = -1;
    let err = Infinity;
    for (const q of [q0, q0 - 1, q0 + 1]) {
      if (q < 0 || q > max) continue;
      const d = gridValue(g, q);
      if (Object.is(d, v)) {
        best = q;
        err = 0;
        break;
      }
      if (Math.abs(d - v) < err) [best, err] = [q, Math.abs(d - v)];
    }
    if (!(err <= (tol ? tol(i) : 0))) return undefined;
    codes[i] = best;
    maxError = Math.max(maxError, err);
  }
  return { codes, maxError };
}

/** float16 bits of `values`: exact (undefined when a value is not a float16), within `tol`, or rounded however far ('any'). */
function float16Within(values: Float32Array, tol?: Tolerance | 'any'): { bits: Uint16Array; maxError: number } | undefined {
  const bits = new Uint16Array(values.length);
  let maxError = 0;
  for (let i = 0; i < values.length; i++) {
    bits[i] = toFloat16Bits(values[i]);
    const d = fromFloat16Bits(bits[i]);
    const err = Object.is(d, values[i]) ? 0 : Math.abs(d - values[i]);
    if (tol !== 'any' && !(err <= (tol ? tol(i) : 0))) return undefined;
    maxError = Math.max(maxError, err);
  }
  return { bits, maxError };
}

function leBytes(a: Uint8Array | Uint16Array): Uint8Array {
  if (a instanceof Uint8Array) return a;
  const out = new Uint8Array(a.length * 2);
  const view = new DataView(out.buffer);
  a.forEach((v, i) => view.setUint16(i * 2, v, true));
  return out;
}

/** The grid a per-tensor affine annotation is (signed codes shifted into the unsigned range), if TF.js can hold it. */
function quantGrid(p: Param): StoredGrid | undefined {
  const q = p.quant;
  if (!q || q.scale.length !== 1 || q.bits > 16) return undefined;
  const offset = q.signed ? 2 ** (q.bits - 1) : 0;
  const scale = q.scale[0];
  // Exact in float64: code * scale + min = scale * (code - zp) for these integer codes.
  return { dtype: q.bits <= 8 ? 'uint8' : 'uint16', scale, min: -(q.zeroPoint[0] + offset) * scale };
}

/** A uint8/uint16 grid over the values' range with 0 on it (so pruned zeros stay exact). */
function fittedGrid(values: Float32Array, dtype: 'uint8' | 'uint16'): StoredGrid {
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const { scale, zeroPoint } = affineRange(lo, hi, { bits: dtype === 'uint8' ? 8 : 16, signed: false });
  return { dtype, scale, min: -zeroPoint * scale };
}

/**
 * The values in the input's encoding when it stores them exactly (undefined otherwise): the input's
 * own bytes object when they are the same bytes (no stage changed the param), else new ones.
 */
function inInputEncoding(p: Param, e: StoredEncoding, values: Float32Array): Uint8Array | undefined {
  const again = encodeExactly(e, values);
  const s = p.stored;
  if (!again || !s || again.length !== s.bytes.length) return again;
  return again.every((b, i) => b === s.bytes[i]) ? s.bytes : again;
}

/** Every encoding that stores the values exactly, plus the lossy ones within the param's tolerance; float32 last. */
function candidates(p: Param, values: Float32Array, o: ChooseOptions): Candidate[] {
  const out: Candidate[] = [];
  const grids = o.quantized !== 'dequantize';
  const input = storedEncoding(p);
  if (input.dtype !== 'float32' && (grids || !isGrid(input))) {
    const bytes = inInputEncoding(p, input, values);
    const reason = bytes === p.stored?.bytes ? `the input's ${describe(input)}, bytes unchanged` : `the values lie on the input's ${describe(input)}`;
    const quantization = structuredClone((p.stored?.entry.quantization ?? undefined) as io.WeightsManifestEntry['quantization']);
    if (bytes) out.push({ encoding: input, bytes, maxError: 0, reason, quantization });
  }
  const qg = grids ? quantGrid(p) : undefined;
  if (qg) {
    const r = onGrid(qg, values);
    if (r) out.push({ encoding: qg, bytes: leBytes(r.codes), maxError: 0, reason: `per-tensor affine quantization as ${qg.dtype} codes, exact` });
  }
  // Only where a stage asked for float16: an untouched float32 weight stays float32, even all zeros.
  const half = p.float16 ? float16Within(values) : undefined;
  if (half) out.push({ encoding: { dtype: 'float16' }, bytes: leBytes(half.bits), maxError: 0, reason: 'marked float16, exact' });
  // Lossy encodings only where they can beat the exact ones found so far.
  const exactBest = Math.min(4, ...out.map((c) => c.bytes.length / Math.max(1, values.length)));
  const tol = exactBest > 1 && grids ? tolerances(p) : undefined;
  if (tol) {
    const what = p.codebook
      ? `codebook (${p.codebook.centroids.length} centroids): each value within 1/8 of the gap to the next centroid`
      : 'affine quantization: each value within a quarter of its error bound scale/2';
    for (const dtype of ['uint8', 'uint16'] as const) {
      const g = fittedGrid(values, dtype);
      const r = onGrid(g, values, tol);
      if (r)
        out.push({
          encoding: g,
          bytes: leBytes(r.codes),
          maxError: r.maxError,
          reason: `${what}, on a ${dtype} grid over the values (max change ${r.maxError.toExponential(2)})`,
        });
    }
    const h = float16Within(values, tol);
    if (h)
      out.push({
        encoding: { dtype: 'float16' },
        bytes: leBytes(h.bits),
        maxError: h.maxError,
        reason: `${what}, as float16 (max change ${h.maxError.toExponential(2)})`,
      });
  }
  if (o.float16 && !half) {
    const h = float16Within(values, 'any') as { bits: Uint16Array; maxError: number };
    out.push({
      encoding: { dtype: 'float16' },
      bytes: leBytes(h.bits),
      maxError: h.maxError,
      reason: `rounded to float16 as asked (export option float16; max change ${h.maxError.toExponential(2)})`,
    });
  }
  out.push({ encoding: { dtype: 'float32' }, bytes: leFloats(values), maxError: 0, reason: float32Reason(p, input) });
  return out;
}

/** The float32 bytes: a view (TF.js, and every platform condense runs on, is little-endian). */
const leFloats = (values: Float32Array): Uint8Array => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/** What kind of affine quantization a param carries, for reasons. */
function quantKind(q: NonNullable<Param['quant']>): string {
  if (q.group) return `group-wise (axis ${q.axis}, groups of ${q.group.size} rows)`;
  return q.scale.length > 1 ? 'per-channel' : `${q.bits}-bit`;
}

/** Why nothing smaller than float32 fitted. */
function float32Reason(p: Param, input: StoredEncoding): string {
  const off = input.dtype === 'float32' ? '' : `; the values are no longer on the input's ${input.dtype} encoding`;
  if (p.codebook) return `no smaller stock encoding holds the codebook's values within its tolerance${off}`;
  if (p.quant) return `${quantKind(p.quant)} quantization has no stock TF.js form and no smaller encoding stays within its tolerance${off}`;
  return input.dtype === 'float32' ? 'float32 as the input had it' : `a stage changed the values${off}`;
}

/** Fewer bytes wins; among equals the smaller error, then the earlier candidate (the input's own first). */
const better = (c: Candidate, a: Candidate) => c.bytes.length < a.bytes.length || (c.bytes.length === a.bytes.length && c.maxError < a.maxError);

/**
 * The smallest encoding for a param's values (see `better`), with the manifest quantization and
 * bytes to write.
 */
export function chooseEncoding(p: Param, o: ChooseOptions = {}): ChosenEncoding {
  const values = valuesOf(p);
  const best = candidates(p, values, o).reduce((a, c) => (better(c, a) ? c : a));
  const input = storedEncoding(p);
  const e = best.encoding;
  const quantization =
    best.quantization ?? (isGrid(e) ? { dtype: e.dtype, scale: e.scale, min: e.min } : e.dtype === 'float16' ? { dtype: 'float16' as const } : undefined);
  return {
    quantization,
    bytes: best.bytes,
    encoding: {
      param: p.name,
      dtype: manifestDtype(e),
      bytes: best.bytes.length,
      input: { dtype: manifestDtype(input), bytes: sourceBytes(p) },
      maxError: best.maxError,
      reason: best.reason,
    },
  };
}

/** A note for a weight written larger than its input stored it, saying why. */
export function growthNote(e: Omit<WeightEncoding, 'weight'>): string | undefined {
  if (e.bytes <= e.input.bytes) return undefined;
  return `param '${e.param}': written as ${e.dtype} (${e.bytes} bytes), larger than the input's ${e.input.dtype} (${e.input.bytes} bytes): ${e.reason}`;
}
