import * as tf from '@tensorflow/tfjs-core';
import type { Attrs } from '@condense/ir';

/** Activations tf.fused ops can apply in-kernel (keys: IR name, values: tf.fused name). */
export const FUSABLE: Record<string, 'linear' | 'relu' | 'relu6' | 'elu' | 'sigmoid' | 'leakyrelu'> = {
  linear: 'linear',
  relu: 'relu',
  relu6: 'relu6',
  elu: 'elu',
  sigmoid: 'sigmoid',
  leakyRelu: 'leakyrelu',
};

/** Keras/tfjs-layers defaults: LeakyReLU alpha 0.3, ELU alpha 1. */
export const leakyAlpha = (attrs: Attrs): number => (attrs.alpha as number | undefined) ?? 0.3;

/**
 * Apply an activation by IR name. `attrs` carries optional `alpha` (elu, leakyRelu) and
 * `approximate` (gelu: tanh form instead of erf), as Keras does.
 */
export function activate(fn: string, x: tf.Tensor, attrs: Attrs = {}): tf.Tensor {
  switch (fn) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    case 'softmax':
      return tf.softmax(x);
    case 'elu': {
      const alpha = (attrs.alpha as number | undefined) ?? 1;
      return alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.expm1(x)));
    }
    case 'leakyRelu':
      return tf.leakyRelu(x, leakyAlpha(attrs));
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
    case 'hardSigmoid':
      // tfjs-layers / Keras 2 definition.
      return tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1);
    case 'softplus':
      return tf.softplus(x);
    case 'selu':
      return tf.selu(x);
    case 'gelu':
      return attrs.approximate ? geluTanh(x) : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    default:
      throw new Error(`unknown activation '${fn}'`);
  }
}

function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
}
