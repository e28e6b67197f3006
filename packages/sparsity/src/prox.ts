/**
 * Proximal operators and the accelerated proximal gradient (APG) update of SSS. Written over
 * tensors so that they run on the training device; call them inside a tf.tidy.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The proximal operator of t * |x|_1: sign(z) * max(|z| - t, 0). Values within t of 0 become exactly 0. */
export function softThreshold(z: tf.Tensor, t: number): tf.Tensor {
  if (!(t >= 0)) throw new Error(`softThreshold: the threshold must be >= 0, got ${t}`);
  return tf.mul(tf.sign(z), tf.relu(tf.sub(tf.abs(z), t)));
}

export interface ApgOptions {
  /** Step size eta. */
  learningRate: number;
  /** L1 penalty gamma on the factors. */
  gamma: number;
  /** Momentum mu. */
  momentum: number;
  /** Clamp the factors at 0 (SSS scales); batchNorm gammas keep their sign. */
  nonNegative: boolean;
}

/**
 * One APG step on factors `s` with loss gradient `grad` and momentum buffer `v` (Huang & Wang
 * 2017, eq. 11, in its momentum form):
 *   z = s - eta * grad;  z = softThreshold(z, eta * gamma);  v = z - s + mu * v;  s = z + mu * v
 * with s = max(0, s) when `nonNegative`. Returns the new factors and momentum buffer.
 */
export function apgStep(s: tf.Tensor, grad: tf.Tensor, v: tf.Tensor, o: ApgOptions): { s: tf.Tensor; v: tf.Tensor } {
  const z = softThreshold(tf.sub(s, tf.mul(grad, o.learningRate)), o.learningRate * o.gamma);
  const vNext = tf.add(tf.sub(z, s), tf.mul(v, o.momentum));
  const sNext = tf.add(z, tf.mul(vNext, o.momentum));
  return { s: o.nonNegative ? tf.relu(sNext) : sNext, v: vNext };
}

/**
 * The proximal operator of t * sum_g sqrt(|g|) * ||w_g||_2 for groups along the last axis
 * (one group per output channel: a filter or a neuron's incoming weights): every group is
 * shrunk towards 0 by t * sqrt(|g|) in norm, and groups within that of 0 become exactly 0.
 * `extra` tensors (a bias, indexed by the same last axis) belong to the same groups.
 */
export function groupShrink(kernel: tf.Tensor, extra: tf.Tensor[], t: number): { kernel: tf.Tensor; extra: tf.Tensor[] } {
  if (!(t >= 0)) throw new Error(`groupShrink: the threshold must be >= 0, got ${t}`);
  const channels = kernel.shape.at(-1) as number;
  const k2 = tf.reshape(kernel, [-1, channels]);
  let sq = tf.sum(tf.square(k2), 0);
  for (const e of extra) sq = tf.add(sq, tf.square(e));
  const size = k2.shape[0] + extra.length;
  const norm = tf.sqrt(sq);
  // factor = max(0, 1 - t sqrt(|g|) / ||w_g||); a zero group stays zero (no division by 0).
  const factor = tf.relu(tf.sub(1, tf.div(t * Math.sqrt(size), tf.maximum(norm, 1e-30))));
  return { kernel: tf.mul(kernel, factor), extra: extra.map((e) => tf.mul(e, factor)) };
}
