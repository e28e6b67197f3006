import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** Typed array for each IDX element type. */
export interface IdxArrays {
  uint8: Uint8Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  float32: Float32Array;
  float64: Float64Array;
}
export type IdxDtype = keyof IdxArrays;
export type IdxData = IdxArrays[IdxDtype];

/** A parsed IDX file. Narrowing on `dtype` narrows `data`. Row-major, first dim slowest. */
export type IdxTensor = { [D in IdxDtype]: { dtype: D; dims: number[]; data: IdxArrays[D] } }[IdxDtype];

/** Type code (third magic byte) -> element type and size, per the IDX format. */
const TYPE_CODES: Record<number, { dtype: IdxDtype; size: number }> = {
  0x08: { dtype: 'uint8', size: 1 },
  0x09: { dtype: 'int8', size: 1 },
  0x0b: { dtype: 'int16', size: 2 },
  0x0c: { dtype: 'int32', size: 4 },
  0x0d: { dtype: 'float32', size: 4 },
  0x0e: { dtype: 'float64', size: 8 },
};

/** A malformed IDX file; the message starts with the file name. */
export class IdxFormatError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'IdxFormatError';
  }
}

/** Reads an IDX file, gzip-compressed or raw. */
export function readIdx(path: string): IdxTensor {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new IdxFormatError(path, `cannot read file (${(err as Error).message})`);
  }
  return parseIdx(bytes, path);
}

/**
 * Parses IDX bytes, gunzipping first if they start with the gzip magic 1f 8b.
 * uint8/int8 data is a view over the (decompressed) bytes, not a copy; wider types are
 * decoded from big-endian into fresh arrays.
 */
export function parseIdx(bytes: Uint8Array, nameForErrors = '<idx bytes>'): IdxTensor {
  const raw = isGzip(bytes) ? gunzip(bytes, nameForErrors) : bytes;
  function fail(detail: string): never {
    throw new IdxFormatError(nameForErrors, detail);
  }

  if (raw.length < 4) fail(`too short for an IDX header (${raw.length} bytes)`);
  if (raw[0] !== 0 || raw[1] !== 0) fail(`bad magic ${hex(raw.subarray(0, 4))}, expected 00 00 <type> <ndims>`);
  const type: { dtype: IdxDtype; size: number } | undefined = TYPE_CODES[raw[2]];
  if (!type) fail(`unknown IDX type code 0x${raw[2].toString(16).padStart(2, '0')}`);

  const ndims = raw[3];
  const headerBytes = 4 + 4 * ndims;
  if (raw.length < headerBytes) fail(`truncated header: ${ndims} dims need ${headerBytes} bytes, file has ${raw.length}`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i));

  // Check the declared size against what is actually there before allocating anything,
  // so a corrupt header claiming huge dims fails fast instead of exhausting memory.
  const count = dims.reduce((a, b) => a * b, 1);
  const declared = count * type.size;
  const actual = raw.length - headerBytes;
  if (declared !== actual) {
    const what = declared > actual ? 'truncated' : 'trailing bytes';
    fail(`${what}: dims [${dims.join(', ')}] of ${type.dtype} say ${declared} data bytes but file has ${actual}`);
  }
  return { dtype: type.dtype, dims, data: decode(type.dtype, raw, headerBytes, count) } as IdxTensor;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function gunzip(bytes: Uint8Array, name: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw new IdxFormatError(name, `gzip data is corrupt (${(err as Error).message})`);
  }
}

/** IDX stores multi-byte values big-endian; DataView getters default to big-endian. */
function decode(dtype: IdxDtype, raw: Uint8Array, offset: number, count: number): IdxData {
  const start = raw.byteOffset + offset;
  const view = new DataView(raw.buffer, start, raw.byteLength - offset);
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(raw.buffer, start, count);
    case 'int8':
      return new Int8Array(raw.buffer, start, count);
    case 'int16':
      return Int16Array.from({ length: count }, (_, i) => view.getInt16(2 * i));
    case 'int32':
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(4 * i));
    case 'float32':
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i));
    case 'float64':
      return Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i));
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
