import { inferShapes, shuffle, type Graph } from '@condense/ir';
import type { Chunk, DataSource } from './source.js';
import { columnList, concatRows, gatherRows, sizeOf, widen, type ArrayTensor, type Columns, type DType } from './tensors.js';

/** One model input or output: its name, per-example shape (null: any size) and dtype. */
export interface TensorSpec {
  name: string;
  shape: readonly (number | null)[];
  dtype: DType;
  /** The activation an output ends in ('softmax', 'sigmoid', 'linear', ...); inputs have none. */
  activation?: string;
}

/** What data must look like to run a model. */
export interface ModelSpec {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** The activation the value of `name` ends in: an activation node's fn, a layer's fused activation, else linear. */
export function outputActivation(graph: Graph, name: string): string {
  const node = graph.nodes.find((n) => n.name === name);
  if (!node) return 'linear';
  const fn = node.op === 'activation' ? node.attrs.fn : node.attrs.activation;
  return typeof fn === 'string' ? fn : 'linear';
}

/** The inputs and outputs of an IR graph as data must match them. */
export function modelSpec(graph: Graph): ModelSpec {
  const shapes = inferShapes(graph);
  const input = (name: string): TensorSpec => {
    const node = graph.nodes.find((n) => n.name === name);
    const dtype = node?.attrs.dtype === 'int32' || node?.attrs.dtype === 'bool' ? node.attrs.dtype : 'float32';
    return { name, shape: (shapes.get(name) ?? [null]).slice(1), dtype };
  };
  return {
    inputs: graph.inputs.map(input),
    outputs: graph.outputs.map((name) => ({ name, shape: (shapes.get(name) ?? [null]).slice(1), dtype: 'float32', activation: outputActivation(graph, name) })),
  };
}

/** Examples bound to a model: inputs in the model's input order, targets in its output order. */
export interface Batch {
  count: number;
  inputs: ArrayTensor[];
  targets?: ArrayTensor[];
  weights?: Float32Array;
  /** Position of each example in the data (the pass order before shuffling): a key for caches. */
  indices: Int32Array;
}

export interface BatchOptions {
  batchSize: number;
  /**
   * Shuffle with this random stream: a memory source by a full permutation per pass (exact);
   * a stream through a buffer of `shuffleBuffer` examples (tf.data's shuffle). Omit for data order.
   */
  random?: () => number;
  /** Examples held for a stream's shuffle; default 1024. Memory stays bounded by it and the batch. */
  shuffleBuffer?: number;
  /** Read at most this many examples (the first ones). */
  limit?: number;
}

const fmt = (s: readonly (number | null)[]) => `[${s.map((d) => d ?? '?').join(', ')}]`;

/**
 * Batches of `source` checked against `spec`: shapes, dtypes, names and counts. Errors name the
 * data and the example index. A one-example chunk of a stream (tensors of the model's example
 * shape) gets its batch axis; targets are checked against the outputs by the runtime's losses.
 */
export async function* batches(source: DataSource, spec: ModelSpec, o: BatchOptions): AsyncGenerator<Batch> {
  if (!(Number.isInteger(o.batchSize) && o.batchSize > 0)) throw new Error(`${source.name}: batchSize must be a positive integer, got ${o.batchSize}`);
  const limit = o.limit ?? Infinity;
  if (source.take && source.count !== undefined) {
    const count = Math.min(source.count, limit);
    const order = Int32Array.from({ length: count }, (_, i) => i);
    if (o.random) shuffle(order, o.random);
    for (let start = 0; start < count; start += o.batchSize) {
      const indices = order.slice(start, Math.min(start + o.batchSize, count));
      yield bindChunk(source.take(indices), spec, source.name, indices);
    }
    return;
  }
  yield* streamBatches(source, spec, o, limit);
}

/** A row of a stream, copied out of its chunk so that the chunk can be freed. */
interface Row {
  index: number;
  inputs: ArrayTensor[];
  targets?: ArrayTensor[];
  weight?: number;
}

async function* streamBatches(source: DataSource, spec: ModelSpec, o: BatchOptions, limit: number): AsyncGenerator<Batch> {
  const capacity = o.random ? Math.max(1, o.shuffleBuffer ?? 1024) : 1;
  const buffer: Row[] = [];
  let pending: Row[] = [];
  let seen = 0;
  const emit = (row: Row): Batch | undefined => {
    pending.push(row);
    if (pending.length < o.batchSize) return undefined;
    const b = joinRows(pending);
    pending = [];
    return b;
  };
  for await (const chunk of source.stream()) {
    const batch = bindChunk(chunk, spec, source.name, undefined, seen);
    for (let r = 0; r < batch.count && seen < limit; r++, seen++) {
      buffer.push(rowOf(batch, r, seen));
      if (buffer.length < capacity) continue;
      // tf.data's shuffle: emit a random buffered row, its slot taken by the newest.
      const k = o.random ? Math.floor(o.random() * buffer.length) : 0;
      const out = buffer[k];
      buffer[k] = buffer[buffer.length - 1];
      buffer.pop();
      const full = emit(out);
      if (full) yield full;
    }
    if (seen >= limit) break;
  }
  while (buffer.length > 0) {
    const k = o.random ? Math.floor(o.random() * buffer.length) : 0;
    const out = buffer.splice(k, 1)[0];
    const full = emit(out);
    if (full) yield full;
  }
  if (pending.length > 0) yield joinRows(pending);
}

function rowOf(b: Batch, r: number, index: number): Row {
  const one = (t: ArrayTensor) => gatherRows(t, [r]);
  return { index, inputs: b.inputs.map(one), targets: b.targets?.map(one), weight: b.weights?.[r] };
}

function joinRows(rows: Row[]): Batch {
  const inputs = rows[0].inputs.map((_, i) => concatRows(rows.map((r) => r.inputs[i])));
  const targets = rows[0].targets?.map((_, i) => concatRows(rows.map((r) => (r.targets as ArrayTensor[])[i])));
  const weights = rows[0].weight === undefined ? undefined : Float32Array.from(rows, (r) => r.weight as number);
  return { count: rows.length, inputs, ...(targets ? { targets } : {}), ...(weights ? { weights } : {}), indices: Int32Array.from(rows, (r) => r.index) };
}

/**
 * Check a chunk against the model and put its tensors in model order, widened to the model's
 * dtypes. `first` is the example index of its first row (for errors).
 */
export function bindChunk(chunk: Chunk, spec: ModelSpec, name: string, indices?: Int32Array, first = 0): Batch {
  const inputs = order(chunk.inputs, spec.inputs, 'input', name);
  // A chunk whose first input has the model's example rank is a single example.
  const single = inputs[0] !== undefined && inputs[0].shape.length === spec.inputs[0].shape.length;
  const batched = (t: ArrayTensor) => (single ? { ...t, shape: [1, ...t.shape] } : t);
  const xs = inputs.map(batched);
  const count = xs[0]?.shape[0] ?? 0;
  const at = (k: number) => (indices ? indices[k] : first + k);
  const range = count === 1 ? `example ${at(0)}` : `examples ${at(0)}..${at(count - 1)}`;
  xs.forEach((x, i) => {
    const want = spec.inputs[i];
    const got = x.shape.slice(1);
    if (x.shape[0] !== count) throw new Error(`${name}: input '${want.name}' has ${x.shape[0]} examples, the first input ${count} (${range})`);
    if (got.length !== want.shape.length || got.some((d, j) => want.shape[j] !== null && d !== want.shape[j])) {
      throw new Error(`${name}: input '${want.name}' has example shape ${fmt(got)}, the model takes ${fmt(want.shape)} (${range})`);
    }
    if (want.dtype !== 'float32') checkIntegers(x, `${name}: input '${want.name}' is ${want.dtype}`, at);
  });
  const ys = chunk.targets === undefined ? undefined : order(chunk.targets, spec.outputs, 'target', name).map(batched);
  ys?.forEach((y, i) => {
    if (y.shape[0] !== count)
      throw new Error(`${name}: target for output '${spec.outputs[i].name}' has ${y.shape[0]} examples, the inputs ${count} (${range})`);
  });
  const w = chunk.weights === undefined ? undefined : batched(chunk.weights);
  if (w && (w.shape[0] !== count || w.values.length !== count))
    throw new Error(`${name}: weights must be one number per example, got shape ${fmt(w.shape)} for ${count} examples (${range})`);
  const weights = w ? (widen({ ...w, dtype: 'float32' }) as Float32Array) : undefined;
  return {
    count,
    inputs: xs.map((x, i) => ({ values: widen({ ...x, dtype: spec.inputs[i].dtype }), shape: x.shape, dtype: spec.inputs[i].dtype })),
    ...(ys ? { targets: ys } : {}),
    ...(weights ? { weights } : {}),
    indices: indices ?? Int32Array.from({ length: count }, (_, k) => first + k),
  };
}

/** Tensors in the order of `specs`: positional ones as given, named ones by name. */
function order(cols: Columns, specs: TensorSpec[], kind: 'input' | 'target', name: string): ArrayTensor[] {
  const what = kind === 'input' ? 'inputs' : 'outputs';
  if (Array.isArray(cols)) {
    if (cols.length !== specs.length)
      throw new Error(`${name}: ${cols.length} ${kind}(s) given, the model has ${specs.length} ${what} (${specs.map((s) => s.name).join(', ')})`);
    return cols;
  }
  const keys = Object.keys(cols);
  if (keys.length === 1 && specs.length === 1) return [cols[keys[0]]];
  return specs.map((s) => {
    const t = cols[s.name];
    if (!t) throw new Error(`${name}: no ${kind} named '${s.name}' (the model's ${what}: ${specs.map((x) => x.name).join(', ')}; given: ${keys.join(', ')})`);
    return t;
  });
}

function checkIntegers(t: ArrayTensor, what: string, at: (k: number) => number): void {
  if (!(t.values instanceof Float32Array || t.values instanceof Float64Array)) return;
  const row = sizeOf(t.shape.slice(1));
  const bad = t.values.findIndex((v) => !Number.isInteger(v));
  if (bad >= 0) throw new Error(`${what}, got ${t.values[bad]} at example ${at(Math.floor(bad / Math.max(row, 1)))}`);
}

/** Read the first `limit` examples of a source into memory as one chunk bound to the model. */
export async function collect(source: DataSource, spec: ModelSpec, limit = Infinity): Promise<Batch | undefined> {
  const parts: Batch[] = [];
  for await (const b of batches(source, spec, { batchSize: 1024, limit })) parts.push(b);
  if (parts.length === 0) return undefined;
  const join = (get: (b: Batch) => ArrayTensor[]) => get(parts[0]).map((_, i) => concatRows(parts.map((p) => get(p)[i])));
  const targets = parts[0].targets ? join((b) => b.targets as ArrayTensor[]) : undefined;
  const weights = parts[0].weights ? Float32Array.from(parts.flatMap((p) => Array.from(p.weights as Float32Array))) : undefined;
  return {
    count: parts.reduce((n, p) => n + p.count, 0),
    inputs: join((b) => b.inputs),
    ...(targets ? { targets } : {}),
    ...(weights ? { weights } : {}),
    indices: Int32Array.from(parts.flatMap((p) => Array.from(p.indices))),
  };
}

/** Whether the data carries targets: known for memory sources, else read from its first chunk. */
export async function hasTargets(source: DataSource): Promise<boolean> {
  if (source.hasTargets !== undefined) return source.hasTargets;
  if (!source.repeatable) throw new Error(`${source.name}: cannot look at a one-shot iterator before training; pass a function returning a fresh iterable`);
  for await (const chunk of source.stream()) return chunk.targets !== undefined && columnList(chunk.targets).length > 0;
  return false;
}
