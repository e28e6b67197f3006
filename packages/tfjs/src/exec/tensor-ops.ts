/**
 * TF.js kernels of the IR ops graph-model import adds (constant, identity, biasAdd, binaryConst,
 * pad2d, resize2d, depthToSpace), computing what the TF ops they come from compute in TF.js.
 * (prelu and conv2dTranspose, which graph models also use, run on the family kernels.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { zeroPadding, type BinaryFn, type Node } from '@condense/ir';
import { registerKernel } from './kernels.js';

const BINARY: Record<BinaryFn, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  add: tf.add,
  sub: tf.sub,
  mul: tf.mul,
  div: tf.div,
  maximum: tf.maximum,
  minimum: tf.minimum,
};

/** A non-float constant's tensor from its attrs (float ones are their param's variable). */
function constantValue(node: Node, params: Record<string, tf.Tensor>): tf.Tensor {
  const p = params.weight ?? params.value;
  if (p) return p;
  const { dtype, shape, values } = node.attrs as { dtype: string; shape: number[]; values: (number | string)[] };
  if (dtype === 'string')
    return tf.tensor(
      (values as string[]).map((b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))),
      shape,
      'string',
    );
  return tf.tensor(values as number[], shape, dtype === 'bool' ? 'bool' : 'int32');
}

function pad2d(node: Node, x: tf.Tensor): tf.Tensor {
  const [[t, b], [l, r]] = zeroPadding(node.attrs.padding);
  const paddings: [number, number][] = [
    [0, 0],
    [t, b],
    [l, r],
    [0, 0],
  ];
  const mode = (node.attrs.mode as string | undefined) ?? 'constant';
  if (mode === 'constant') return tf.pad(x, paddings, (node.attrs.value as number | undefined) ?? 0);
  return tf.mirrorPad(x, paddings, mode as 'reflect' | 'symmetric');
}

function resize2d(node: Node, [x, size]: tf.Tensor[]): tf.Tensor {
  const hw = (size ? Array.from(size.dataSync()) : (node.attrs.size as number[])) as [number, number];
  const o = [!!node.attrs.alignCorners, !!node.attrs.halfPixelCenters] as const;
  return node.attrs.method === 'nearest' ? tf.image.resizeNearestNeighbor(x as tf.Tensor4D, hw, ...o) : tf.image.resizeBilinear(x as tf.Tensor4D, hw, ...o);
}

export function registerTensorOpKernels(): void {
  registerKernel('constant', (node, _inputs, params) => constantValue(node, params));
  registerKernel('identity', (_node, [x]) => x);
  registerKernel('biasAdd', (_node, [x], p) => tf.add(x, p.bias));
  registerKernel('binaryConst', (node, [x], p) => {
    const f = BINARY[node.attrs.fn as BinaryFn];
    return node.attrs.constFirst ? f(p.operand, x) : f(x, p.operand);
  });
  registerKernel('pad2d', (node, [x]) => pad2d(node, x));
  registerKernel('resize2d', resize2d);
  registerKernel('depthToSpace', (node, [x]) => tf.depthToSpace(x as tf.Tensor4D, node.attrs.blockSize as number));
}
