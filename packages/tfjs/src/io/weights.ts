import { fromFloat16Bits, toFloat16Bits, type AffineQuant, type Param, type StoredForm } from '@condense/ir';
import type { io } from '@tensorflow/tfjs-core';
import { brief, isObject, ModelIOError } from './errors.js';

export type WeightSpec = io.WeightsManifestEntry;
type QuantDtype = 'uint8' | 'uint16' | 'float16';

const VALUE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };
/** Manifest dtypes whose size is not fixed: a string weight stores each element as a uint32 byte length and the bytes. */
const VARIABLE_DTYPES = new Set(['string']);

/**
 * Weight bytes held in one or more chunks (shards, or groups read into one buffer), addressed
 * as one contiguous range the way TF.js concatenates them.
 */
export class ByteSource {
  private readonly starts: number[] = [];
  readonly length: number;

  constructor(private readonly chunks: Uint8Array[]) {
    let at = 0;
    for (const c of chunks) {
      this.starts.push(at);
      at += c.byteLength;
    }
    this.length = at;
  }

  static of(data: ArrayBuffer | ArrayBuffer[] | undefined): ByteSource {
    const list = data === undefined ? [] : Array.isArray(data) ? data : [data];
    return new ByteSource(list.map((b) => new Uint8Array(b)));
  }

  /** Bytes [start, start + len): a view when they lie in one chunk, else a copy. */
  bytes(start: number, len: number): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const first = this.chunkAt(start);
    const off = start - this.starts[first];
    if (off + len <= this.chunks[first].byteLength) return this.chunks[first].subarray(off, off + len);
    const out = new Uint8Array(len);
    let done = 0;
    for (let i = first; done < len; i++) {
      const from = i === first ? off : 0;
      const part = this.chunks[i].subarray(from, from + len - done);
      out.set(part, done);
      done += part.byteLength;
    }
    return out;
  }

  private chunkAt(pos: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    // Skip empty chunks that start at the same position.
    while (lo < this.chunks.length - 1 && this.starts[lo] + this.chunks[lo].byteLength <= pos) lo++;
    return lo;
  }
}

let halfTable: Float32Array | undefined;
/** float16 bits -> float32 value, as a 256 KB lookup table (decoding large float16 manifests is a hot loop). */
function halfToFloat(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = fromFloat16Bits(h);
  }
  return halfTable;
}

function checkSpec(spec: unknown, index: number, where: string): asserts spec is WeightSpec {
  const at = `${where}: weightsManifest weights[${index}]`;
  if (!isObject(spec)) throw new ModelIOError(`${at} is not an object`);
  if (typeof spec.name !== 'string') throw new ModelIOError(`${at}.name must be a string, got ${brief(spec.name)}`);
  const shape = spec.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    throw new ModelIOError(`${where}: weight '${spec.name}' has an invalid shape ${brief(shape)}`);
  }
  if (typeof spec.dtype !== 'string' || !(spec.dtype in VALUE_BYTES || VARIABLE_DTYPES.has(spec.dtype))) throw new ModelIOError(`${where}: weight '${spec.name}' has unsupported dtype ${brief(spec.dtype)}`);
  const q = spec.quantization;
  if (q !== undefined) {
    if (!isObject(q) || !['uint8', 'uint16', 'float16'].includes(q.dtype as string)) {
      throw new ModelIOError(`${where}: weight '${spec.name}' has unsupported quantization ${brief(q)} (expected dtype uint8, uint16 or float16)`);
    }
    if (q.dtype !== 'float16' && !(Number.isFinite(q.scale) && Number.isFinite(q.min))) {
      throw new ModelIOError(`${where}: weight '${spec.name}' is quantized as ${q.dtype} but quantization.scale/min are not numbers (${brief(q)})`);
    }
  }
}

/** Stored bytes of one manifest entry of a fixed-size dtype. */
export function specBytes(spec: WeightSpec): number {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  return n * VALUE_BYTES[spec.quantization?.dtype ?? spec.dtype];
}

/** Stored bytes of the entry at `offset` of `source`: fixed for numbers, read from the length prefixes for strings (undefined when they run past the data). */
function storedBytes(spec: WeightSpec, source: ByteSource, offset: number): number | undefined {
  if (!VARIABLE_DTYPES.has(spec.dtype)) return specBytes(spec);
  const n = spec.shape.reduce((a, b) => a * b, 1);
  let at = offset;
  for (let i = 0; i < n; i++) {
    if (at + 4 > source.length) return undefined;
    const len = source.bytes(at, 4);
    at += 4 + new DataView(len.buffer, len.byteOffset, 4).getUint32(0, true);
  }
  return at - offset;
}

/** A non-float weight (a graph model's int32 shapes and indices, bool masks, string tables), decoded. */
export interface ValueWeight {
  name: string;
  dtype: 'int32' | 'bool' | 'string';
  shape: number[];
  /** int32 and bool (0/1) values; strings as the base64 of each element's bytes (they need not be text). */
  values: number[] | string[];
}

function decodeValues(spec: WeightSpec, raw: Uint8Array, n: number): ValueWeight {
  const base = { name: spec.name, shape: [...spec.shape] };
  if (spec.dtype === 'bool') return { ...base, dtype: 'bool', values: Array.from(raw.subarray(0, n), (b) => (b ? 1 : 0)) };
  if (spec.dtype === 'string') {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const values: string[] = [];
    for (let at = 0, i = 0; i < n; i++) {
      const len = view.getUint32(at, true);
      let bin = '';
      for (const b of raw.subarray(at + 4, at + 4 + len)) bin += String.fromCharCode(b);
      values.push(btoa(bin));
      at += 4 + len;
    }
    return { ...base, dtype: 'string', values };
  }
  const q = spec.quantization;
  if (q && q.dtype !== 'float16') {
    // TF.js decodes quantized int32 weights as round(q * scale + min).
    const codes = q.dtype === 'uint8' ? raw : aligned(raw, 2, (b, o) => new Uint16Array(b, o, n));
    return { ...base, dtype: 'int32', values: Array.from(codes, (c) => Math.round(c * (q.scale as number) + (q.min as number))) };
  }
  return { ...base, dtype: 'int32', values: Array.from(aligned(raw, 4, (b, o) => new Int32Array(b, o, n))) };
}

/**
 * Bytes a manifest group's weights take, every entry checked first (so shard sizes can be compared
 * before reading). A string weight stores each element's length in the data, so with strings only
 * a lower bound is known (4 bytes per element): `exact` says which.
 */
export function manifestBytes(specs: unknown, where: string): { bytes: number; exact: boolean } {
  if (!Array.isArray(specs)) throw new ModelIOError(`${where}: weight specs must be an array, got ${brief(specs)}`);
  let bytes = 0;
  let exact = true;
  specs.forEach((spec: unknown, i) => {
    checkSpec(spec, i, where);
    if (VARIABLE_DTYPES.has(spec.dtype)) {
      exact = false;
      bytes += 4 * spec.shape.reduce((a, b) => a * b, 1);
    } else bytes += specBytes(spec);
  });
  return { bytes, exact };
}

/**
 * The affine annotation equivalent to a TF.js uint8/uint16 manifest (value = q * scale + min), when
 * `min` is a whole number of steps below zero (the converter nudges it so that 0 is exact).
 */
export function manifestQuant(dtype: 'uint8' | 'uint16', scale: number, min: number): AffineQuant | undefined {
  const s = Math.fround(scale);
  const zpReal = -min / scale;
  const zp = Math.round(zpReal);
  if (!(s > 0) || !Number.isFinite(s) || Math.abs(zpReal - zp) > 1e-3 || Math.abs(zp) > 2 ** 30) return undefined;
  return { bits: dtype === 'uint8' ? 8 : 16, signed: false, scale: Float32Array.of(s), zeroPoint: Int32Array.of(zp) };
}

function decodeQuantized(spec: WeightSpec, raw: Uint8Array, n: number): Pick<Param, 'data' | 'quant' | 'float16'> {
  const q = spec.quantization as { dtype: QuantDtype; scale?: number; min?: number };
  const data = new Float32Array(n);
  const codes = q.dtype === 'uint8' ? raw : aligned(raw, 2, (b, o) => new Uint16Array(b, o, n));
  if (q.dtype === 'float16') {
    const table = halfToFloat();
    for (let i = 0; i < n; i++) data[i] = table[codes[i]];
    return { data, float16: true };
  }
  const scale = q.scale as number;
  const min = q.min as number;
  const quant = manifestQuant(q.dtype, scale, min);
  if (quant) {
    // Keep the IR invariant data = scale * (q - zeroPoint) exactly, so that re-export reproduces it bit for bit.
    const s = quant.scale[0];
    const zp = quant.zeroPoint[0];
    for (let i = 0; i < n; i++) data[i] = s * (codes[i] - zp);
    return { data, quant };
  }
  for (let i = 0; i < n; i++) data[i] = codes[i] * scale + min;
  return { data };
}

/** A typed view over `raw` when its offset is aligned, else over an aligned copy. */
function aligned<T>(raw: Uint8Array, align: number, make: (buf: ArrayBuffer, offset: number) => T): T {
  if (raw.byteOffset % align === 0) return make(raw.buffer as ArrayBuffer, raw.byteOffset);
  return make(raw.slice().buffer, 0);
}

export interface DecodeOptions {
  /** Copy float32 values out of the source instead of viewing it (when the caller still owns the bytes). */
  copy: boolean;
  /** Return int32, bool and string weights (a graph model's constants) as `values` instead of refusing them. */
  values?: boolean;
  /** Keep each quantized entry's manifest entry and bytes on its param (`Param.stored`), for `EncodeOptions.stored`. */
  stored?: boolean;
}

/**
 * Optimizer state as the converter's Keras 3 path (`--input_format keras_keras`) names it: every
 * dataset of the .keras file's model.weights.h5 goes into the manifest, the optimizer's as
 * `optimizer/vars/<i>` (also int32, e.g. the iteration count), without a group marking them.
 */
const KERAS3_OPTIMIZER_WEIGHT = /^optimizer\/(?:[^/]+\/)*vars\/\d+$/;

/**
 * Params from a weights manifest and its bytes, in manifest order. Float32 weights are views
 * into the source where alignment allows (no copy); quantized ones are decoded (uint8/uint16
 * get an IR `quant` annotation when the manifest's affine map has an integer zero point).
 * Optimizer weights (group 'optimizer', or Keras 3's `optimizer/vars/<i>`) are skipped. A weight
 * that runs past the data throws; data left over after the last weight comes back as `sizeError`.
 */
export function decodeWeights(specs: unknown, source: ByteSource, where: string, o: DecodeOptions): { params: Param[]; values: ValueWeight[]; sizeError?: string } {
  if (!Array.isArray(specs)) throw new ModelIOError(`${where}: weight specs must be an array, got ${brief(specs)}`);
  const out: Param[] = [];
  const values: ValueWeight[] = [];
  let offset = 0;
  let last = '';
  for (let i = 0; i < specs.length; i++) {
    const spec: unknown = specs[i];
    checkSpec(spec, i, where);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const len = storedBytes(spec, source, offset);
    if (len === undefined || offset + len > source.length) {
      throw new ModelIOError(`${where}: weight '${spec.name}' (shape [${spec.shape.join(', ')}], ${spec.quantization?.dtype ?? spec.dtype}) needs bytes ${offset}..${len === undefined ? '?' : offset + len} but the weight data has only ${source.length} bytes`);
    }
    const skip = spec.group === 'optimizer' || KERAS3_OPTIMIZER_WEIGHT.test(spec.name);
    if (!skip) {
      const raw = source.bytes(offset, len);
      if (spec.dtype !== 'float32') {
        if (!o.values || spec.dtype === 'complex64') throw new ModelIOError(`${where}: weight '${spec.name}' has dtype ${spec.dtype}; only float32 model weights are supported`);
        values.push(decodeValues(spec, o.copy ? raw.slice() : raw, n));
      } else {
        const decoded = spec.quantization ? decodeQuantized(spec, raw, n) : { data: o.copy || raw.byteOffset % 4 !== 0 ? copyFloats(raw, n) : new Float32Array(raw.buffer, raw.byteOffset, n) };
        // A quantized entry keeps its manifest entry and bytes, so that export can write it back exactly (float32 data is its own encoding).
        const stored = o.stored && spec.quantization ? { stored: { entry: structuredClone(spec) as unknown as Record<string, unknown>, bytes: o.copy ? raw.slice() : raw } } : {};
        out.push({ name: spec.name, shape: [...spec.shape], ...decoded, ...stored });
      }
    }
    offset += len;
    last = spec.name;
  }
  // Reported by the caller after the layers are read: a layer whose weight has the wrong shape names it better.
  const sizeError = offset === source.length ? undefined
    : `${where}: the weight data has ${source.length} bytes but the manifest describes ${offset} (through weight '${last}'); a weight's shape or dtype does not match the data`;
  return { params: out, values, sizeError };
}

function copyFloats(raw: Uint8Array, n: number): Float32Array {
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(raw);
  return data;
}

// ---------------------------------------------------------------- encoding

export interface EncodeOptions {
  float16?: boolean;
  quantized?: 'manifest' | 'dequantize';
  /**
   * Write a param's stored form (`Param.stored`: the entry and bytes it was read from) while it
   * still decodes to its data, so that each weight keeps its source encoding and bytes.
   */
  stored?: boolean;
}

/** One weight ready to be written: its manifest entry, its size, and a writer. */
export interface EncodedWeight {
  spec: WeightSpec;
  byteLength: number;
  write(out: Uint8Array): void;
}

/** Codes of a per-tensor affine param as an unsigned TF.js manifest, or why that is impossible. */
function affineCodes(p: Param, q: AffineQuant): { dtype: 'uint8' | 'uint16'; scale: number; min: number; codes: Uint8Array | Uint16Array } | string {
  if (q.scale.length !== 1) return `per-channel quantization (axis ${q.axis}) has no TF.js manifest form`;
  if (q.bits > 16) return `${q.bits}-bit quantization has no TF.js manifest form`;
  const dtype = q.bits <= 8 ? 'uint8' : 'uint16';
  const qmax = dtype === 'uint8' ? 255 : 65535;
  const scale = q.scale[0];
  // Signed codes shift into the unsigned range: s * (q - z) = s * ((q + 2^(b-1)) - (z + 2^(b-1))).
  const zp = q.zeroPoint[0] + (q.signed ? 2 ** (q.bits - 1) : 0);
  if (!(scale > 0) || zp < 0 || zp > qmax) return `its zero point ${q.zeroPoint[0]} does not map to a ${dtype} code`;
  const codes = dtype === 'uint8' ? new Uint8Array(p.data.length) : new Uint16Array(p.data.length);
  const { data, mask } = p;
  for (let i = 0; i < data.length; i++) {
    if (mask && mask[i] === 0) {
      codes[i] = zp;
      continue;
    }
    const c = Math.round(data[i] / scale) + zp;
    if (c < 0 || c > qmax || Math.fround(scale * (c - zp)) !== data[i]) return `its data is not exactly on the quantization grid (element ${i}: ${data[i]})`;
    codes[i] = c;
  }
  return { dtype, scale, min: -scale * zp, codes };
}

function floatWeight(p: Param, name: string, half: boolean, notes: string[]): EncodedWeight {
  const { data, mask } = p;
  const n = data.length;
  if (half) {
    const bits = new Uint16Array(n);
    let inexact = 0;
    for (let i = 0; i < n; i++) {
      const v = mask && mask[i] === 0 ? 0 : data[i];
      bits[i] = toFloat16Bits(v);
      if (p.float16 && fromFloat16Bits(bits[i]) !== v && !Number.isNaN(v)) inexact++;
    }
    if (inexact) notes.push(`param '${p.name}': ${inexact} value(s) were not float16-exact and were rounded`);
    return {
      spec: { name, shape: [...p.shape], dtype: 'float32', quantization: { dtype: 'float16' } },
      byteLength: n * 2,
      write: (out) => out.set(new Uint8Array(bits.buffer)),
    };
  }
  return {
    spec: { name, shape: [...p.shape], dtype: 'float32' },
    byteLength: n * 4,
    write: (out) => {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (!mask) return;
      // Pruned weights are written as zeros even if a stage left a value behind.
      const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
      for (let i = 0; i < n; i++) if (mask[i] === 0) view.setFloat32(i * 4, 0, true);
    },
  };
}

/**
 * The param's stored form (the manifest entry and bytes it was read from) when writing those back
 * gives exactly its data, and the options do not ask for another encoding (`quantized: 'dequantize'`).
 */
function storedFits(p: Param, o: EncodeOptions): StoredForm | undefined {
  const s = p.stored;
  if (!s || !o.stored) return undefined;
  const spec = s.entry as unknown as WeightSpec;
  if (!Array.isArray(spec.shape) || spec.shape.length !== p.shape.length || spec.shape.some((d, i) => d !== p.shape[i])) return undefined;
  const q = spec.quantization;
  if (spec.dtype !== 'float32' || !q || (q.dtype !== 'float16' && o.quantized === 'dequantize')) return undefined;
  if (s.bytes.byteLength !== specBytes(spec)) return undefined;
  const { data } = decodeQuantized(spec, s.bytes, p.data.length);
  for (let i = 0; i < data.length; i++) if (!Object.is(data[i], p.data[i])) return undefined;
  return s;
}

/**
 * Encode a param for a TF.js manifest: its stored form while that still decodes to its data (with `stored`); per-tensor affine quant as uint8/uint16 (exactly its data),
 * float16 params (or all floats with `float16`) as float16, the rest as float32. What TF.js cannot
 * express is written dequantized, with a note saying so.
 */
export function encodeParam(p: Param, name: string, o: EncodeOptions, notes: string[]): EncodedWeight {
  const stored = storedFits(p, o);
  if (stored) {
    return { spec: { ...(structuredClone(stored.entry) as unknown as WeightSpec), name }, byteLength: stored.bytes.byteLength, write: (out) => out.set(stored.bytes) };
  }
  const half = !!(p.float16 || o.float16);
  const as = half ? 'float16' : 'float32';
  if (p.codebook) notes.push(`param '${p.name}': a codebook (weight sharing) has no TF.js manifest form; written as ${as} (the shared values)`);
  else if (p.quant && o.quantized !== 'dequantize') {
    const q = affineCodes(p, p.quant);
    if (typeof q !== 'string') {
      const bytes = q.codes;
      return {
        spec: { name, shape: [...p.shape], dtype: 'float32', quantization: { dtype: q.dtype, scale: q.scale, min: q.min } },
        byteLength: bytes.byteLength,
        write: (out) => out.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
      };
    }
    notes.push(`param '${p.name}': ${q}; written as ${as} (dequantized)`);
  }
  return floatWeight(p, name, half, notes);
}
