import * as tf from '@tensorflow/tfjs-core';
import type { PredictResult } from '../exec/index.js';

/**
 * Mean softmax cross-entropy of integer labels. Uses the logits when the model ends in a softmax;
 * a model without a final softmax is taken to output logits.
 */
export function crossEntropy(r: Pick<PredictResult, 'output' | 'logits'>, y: tf.Tensor, classes: number): tf.Scalar {
  const logits = r.logits ?? r.output;
  const labels = tf.oneHot(y as tf.Tensor1D, classes);
  // The value of tf.losses.softmaxCrossEntropy, op for op. Its gradient also computes the labels'
  // gradient and runs through broadcasts (slow on WASM); (softmax - labels) * dy / n is the same math.
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const z = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const logProbs = tf.sub(z, tf.logSumExp(z, [-1], true));
    save([logProbs, labels]); // the tape frees what the forward pass made
    const n = logProbs.size / (logProbs.shape.at(-1) as number); // examples (every position for rank > 2)
    return {
      value: tf.div(tf.sum(tf.sum(tf.neg(tf.mul(logProbs, labels)), [-1])), n),
      gradFunc: (dy: tf.Tensor, [lp, l]: tf.Tensor[]) => tf.mul(tf.sub(tf.exp(lp), l), tf.div(dy, n)),
    };
  });
  return op(logits) as tf.Scalar;
}

/** Number of examples whose arg-max equals the label (a float32 scalar). */
export function correctCount(output: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(output, -1), y), 'float32'));
}

/** Number of examples whose label is among the k highest scores. */
export function topKCount(output: tf.Tensor, y: tf.Tensor, k: number): tf.Scalar {
  const { indices } = tf.topk(output, k);
  const hit = tf.equal(indices, tf.expandDims(y, 1));
  return tf.sum(tf.cast(tf.any(hit, 1), 'float32'));
}

/** A user metric: per-example values [n] from the targets and the output; reported as their mean. */
export type MetricFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** A metric ready to run on one output: the sum of its per-example values over a batch. */
export interface Metric {
  /** Its name in results ('accuracy', 'top5', 'mae', a user metric's name). */
  readonly name: string;
  sum(y: tf.Tensor, output: tf.Tensor): tf.Scalar;
}

const rowMean = (t: tf.Tensor): tf.Tensor =>
  t.rank <= 1
    ? t
    : tf.mean(
        t,
        Array.from({ length: t.rank - 1 }, (_, i) => i + 1),
      );
const asFloat = (t: tf.Tensor) => tf.cast(t, 'float32');

/**
 * Accuracy for the kind of targets: class indices (arg-max equals the label), one-hot (arg-max
 * equals the target's), or binary (prediction above `threshold` agrees with the target above 0.5).
 */
export function accuracyMetric(kind: 'sparse' | 'onehot' | 'binary', threshold = 0.5): Metric {
  return {
    name: 'accuracy',
    sum: (y, out) => {
      if (kind === 'sparse')
        return y.rank === 1 && out.rank === 2 ? correctCount(out, y) : (tf.sum(rowMean(asFloat(tf.equal(tf.argMax(out, -1), y)))) as tf.Scalar);
      if (kind === 'onehot') return tf.sum(rowMean(asFloat(tf.equal(tf.argMax(out, -1), tf.argMax(y, -1))))) as tf.Scalar;
      const t = y.rank === out.rank ? y : tf.reshape(y, out.shape);
      return tf.sum(rowMean(asFloat(tf.equal(tf.greater(out, threshold), tf.greater(t, 0.5))))) as tf.Scalar;
    },
  };
}

/** Top-k accuracy of class-index (or one-hot) targets, per example (a sequence output: the mean over positions); k is clamped to the classes. */
export function topKMetric(k: number, classes: number, onehot: boolean): Metric {
  const kk = Math.max(1, Math.min(k, classes));
  return {
    name: `top${k}`,
    sum: (y, out) => {
      const labels = onehot ? tf.argMax(y, -1) : y;
      if (out.rank === 2) return topKCount(out, labels, kk);
      const { indices } = tf.topk(tf.reshape(out, [-1, classes]), kk);
      const hit = asFloat(tf.any(tf.equal(indices, tf.reshape(labels, [-1, 1])), 1));
      return tf.sum(tf.mean(tf.reshape(hit, [out.shape[0] as number, -1]), 1)) as tf.Scalar;
    },
  };
}

export function errorMetric(kind: 'mse' | 'mae'): Metric {
  return {
    name: kind,
    sum: (y, out) => {
      const d = tf.sub(out, y.rank === out.rank ? y : tf.reshape(y, out.shape));
      return tf.sum(rowMean(kind === 'mse' ? tf.square(d) : tf.abs(d))) as tf.Scalar;
    },
  };
}

export function userMetric(name: string, fn: MetricFn): Metric {
  return {
    name,
    sum: (y, out) => {
      const v = fn(y, out);
      if (!(v instanceof tf.Tensor)) throw new Error(`metric '${name}': the function must return a tensor, got ${typeof v}`);
      return tf.sum(v.rank === 0 ? tf.mul(v, out.shape[0] as number) : rowMean(v)) as tf.Scalar;
    },
  };
}
