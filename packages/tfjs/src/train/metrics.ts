import * as tf from '@tensorflow/tfjs-core';
import type { PredictResult } from '../exec/index.js';

/**
 * Mean softmax cross-entropy of integer labels. Uses the logits when the model ends in a softmax;
 * a model without a final softmax is taken to output logits.
 */
export function crossEntropy(r: PredictResult, y: tf.Tensor, classes: number): tf.Scalar {
  const logits = r.logits ?? r.output;
  return tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, classes), logits) as tf.Scalar;
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
