import * as tf from '@tensorflow/tfjs-core';
import type { Graph } from '@condense/ir';
import { compile, type CompiledModel } from '../exec/index.js';
import { toArrays, makeBatch, type Dataset } from './data.js';
import { correctCount, crossEntropy, topKCount } from './metrics.js';

export interface EvaluateOptions {
  /** Default 256. */
  batchSize?: number;
  /** k of the top-k accuracy; default 5 (clamped to the number of classes). */
  topK?: number;
}

export interface EvaluateResult {
  /** Top-1 accuracy, a fraction in [0, 1]. */
  accuracy: number;
  /** Mean cross-entropy. */
  loss: number;
  /** Top-k accuracy for k = `k`. */
  topKAccuracy: number;
  k: number;
  count: number;
}

/** Run a compiled model, or compile a graph for the duration of `fn` (then free it). */
export function withModel<T>(model: CompiledModel | Graph, fn: (m: CompiledModel) => T): T {
  if ('predict' in model) return fn(model);
  const m = compile(model);
  try {
    return fn(m);
  } finally {
    m.dispose();
  }
}

/** Accuracy, top-k accuracy and mean cross-entropy over a dataset, in inference mode. */
export function evaluate(model: CompiledModel | Graph, data: Dataset, options: EvaluateOptions = {}): EvaluateResult {
  return withModel(model, (m) => {
    const classes = m.outputShape.at(-1) as number;
    const a = toArrays(data, m.inputShapes[0], classes, 'evaluate');
    const batchSize = options.batchSize ?? 256;
    const k = Math.min(options.topK ?? 5, classes);
    let [loss, correct, topK] = [0, 0, 0];
    for (let start = 0; start < a.count; start += batchSize) {
      const end = Math.min(start + batchSize, a.count);
      const sums = tf.tidy(() => {
        const b = makeBatch(a, undefined, start, end);
        const r = m.predict(b.x);
        const n = end - start;
        return tf.stack([tf.mul(crossEntropy(r, b.y, classes), n), correctCount(r.output, b.y), topKCount(r.output, b.y, k)]);
      });
      const [l, c, t] = sums.dataSync();
      sums.dispose();
      [loss, correct, topK] = [loss + l, correct + c, topK + t];
    }
    const count = a.count;
    return { accuracy: count ? correct / count : 0, loss: count ? loss / count : 0, topKAccuracy: count ? topK / count : 0, k, count };
  });
}

/**
 * Model outputs for many examples, in batches. `x` is a tensor [n, ...example] or the row-major
 * values of n examples. Returns a tensor [n, ...output] the caller disposes.
 */
export function predict(model: CompiledModel | Graph, x: tf.Tensor | Float32Array, batchSize = 256): tf.Tensor {
  return withModel(model, (m) => {
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
        const r = m.predict(xb);
        outs.push(r.output);
      }
      return outs.length === 1 ? outs[0] : tf.concat(outs, 0);
    });
  });
}
