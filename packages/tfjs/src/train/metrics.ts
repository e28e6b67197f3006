import * as tf from '@tensorflow/tfjs-core';
import type { PredictResult } from '../exec/index.js';

/**
 * Mean softmax cross-entropy of integer labels. Uses the logits when the model ends in a softmax;
 * a model without a final softmax is taken to output logits.
 */
export function crossEntropy(r: PredictResult, y: tf.Tensor, classes: number): tf.Scalar {
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
