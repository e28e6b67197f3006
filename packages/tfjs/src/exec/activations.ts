/**
 * The TF.js kernels of the IR's activations (@condense/ir owns their names, Keras identifiers,
 * reference values and facts). Keyed by `ActivationFn`: an activation added to the IR without a
 * kernel here is a type error.
 *
 * This module needs only tfjs-core and the IR's activation table: app runtimes reach it as
 * `@condense/tfjs/activations` without loading the bridge.
 */
import * as tf from '@tensorflow/tfjs-core';
import { activationAlpha, isActivation, type ActivationAttrs, type ActivationFn } from '@condense/ir/activations';

type Attrs = Record<string, unknown> | ActivationAttrs;
type ActivationKernel = (x: tf.Tensor, attrs: Attrs) => tf.Tensor;

function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
}

const hardSigmoid6 = (x: tf.Tensor) => tf.div(tf.relu6(tf.add(x, 3)), 6);

const KERNELS: Record<ActivationFn, ActivationKernel> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  relu6: (x) => tf.relu6(x),
  sigmoid: (x) => tf.sigmoid(x),
  tanh: (x) => tf.tanh(x),
  softmax: (x) => tf.softmax(x),
  elu: (x, attrs) => {
    const alpha = activationAlpha('elu', attrs);
    return alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.expm1(x)));
  },
  leakyRelu: (x, attrs) => tf.leakyRelu(x, activationAlpha('leakyRelu', attrs)),
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
  // tfjs-layers / Keras 2 definition.
  hardSigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
  // Keras 3's: relu6(x + 3) / 6, computed in that order.
  hardSigmoid6: (x) => hardSigmoid6(x),
  hardSwish: (x) => tf.mul(x, hardSigmoid6(x)),
  softplus: (x) => tf.softplus(x),
  selu: (x) => tf.selu(x),
  gelu: (x, attrs) => (attrs.approximate ? geluTanh(x) : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))))),
};

/** Activations tf.fused ops can apply in-kernel (keys: IR name, values: tf.fused name). */
export const FUSABLE: Partial<Record<ActivationFn, 'linear' | 'relu' | 'relu6' | 'elu' | 'sigmoid' | 'leakyrelu'>> = {
  linear: 'linear',
  relu: 'relu',
  relu6: 'relu6',
  elu: 'elu',
  sigmoid: 'sigmoid',
  leakyRelu: 'leakyrelu',
};

/**
 * Apply an activation by IR name. `attrs` carries optional `alpha` (elu, leakyRelu) and
 * `approximate` (gelu: tanh form instead of erf), as Keras does.
 */
export function activate(fn: string, x: tf.Tensor, attrs: Attrs = {}): tf.Tensor {
  if (!isActivation(fn)) throw new Error(`unknown activation '${fn}'`);
  return KERNELS[fn](x, attrs);
}
