import { readFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import type { ArrayTensor } from '@condense/core';

/** NumPy element types read, by their `descr` (byte order stripped). */
const DTYPES: Record<
  string,
  {
    size: number;
    read: (v: DataView, at: number, little: boolean) => number;
    dtype: ArrayTensor['dtype'];
    Array: Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;
  }
> = {
  f4: { size: 4, read: (v, at, le) => v.getFloat32(at, le), dtype: 'float32', Array: Float32Array },
  f8: { size: 8, read: (v, at, le) => v.getFloat64(at, le), dtype: 'float32', Array: Float32Array },
  f2: { size: 2, read: (v, at, le) => half(v.getUint16(at, le)), dtype: 'float32', Array: Float32Array },
  i1: { size: 1, read: (v, at) => v.getInt8(at), dtype: 'int32', Array: Int32Array },
  u1: { size: 1, read: (v, at) => v.getUint8(at), dtype: 'int32', Array: Uint8Array },
  b1: { size: 1, read: (v, at) => v.getUint8(at), dtype: 'bool', Array: Uint8Array },
  i2: { size: 2, read: (v, at, le) => v.getInt16(at, le), dtype: 'int32', Array: Int32Array },
  u2: { size: 2, read: (v, at, le) => v.getUint16(at, le), dtype: 'int32', Array: Int32Array },
  i4: { size: 4, read: (v, at, le) => v.getInt32(at, le), dtype: 'int32', Array: Int32Array },
  u4: { size: 4, read: (v, at, le) => v.getUint32(at, le), dtype: 'int32', Array: Int32Array },
  i8: { size: 8, read: (v, at, le) => Number(v.getBigInt64(at, le)), dtype: 'int32', Array: Int32Array },
  u8: { size: 8, read: (v, at, le) => Number(v.getBigUint64(at, le)), dtype: 'int32', Array: Int32Array },
};

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * Parse a `.npy` array (format 1.0 - 3.0, C order; float16/32/64, (u)int8-64, bool). Floats
 * become float32, integers int32 (uint8 kept as bytes). Errors name `where`.
 */
export function parseNpy(bytes: Uint8Array, where: string): ArrayTensor {
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') fail('not a .npy file (no \\x93NUMPY magic)');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const order = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shapeText) return fail(`unreadable .npy header ${JSON.stringify(header.trim())}`);
  if (order[1] === 'True') fail('Fortran-ordered arrays are not supported; save with np.ascontiguousarray');
  const type = DTYPES[descr[2]];
  if (!type) fail(`dtype ${descr[2]} is not supported (float16/32/64, int8-64, uint8-64, bool)`);
  const shape = shapeText[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (bytes.length - offset < n * type.size)
    fail(`truncated: shape [${shape.join(', ')}] needs ${n * type.size} bytes of data, the file has ${bytes.length - offset}`);
  const little = descr[1] !== '>';
  const values = new type.Array(n);
  for (let i = 0; i < n; i++) values[i] = type.read(view, offset + i * type.size, little);
  return { values, shape, dtype: type.dtype };
}

export async function readNpy(path: string): Promise<ArrayTensor> {
  return parseNpy(await readBytes(path), path);
}

/** The arrays of an `.npz` (zip of .npy files, compressed or not), by name without `.npy`. */
export async function readNpz(path: string): Promise<Record<string, ArrayTensor>> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(await readBytes(path));
  } catch (e) {
    throw new Error(`${path}: not a readable .npz (zip) file (${(e as Error).message})`);
  }
  const out: Record<string, ArrayTensor> = {};
  for (const [name, bytes] of Object.entries(files)) if (name.endsWith('.npy')) out[name.slice(0, -4)] = parseNpy(bytes, `${path}: ${name}`);
  if (Object.keys(out).length === 0) throw new Error(`${path}: the .npz holds no arrays`);
  return out;
}

export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
