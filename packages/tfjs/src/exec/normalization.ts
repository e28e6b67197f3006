/** Kernels of the per-channel ops with params beyond batchNorm: layerNorm, normalization, rescaling, prelu. */
import * as tf from '@tensorflow/tfjs-core';
import { NORMALIZATION_EPSILON, rescaleOf, type Node } from '@condense/ir';
import { registerKernel } from './kernels.js';

/** (x - mean) / sqrt(variance + epsilon) * gamma + beta over each position's channels. */
function layerNorm(node: Node, [x]: tf.Tensor[], p: Record<string, tf.Tensor>): tf.Tensor {
  const epsilon = (node.attrs.epsilon as number | undefined) ?? 1e-3;
  const { mean, variance } = tf.moments(x, -1, true);
  let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  if (p.gamma) y = tf.mul(y, p.gamma);
  return p.beta ? tf.add(y, p.beta) : y;
}

/** x * scale + offset, skipping a unit scale and a zero offset (so x + 3 is exactly that). */
function rescaling(node: Node, [x]: tf.Tensor[]): tf.Tensor {
  const { scale, offset } = rescaleOf(node.attrs);
  const y = scale === 1 ? x : tf.mul(x, typeof scale === 'number' ? scale : tf.tensor1d(scale));
  return offset === 0 ? y : tf.add(y, typeof offset === 'number' ? offset : tf.tensor1d(offset));
}

export function registerNormalizationKernels(): void {
  registerKernel('layerNorm', layerNorm);
  registerKernel('normalization', (_node, [x], p) => tf.div(tf.sub(x, p.mean), tf.maximum(tf.sqrt(p.variance), NORMALIZATION_EPSILON)));
  registerKernel('rescaling', rescaling);
  registerKernel('prelu', (_node, [x], p) => tf.prelu(x, p.alpha));
}
