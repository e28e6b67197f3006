import {
  columnList,
  gatherRows,
  isTensorInput,
  isTensorLike,
  sizeOf,
  sliceRows,
  toArrayTensor,
  toColumns,
  type ArrayTensor,
  type Columns,
  type TensorInput,
  type TensorsInput,
} from './tensors.js';

/**
 * Examples as the data gives them: inputs (positional or by input name), optional targets
 * (positional or by output name), optional per-example weights. A chunk from a stream may be a
 * batch ([n, ...] tensors) or a single example (tensors of the model's example shape).
 */
export interface Chunk {
  inputs: Columns;
  targets?: Columns;
  weights?: ArrayTensor;
}

/**
 * Where a stage's data comes from. Memory sources give random access (`take`, exact seeded
 * shuffles); every source streams a pass in order, so that a dataset larger than memory trains
 * with memory bounded by the batch and the shuffle buffer.
 */
export interface DataSource {
  /** Names the data in errors, e.g. the file or folder it was read from. */
  readonly name: string;
  /** Examples per pass, when known without reading the data (memory sources). */
  readonly count?: number;
  /** Whether examples carry targets, when known without reading (memory sources). */
  readonly hasTargets?: boolean;
  /** Examples at `indices`, in that order, batch-first (memory sources). */
  take?(indices: ArrayLike<number>): Chunk;
  /** One pass over the data, in order. */
  stream(): AsyncIterable<Chunk>;
  /** False when the data can be read only once (a one-shot iterator): one epoch, no second pass. */
  readonly repeatable: boolean;
}

/** Examples in memory, batch-first; the forms `dataSource` reads. */
export interface ExamplesInput {
  inputs: TensorsInput;
  targets?: TensorsInput;
  /** One number per example (a typed array, or a [n] tensor). */
  weights?: TensorInput | Float32Array;
}

/** `@condense/datasets`' Split (images + integer labels) and `@condense/tfjs`' former Dataset spelling. */
export type SplitLike =
  | { images: ArrayLike<number>; labels?: ArrayLike<number>; count: number; shape: readonly number[] }
  | { x: ArrayLike<number>; y?: ArrayLike<number>; count: number; shape: readonly number[] };

/** A `tf.data.Dataset`, read structurally: each `iterator()` is a fresh pass. */
export interface TfDatasetLike {
  iterator(): Promise<{ next(): Promise<IteratorResult<unknown>> }>;
}

/** What one element of a stream may be: `{ inputs, targets?, weights? }`, tf.data's `{ xs, ys }`, or inputs alone. */
export type ChunkInput = ExamplesInput | { xs: TensorsInput; ys?: TensorsInput; weights?: TensorInput } | TensorsInput;

export type Streamable = AsyncIterable<ChunkInput> | Iterable<ChunkInput>;

/** Everything `dataSource` accepts. */
export type DataInput = DataSource | ExamplesInput | SplitLike | TfDatasetLike | Streamable | (() => Streamable);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export const isDataSource = (v: unknown): v is DataSource => isObject(v) && typeof v.stream === 'function' && typeof v.repeatable === 'boolean';

/**
 * The one way data enters condense: arrays or tensors in memory (`{ inputs, targets?, weights? }`,
 * or a Split), a `tf.data.Dataset`, any (async) iterable of batches, or a function returning a
 * fresh one per pass (a generator function). `name` names it in errors.
 */
export function dataSource(input: DataInput, name = 'data'): DataSource {
  if (isDataSource(input)) return input;
  if (typeof input === 'function') return streamSource(input as () => Streamable, name, true);
  if (!isObject(input)) throw new Error(`${name}: expected arrays, a tf.data.Dataset or an iterable of batches, got ${typeof input}`);
  if (typeof (input as Partial<TfDatasetLike>).iterator === 'function') return tfDataSource(input as unknown as TfDatasetLike, name);
  if ('images' in input || 'x' in input) return memorySource(fromSplit(input as SplitLike, name), name);
  if ('inputs' in input && !(Symbol.asyncIterator in input) && !(Symbol.iterator in input)) return memorySource(readChunk(input, name), name);
  if (Symbol.asyncIterator in input || Symbol.iterator in input) return streamSource(() => input as Streamable, name, false);
  throw new Error(`${name}: expected { inputs, targets? }, { images, labels }, a tf.data.Dataset or an iterable of batches`);
}

function fromSplit(s: SplitLike, name: string): Chunk {
  const x = 'images' in s ? s.images : s.x;
  const y = 'images' in s ? s.labels : s.y;
  // `shape` is [count, ...example] or the example's: batch-first when it holds all values, or when it is not per-example.
  const batchFirst = s.shape[0] === s.count && (sizeOf(s.shape) === x.length || sizeOf(s.shape) * s.count !== x.length);
  const example = batchFirst ? s.shape.slice(1) : s.shape;
  const inputs = [toArrayTensor({ values: x, shape: [s.count, ...example], dtype: 'float32' }, `${name}: images`)];
  if (y === undefined) return { inputs };
  if (y.length < s.count) throw new Error(`${name}: ${y.length} labels for ${s.count} examples`);
  const labels = y.length === s.count ? y : Array.prototype.slice.call(y, 0, s.count);
  return { inputs, targets: [toArrayTensor({ values: labels, shape: [s.count], dtype: 'int32' }, `${name}: labels`)] };
}

/** One element of a stream, or in-memory examples, as a chunk. */
export function readChunk(v: unknown, name: string): Chunk {
  if (isObject(v) && !isTensorInput(v) && ('inputs' in v || 'xs' in v)) {
    const inputs = toColumns(('inputs' in v ? v.inputs : v.xs) as TensorsInput, `${name}: inputs`);
    const t = 'inputs' in v ? v.targets : v.ys;
    const targets = t === undefined ? undefined : toColumns(t as TensorsInput, `${name}: targets`);
    const w = ArrayBuffer.isView(v.weights)
      ? { values: v.weights as unknown as ArrayLike<number>, shape: [(v.weights as unknown as ArrayLike<number>).length] }
      : v.weights;
    const weights = w === undefined ? undefined : toArrayTensor(w as TensorInput, `${name}: weights`);
    return { inputs, ...(targets ? { targets } : {}), ...(weights ? { weights: { ...weights, dtype: 'float32' } } : {}) };
  }
  return { inputs: toColumns(v as TensorsInput, `${name}: inputs`) };
}

/** Examples held in memory: random access by index, streamed in slices. */
export function memorySource(chunk: Chunk, name = 'data', transform?: (c: Chunk) => Chunk): DataSource {
  const tensors = [...columnList(chunk.inputs), ...(chunk.targets ? columnList(chunk.targets) : []), ...(chunk.weights ? [chunk.weights] : [])];
  const count = columnList(chunk.inputs)[0]?.shape[0] ?? 0;
  for (const t of tensors)
    if (t.shape[0] !== count) throw new Error(`${name}: every input, target and weight needs ${count} examples (the first input's), one has ${t.shape[0]}`);
  const map = (c: Chunk) => (transform ? transform(c) : c);
  const rows = (fn: (t: ArrayTensor) => ArrayTensor): Chunk => mapChunk(chunk, fn);
  return {
    name,
    count,
    hasTargets: chunk.targets !== undefined,
    repeatable: true,
    take: (indices) => map(rows((t) => gatherRows(t, indices))),
    async *stream() {
      const step = 1024;
      for (let start = 0; start < count; start += step) yield map(rows((t) => sliceRows(t, start, Math.min(start + step, count))));
    },
  };
}

/** The same chunk with `fn` applied to every tensor. */
export function mapChunk(c: Chunk, fn: (t: ArrayTensor) => ArrayTensor): Chunk {
  const each = (cols: Columns) => (Array.isArray(cols) ? cols.map(fn) : Object.fromEntries(Object.entries(cols).map(([k, t]) => [k, fn(t)])));
  return { inputs: each(c.inputs), ...(c.targets ? { targets: each(c.targets) } : {}), ...(c.weights ? { weights: fn(c.weights) } : {}) };
}

/** A stream of chunks; `open` gives a fresh pass when `repeatable`. */
function streamSource(open: () => Streamable, name: string, repeatable: boolean): DataSource {
  let opened = false;
  return {
    name,
    repeatable,
    async *stream() {
      if (!repeatable && opened)
        throw new Error(`${name}: a one-shot iterator can be read once (one epoch); pass a function returning a fresh iterable, e.g. a generator function`);
      opened = true;
      const it = open();
      if (!isObject(it) || !(Symbol.asyncIterator in it || Symbol.iterator in it))
        throw new Error(`${name}: the data function must return an (async) iterable of batches`);
      let i = 0;
      for await (const element of it as AsyncIterable<unknown>) yield readChunk(element, `${name} element ${i++}`);
    },
  };
}

/** A tf.data.Dataset: elements are tensors, `{ xs, ys }` or `{ inputs, targets }`; its tensors are disposed once read. */
function tfDataSource(ds: TfDatasetLike, name: string): DataSource {
  return {
    name,
    repeatable: true,
    async *stream() {
      const it = await ds.iterator();
      for (let i = 0; ; i++) {
        const r = await it.next();
        if (r.done) return;
        const chunk = readChunk(r.value, `${name} element ${i}`);
        disposeTensors(r.value);
        yield chunk;
      }
    },
  };
}

function disposeTensors(v: unknown): void {
  if (isTensorLike(v)) (v as { dispose?: () => void }).dispose?.();
  else if (Array.isArray(v)) v.forEach(disposeTensors);
  else if (isObject(v)) Object.values(v).forEach(disposeTensors);
}
