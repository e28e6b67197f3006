import { fromFloat16Bits, type Param } from '@condense/ir';
import type { io } from '@tensorflow/tfjs-core';
import { chooseEncoding, growthNote, type ChooseOptions, type WeightEncoding } from './encoding.js';
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
  if (typeof spec.dtype !== 'string' || !(spec.dtype in VALUE_BYTES || VARIABLE_DTYPES.has(spec.dtype)))
    throw new ModelIOError(`${where}: weight '${spec.name}' has unsupported dtype ${brief(spec.dtype)}`);
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
 * The values of a quantized entry exactly as TF.js decodes them (tfjs-core io_utils, decodeWeight):
 * float16 bits converted exactly; uint8/uint16 codes as `code * scale + min` in float64 (the
 * manifest's numbers as parsed), rounded once to float32 by the Float32Array store.
 */
function decodeQuantized(spec: WeightSpec, raw: Uint8Array, n: number): Float32Array {
  const q = spec.quantization as { dtype: QuantDtype; scale?: number; min?: number };
  const data = new Float32Array(n);
  const codes = q.dtype === 'uint8' ? raw : aligned(raw, 2, (b, o) => new Uint16Array(b, o, n));
  if (q.dtype === 'float16') {
    const table = halfToFloat();
    for (let i = 0; i < n; i++) data[i] = table[codes[i]];
    return data;
  }
  const scale = q.scale as number;
  const min = q.min as number;
  for (let i = 0; i < n; i++) data[i] = codes[i] * scale + min;
  return data;
}

/** A typed view over `raw` when its offset is aligned, else over an aligned copy. */
function aligned<T>(raw: Uint8Array, align: number, make: (buf: ArrayBuffer, offset: number) => T): T {
  if (raw.byteOffset % align === 0) return make(raw.buffer as ArrayBuffer, raw.byteOffset);
  return make(raw.slice().buffer, 0);
}

export interface DecodeOptions {
  /** Copy float32 values out of the source instead of viewing it (when the caller still owns the bytes). */
  copy: boolean;
  /** Return int32, bool and string weights (a graph model's constants) as `values` instead of params (int32) or refusing them. */
  values?: boolean;
}

/**
 * Optimizer state as the converter's Keras 3 path (`--input_format keras_keras`) names it: every
 * dataset of the .keras file's model.weights.h5 goes into the manifest, the optimizer's as
 * `optimizer/vars/<i>` (also int32, e.g. the iteration count), without a group marking them.
 */
const KERAS3_OPTIMIZER_WEIGHT = /^optimizer\/(?:[^/]+\/)*vars\/\d+$/;

/**
 * Params from a weights manifest and its bytes, in manifest order. Float32 weights are views
 * into the source where alignment allows (no copy); quantized ones (uint8, uint16, float16) are
 * decoded exactly as TF.js decodes them and keep their manifest entry and bytes as `Param.stored`:
 * where they came from, not a compression annotation (stages see only the decoded values). int32
 * weights become float32 params, or with `values` (a graph model's) come back as `values`, with
 * bool and string ones. Optimizer weights (group 'optimizer', or Keras 3's `optimizer/vars/<i>`) are skipped. A weight
 * that runs past the data throws; data left over after the last weight comes back as `sizeError`.
 */
export function decodeWeights(
  specs: unknown,
  source: ByteSource,
  where: string,
  o: DecodeOptions,
): { params: Param[]; values: ValueWeight[]; sizeError?: string } {
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
      throw new ModelIOError(
        `${where}: weight '${spec.name}' (shape [${spec.shape.join(', ')}], ${spec.quantization?.dtype ?? spec.dtype}) needs bytes ${offset}..${len === undefined ? '?' : offset + len} but the weight data has only ${source.length} bytes`,
      );
    }
    const skip = spec.group === 'optimizer' || KERAS3_OPTIMIZER_WEIGHT.test(spec.name);
    if (!skip) {
      const raw = source.bytes(offset, len);
      if (spec.dtype !== 'float32') {
        if (o.values && spec.dtype !== 'complex64') values.push(decodeValues(spec, o.copy ? raw.slice() : raw, n));
        else if (spec.dtype === 'int32') {
          // int32 weights (a Normalization's sample count) as their values in float32, exact below 2^24.
          out.push({ name: spec.name, shape: [...spec.shape], data: Float32Array.from(aligned(raw, 4, (b, off) => new Int32Array(b, off, n))) });
        } else throw new ModelIOError(`${where}: weight '${spec.name}' has dtype ${spec.dtype}; only float32 and int32 model weights are supported`);
      } else if (spec.quantization) {
        const stored = { entry: structuredClone(spec) as unknown as Record<string, unknown>, bytes: o.copy ? raw.slice() : raw };
        out.push({ name: spec.name, shape: [...spec.shape], data: decodeQuantized(spec, raw, n), stored });
      } else {
        out.push({
          name: spec.name,
          shape: [...spec.shape],
          data: o.copy || raw.byteOffset % 4 !== 0 ? copyFloats(raw, n) : new Float32Array(raw.buffer, raw.byteOffset, n),
        });
      }
    }
    offset += len;
    last = spec.name;
  }
  // Reported by the caller after the layers are read: a layer whose weight has the wrong shape names it better.
  const sizeError =
    offset === source.length
      ? undefined
      : `${where}: the weight data has ${source.length} bytes but the manifest describes ${offset} (through weight '${last}'); a weight's shape or dtype does not match the data`;
  return { params: out, values, sizeError };
}

function copyFloats(raw: Uint8Array, n: number): Float32Array {
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(raw);
  return data;
}

// ---------------------------------------------------------------- encoding

export type EncodeOptions = ChooseOptions;

/** One weight ready to be written: its manifest entry, its size, a writer, and how and why it was encoded so. */
export interface EncodedWeight {
  spec: WeightSpec;
  byteLength: number;
  write(out: Uint8Array): void;
  encoding: WeightEncoding;
}

/**
 * Encode a param for a TF.js manifest in the smallest stock encoding that keeps its values (see
 * `chooseEncoding`): an untouched weight keeps the input's encoding and bytes. A weight written
 * larger than the input stored it gets a note saying why.
 */
export function encodeParam(p: Param, name: string, o: EncodeOptions, notes: string[]): EncodedWeight {
  const { quantization, bytes, encoding } = chooseEncoding(p, o);
  const grew = growthNote(encoding);
  if (grew) notes.push(grew);
  return {
    spec: { name, shape: [...p.shape], dtype: 'float32', ...(quantization ? { quantization } : {}) },
    byteLength: bytes.byteLength,
    write: (out) => out.set(bytes),
    encoding: { ...encoding, weight: name },
  };
}
