/** Kernels of the ops that move values: upSampling2d (nearest), cropping2d, permute, repeatVector. */
import * as tf from '@tensorflow/tfjs-core';
import { cropping2d, permuteDims, upSampling, type Node } from '@condense/ir';
import { registerKernel } from './kernels.js';

/** Repeat each slice [i, :] of a [rows, cols] view `times` times: a rank-3 broadcast (tf's tile gradient stops at rank 4). */
function repeatRows(x: tf.Tensor, rows: number, cols: number, times: number): tf.Tensor {
  return times === 1 ? x : tf.broadcastTo(tf.reshape(x, [rows, 1, cols]), [rows, times, cols]);
}

/** Nearest upsampling by copies, rows then columns (differentiable on every backend). */
function upSampling2d(node: Node, [x]: tf.Tensor[]): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const [sh, sw] = upSampling(node.attrs);
  const tall = repeatRows(x, n * h, w * c, sh);
  return tf.reshape(repeatRows(tall, n * h * sh * w, c, sw), [n, h * sh, w * sw, c]);
}

function crop(node: Node, [x]: tf.Tensor[]): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const [[t, b], [l, r]] = cropping2d(node.attrs.cropping);
  return tf.slice(x, [0, t, l, 0], [n, h - t - b, w - l - r, c]);
}

function repeatVector(node: Node, [x]: tf.Tensor[]): tf.Tensor {
  const [n, c] = x.shape;
  return tf.broadcastTo(tf.expandDims(x, 1), [n, node.attrs.n as number, c]);
}

export function registerReshapingKernels(): void {
  registerKernel('upSampling2d', upSampling2d);
  registerKernel('cropping2d', crop);
  registerKernel('permute', (node, [x]) => tf.transpose(x, [0, ...permuteDims(node.attrs)]));
  registerKernel('repeatVector', repeatVector);
}
