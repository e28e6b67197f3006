/** Pooling kernels: windowed 2-D and 1-D (as 2-D over [N, 1, T, C]) max / average, and global pooling. */
import * as tf from '@tensorflow/tfjs-core';
import { pool2, single, strides2, type Node, type PoolKind } from '@condense/ir';
import { padding } from './fused.js';
import { registerKernel } from './kernels.js';

const poolOf = (kind: PoolKind) => (kind === 'max' ? tf.maxPool : tf.avgPool);

const pool2d =
  (kind: PoolKind) =>
  (node: Node, [x]: tf.Tensor[]): tf.Tensor => {
    const size = pool2(node.attrs);
    const strides = node.attrs.strides === undefined ? size : strides2(node.attrs);
    return poolOf(kind)(x as tf.Tensor4D, size, strides, padding(node.attrs));
  };

const pool1d =
  (kind: PoolKind) =>
  (node: Node, [x]: tf.Tensor[]): tf.Tensor => {
    const k = single(node.attrs.poolSize, 2);
    const s = single(node.attrs.strides, k);
    return tf.squeeze(poolOf(kind)(tf.expandDims(x, 1) as tf.Tensor4D, [1, k], [1, s], padding(node.attrs)), [1]);
  };

/** Max or mean over every axis between the batch and the channels. */
const globalPool =
  (kind: PoolKind) =>
  (node: Node, [x]: tf.Tensor[]): tf.Tensor => {
    const axes = x.shape.slice(1, -1).map((_, i) => i + 1);
    return (kind === 'max' ? tf.max : tf.mean)(x, axes, Boolean(node.attrs.keepDims));
  };

export function registerPoolingKernels(): void {
  for (const kind of ['max', 'avg'] as const) {
    registerKernel(`${kind}Pool2d`, pool2d(kind));
    registerKernel(`${kind}Pool1d`, pool1d(kind));
    for (const dims of ['1d', '2d']) registerKernel(`global${kind === 'max' ? 'Max' : 'Avg'}Pool${dims}`, globalPool(kind));
  }
}
