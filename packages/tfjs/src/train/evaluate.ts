import * as tf from '@tensorflow/tfjs-core';
import { batches, bindChunk, concatRows, modelSpec, type ArrayTensor, type DataSource, type ModelSpec, type TaskSpec } from '@condense/core';
import type { Graph } from '@condense/ir';
import { compile, type CompiledModel } from '../exec/index.js';
import { asSource, disposeBatch, toTensors, type TrainData } from './data.js';
import { checkTargets, metricKeys, metricSums, resolveTask, taskLoss, type Task } from './task.js';

export interface EvaluateOptions {
  /** Default 256. */
  batchSize?: number;
  /** k of the default top-k accuracy of classification outputs; default 5. */
  topK?: number;
  /** Losses and metrics per output; default from the model. */
  task?: TaskSpec;
  /** Evaluate the first N examples only. */
  limit?: number;
}

export interface EvaluateResult {
  /** Top-1 accuracy of the first output with an accuracy metric, a fraction in [0, 1] (NaN when none has). */
  accuracy: number;
  /** Mean task loss. */
  loss: number;
  /** Every metric by name ('accuracy', 'top5', 'mae', ...; 'output/name' for several outputs). */
  metrics: Record<string, number>;
  /** Top-k accuracy of the first classification output (k = `k`), NaN when there is none. */
  topKAccuracy: number;
  k: number;
  count: number;
}

/** Run a compiled model, or compile a graph for the duration of `fn` (then free it). */
export async function withModel<T>(model: CompiledModel | Graph, fn: (m: CompiledModel) => T | Promise<T>): Promise<T> {
  if ('predict' in model) return fn(model);
  const m = compile(model);
  try {
    return await fn(m);
  } finally {
    m.dispose();
  }
}

export interface Preflight {
  /** The task, when the data has targets. */
  task?: Task;
  /** Examples, when known (memory sources). */
  count?: number;
}

/**
 * Check data against a model before any work: shapes, dtypes and names of every chunk of a memory
 * source (the first chunk of a stream), and its targets against the task (label ranges, shapes).
 * Resolves the task from the first targets. Errors name the data and the example index.
 */
export async function preflight(
  source: DataSource,
  spec: ModelSpec,
  graph: Graph,
  taskSpec: TaskSpec | undefined,
  what: string,
  topK?: number,
): Promise<Preflight> {
  let task: Task | undefined;
  let seen = 0;
  const whole = source.take !== undefined;
  for await (const chunk of source.stream()) {
    const b = bindChunk(chunk, spec, `${what}: ${source.name}`, undefined, seen);
    if (b.targets) {
      task ??= resolveTask(graph, taskSpec, b.targets, { topK });
      checkTargets(task, b.targets, `${what}: ${source.name}`, b.indices);
    } else if (task) {
      throw new Error(`${what}: ${source.name}: examples ${seen}.. have no targets, earlier ones had`);
    }
    seen += b.count;
    if (!whole) break;
  }
  return { ...(task ? { task } : {}), ...(whole ? { count: seen } : {}) };
}

/** The loss and every metric (per output) over the data, in inference mode; the data needs targets. */
export async function evaluate(model: CompiledModel | Graph, data: TrainData, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  const source = asSource(data, 'evaluation data');
  return withModel(model, async (m) => {
    const spec = modelSpec(m.graph);
    const { task } = await preflight(source, spec, m.graph, options.task, 'evaluate', options.topK);
    if (!task) throw new Error(`evaluate: ${source.name} has no targets (labels); give data with targets, or compare outputs with the original model instead`);
    const keys = metricKeys(task);
    const sums = new Float64Array(keys.length);
    let [loss, count] = [0, 0];
    const dtypes = task.outputs.map((t) => t.loss.targetDtype);
    for await (const bound of batches(source, spec, { batchSize: options.batchSize ?? 256, limit: options.limit })) {
      const batch = toTensors(bound, dtypes);
      const out = tf.tidy(() => {
        const r = m.predict(batch.xs);
        return tf.concat([
          tf.reshape(tf.mul(taskLoss(task, r, batch.ys as tf.Tensor[], batch.weights), batch.count), [1]),
          metricSums(task, r, batch.ys as tf.Tensor[]),
        ]);
      });
      disposeBatch(batch);
      const v = out.dataSync();
      out.dispose();
      loss += v[0];
      for (let i = 0; i < keys.length; i++) sums[i] += v[i + 1];
      count += bound.count;
    }
    const metrics = Object.fromEntries(keys.map((k, i) => [k, count ? sums[i] / count : 0]));
    const accuracyKey = keys.find((k) => k === 'accuracy' || k.endsWith('/accuracy'));
    const topKey = keys.find((k) => /(^|\/)top\d+$/.test(k));
    return {
      accuracy: accuracyKey ? metrics[accuracyKey] : NaN,
      loss: count ? loss / count : 0,
      metrics,
      topKAccuracy: topKey ? metrics[topKey] : NaN,
      k: topKey ? Math.min(Number(topKey.split('top').at(-1)), task.outputs[0].shape.at(-1) as number) : 0,
      count,
    };
  });
}

/**
 * Model outputs (every output, in `graph.outputs` order) for the first `limit` examples of the
 * data, in data order, as arrays.
 */
export async function predictData(model: CompiledModel | Graph, data: TrainData, options: { limit?: number; batchSize?: number } = {}): Promise<ArrayTensor[]> {
  const source = asSource(data, 'data');
  return withModel(model, async (m) => {
    const spec = modelSpec(m.graph);
    const parts: ArrayTensor[][] = m.outputShapes.map(() => []);
    for await (const bound of batches(source, spec, { batchSize: options.batchSize ?? 256, limit: options.limit })) {
      const batch = toTensors(bound);
      const r = m.predict(batch.xs);
      r.outputs.forEach((o, i) => parts[i].push({ values: o.dataSync() as Float32Array, shape: o.shape, dtype: 'float32' }));
      tf.dispose([...r.outputs, ...r.outputLogits.filter((t): t is tf.Tensor => t !== undefined), ...Object.values(r.taps)]);
      disposeBatch(batch);
    }
    return parts.map((p, i) => (p.length ? concatRows(p) : { values: new Float32Array(0), shape: [0, ...m.outputShapes[i]], dtype: 'float32' }));
  });
}

/**
 * Model outputs for many examples, in batches. `x` is a tensor [n, ...example] or the row-major
 * values of n examples. Returns a tensor [n, ...output] the caller disposes.
 */
export function predict(model: CompiledModel | Graph, x: tf.Tensor | Float32Array, batchSize = 256): tf.Tensor {
  const run = (m: CompiledModel) => {
    const example = m.inputShapes[0];
    const size = example.reduce((p, d) => p * d, 1);
    const n = x instanceof Float32Array ? x.length / size : x.shape[0];
    if (!Number.isInteger(n)) throw new Error(`predict: ${(x as Float32Array).length} values are not a whole number of examples of ${size}`);
    if (n === 0) return tf.zeros([0, ...m.outputShape]);
    return tf.tidy(() => {
      const outs: tf.Tensor[] = [];
      for (let start = 0; start < n; start += batchSize) {
        const end = Math.min(start + batchSize, n);
        const xb = x instanceof Float32Array ? tf.tensor(x.subarray(start * size, end * size), [end - start, ...example]) : tf.slice(x, start, end - start);
        outs.push(m.predict(xb).output);
      }
      return outs.length === 1 ? outs[0] : tf.concat(outs, 0);
    });
  };
  if ('predict' in model) return run(model);
  const m = compile(model);
  try {
    return run(m);
  } finally {
    m.dispose();
  }
}
