/** The TF.js executor kernels of `kronDense` and `kronConv2d`: the runtime layers' forward passes, so training and the exported model compute the same. */
import * as tf from '@tensorflow/tfjs-core';
import { strides2, type Node } from '@condense/ir';
import { activate, registerKernel } from '@condense/tfjs';
import { padding } from './ir.js';
import { kronConv2d, kronMatMul } from '../runtime.js';

function withBiasAndActivation(node: Node, y: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor {
  const z = bias ? tf.add(y, bias) : y;
  return activate((node.attrs.activation as string | undefined) ?? 'linear', z, node.attrs);
}

registerKernel('kronDense', (node, [x], p) => {
  const a = p.a as tf.Tensor3D;
  const m = x.shape[x.rank - 1];
  const x2 = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, m]) as tf.Tensor2D);
  const y = withBiasAndActivation(node, kronMatMul(x2, a, p.b as tf.Tensor3D), p.bias);
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), y.shape[1] as number]);
});

registerKernel('kronConv2d', (node, [x], p) => {
  const y = kronConv2d(x as tf.Tensor4D, p.a as tf.Tensor5D, p.b as tf.Tensor5D, { strides: strides2(node.attrs), padding: padding(node.attrs) });
  return withBiasAndActivation(node, y, p.bias);
});
