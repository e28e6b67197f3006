/** Element types a model input or a target can have. */
export type DType = 'float32' | 'int32' | 'bool';

export type TypedValues = Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array | Uint8ClampedArray;

/**
 * A tensor as plain arrays: `values` row-major, `shape` with the batch axis first. `values` may be
 * narrower than `dtype` (uint8 pixels of a float32 input): it is widened when batched.
 */
export interface ArrayTensor {
  values: TypedValues;
  shape: readonly number[];
  dtype: DType;
}

/** A TF.js tensor, read structurally so that core needs no TF.js. */
export interface TensorLike {
  readonly shape: readonly number[];
  readonly dtype: string;
  dataSync(): unknown;
}

/** Positional (in the model's input / output order) or named. */
export type Columns = ArrayTensor[] | Record<string, ArrayTensor>;

/** Anything that can be read as an `ArrayTensor`: arrays with a shape, a TF.js tensor, or nested number arrays. */
export type TensorInput = ArrayTensor | TensorLike | { values: ArrayLike<number>; shape: readonly number[]; dtype?: DType } | NestedNumbers;
export type NestedNumbers = number[] | NestedNumbers[];

/** One tensor, a list of them (positional) or a record (by input / output name). */
export type TensorsInput = TensorInput | TensorInput[] | Record<string, TensorInput>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export const isTensorLike = (v: unknown): v is TensorLike =>
  isObject(v) && typeof v.dataSync === 'function' && Array.isArray(v.shape) && typeof v.dtype === 'string';

const isTyped = (v: unknown): v is TypedValues =>
  ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);

/** Whether `v` is one tensor (as opposed to a list or record of them). */
export function isTensorInput(v: unknown): v is TensorInput {
  if (isTensorLike(v)) return true;
  if (Array.isArray(v)) return v.length === 0 || typeof v[0] === 'number' || Array.isArray(v[0]);
  return isObject(v) && 'values' in v && 'shape' in v;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The dtype values of this array type are read as, unless told. */
function dtypeOf(values: ArrayLike<number>): DType {
  return values instanceof Float32Array || values instanceof Float64Array || Array.isArray(values) ? 'float32' : 'int32';
}

/** Read one tensor; `where` names it in errors. */
export function toArrayTensor(v: TensorInput, where: string): ArrayTensor {
  if (isTensorLike(v)) {
    if (v.dtype !== 'float32' && v.dtype !== 'int32' && v.dtype !== 'bool')
      throw new Error(`${where}: tensors of dtype ${v.dtype} are not supported (float32, int32, bool)`);
    return { values: v.dataSync() as TypedValues, shape: [...v.shape], dtype: v.dtype };
  }
  if (Array.isArray(v)) return fromNested(v, where);
  const { values, shape } = v;
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0))
    throw new Error(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  const dtype = v.dtype ?? dtypeOf(values);
  const typed = isTyped(values) ? values : dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values);
  if (typed.length !== sizeOf(shape)) throw new Error(`${where}: ${typed.length} values do not fill the shape [${shape.join(', ')}]`);
  return { values: typed, shape: [...shape], dtype };
}

function fromNested(v: NestedNumbers, where: string): ArrayTensor {
  const shape: number[] = [];
  for (let level: unknown = v; Array.isArray(level); level = level[0]) shape.push(level.length);
  const flat = (v as unknown[]).flat(shape.length) as unknown[];
  if (flat.length !== sizeOf(shape) || flat.some((x) => typeof x !== 'number')) throw new Error(`${where}: nested arrays must be rectangular and hold numbers`);
  return { values: Float32Array.from(flat as number[]), shape, dtype: 'float32' };
}

/** Read one tensor, a list (positional) or a record (named). */
export function toColumns(v: TensorsInput, where: string): Columns {
  if (isTensorInput(v)) return [toArrayTensor(v, where)];
  if (Array.isArray(v)) return v.map((t, i) => toArrayTensor(t, `${where}[${i}]`));
  if (!isObject(v)) throw new Error(`${where}: expected a tensor, a list of tensors or a record of them, got ${typeof v}`);
  return Object.fromEntries(Object.entries(v).map(([k, t]) => [k, toArrayTensor(t, `${where}.${k}`)]));
}

export const columnList = (c: Columns): ArrayTensor[] => (Array.isArray(c) ? c : Object.values(c));

/** Apply `fn` to every tensor, keeping the positions / names. */
export function mapColumns(c: Columns, fn: (t: ArrayTensor) => ArrayTensor): Columns {
  return Array.isArray(c) ? c.map(fn) : Object.fromEntries(Object.entries(c).map(([k, t]) => [k, fn(t)]));
}

/** Rows `indices` of a batch-first tensor, in that order (a copy). */
export function gatherRows(t: ArrayTensor, indices: ArrayLike<number>): ArrayTensor {
  const row = sizeOf(t.shape.slice(1));
  const Ctor = t.values.constructor as new (n: number) => TypedValues;
  const out = new Ctor(indices.length * row);
  for (let k = 0; k < indices.length; k++) out.set(t.values.subarray(indices[k] * row, (indices[k] + 1) * row), k * row);
  return { values: out, shape: [indices.length, ...t.shape.slice(1)], dtype: t.dtype };
}

/** Rows [start, end) of a batch-first tensor (a view). */
export function sliceRows(t: ArrayTensor, start: number, end: number): ArrayTensor {
  const row = sizeOf(t.shape.slice(1));
  return { values: t.values.subarray(start * row, end * row), shape: [end - start, ...t.shape.slice(1)], dtype: t.dtype };
}

/** Batch-first tensors of the same example shape, stacked along the batch axis. */
export function concatRows(parts: ArrayTensor[]): ArrayTensor {
  if (parts.length === 1) return parts[0];
  const rows = parts.reduce((n, p) => n + p.shape[0], 0);
  const Ctor = parts[0].values.constructor as new (n: number) => TypedValues;
  const out = new Ctor(parts.reduce((n, p) => n + p.values.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p.values, at);
    at += p.values.length;
  }
  return { values: out, shape: [rows, ...parts[0].shape.slice(1)], dtype: parts[0].dtype };
}

/** The values as the typed array of `dtype` (float32 or int32; bool is int32), copied only when the type differs. */
export function widen(t: ArrayTensor): Float32Array | Int32Array {
  if (t.dtype === 'float32') return t.values instanceof Float32Array ? t.values : Float32Array.from(t.values);
  return t.values instanceof Int32Array ? t.values : Int32Array.from(t.values);
}
