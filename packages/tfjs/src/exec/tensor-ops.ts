/**
 * TF.js kernels of the IR ops graph-model import adds (constant, identity, prelu, biasAdd,
 * binaryConst, pad2d, resize2d, depthToSpace, conv2dTranspose), computing what the TF ops they
 * come from compute in TF.js.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strides2, zeroPadding, type BinaryFn, type Node } from '@condense/ir';
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
  if (dtype === 'string') return tf.tensor((values as string[]).map((b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))), shape, 'string');
  return tf.tensor(values as number[], shape, dtype === 'bool' ? 'bool' : 'int32');
}

function pad2d(node: Node, x: tf.Tensor): tf.Tensor {
  const [[t, b], [l, r]] = zeroPadding(node.attrs.padding);
  const paddings: [number, number][] = [[0, 0], [t, b], [l, r], [0, 0]];
  const mode = (node.attrs.mode as string | undefined) ?? 'constant';
  if (mode === 'constant') return tf.pad(x, paddings, (node.attrs.value as number | undefined) ?? 0);
  return tf.mirrorPad(x, paddings, mode as 'reflect' | 'symmetric');
}

function resize2d(node: Node, [x, size]: tf.Tensor[]): tf.Tensor {
  const hw = (size ? Array.from(size.dataSync()) : (node.attrs.size as number[])) as [number, number];
  const o = [!!node.attrs.alignCorners, !!node.attrs.halfPixelCenters] as const;
  return node.attrs.method === 'nearest' ? tf.image.resizeNearestNeighbor(x as tf.Tensor4D, hw, ...o) : tf.image.resizeBilinear(x as tf.Tensor4D, hw, ...o);
}

/** TF's conv_transpose: the output size is `attrs.outputShape`, a run-time output-shape input, or TF's size for the padding. */
function conv2dTranspose(node: Node, [x, outShape]: tf.Tensor[], p: Record<string, tf.Tensor>): tf.Tensor {
  const kernel = p.kernel as tf.Tensor4D;
  const [n, h, w] = x.shape;
  const [sh, sw] = strides2(node.attrs);
  const padding = (node.attrs.padding as 'same' | 'valid' | undefined) ?? 'valid';
  const size = (d: number, k: number, s: number) => (padding === 'same' ? d * s : (d - 1) * s + k);
  const fixed = outShape ? Array.from(outShape.dataSync()).slice(1, 3) : (node.attrs.outputShape as number[] | undefined);
  const [ho, wo] = fixed ?? [size(h, kernel.shape[0], sh), size(w, kernel.shape[1], sw)];
  const y = tf.conv2dTranspose(x as tf.Tensor4D, kernel, [n, ho, wo, kernel.shape[2]], [sh, sw], padding);
  return p.bias ? tf.add(y, p.bias) : y;
}

export function registerTensorOpKernels(): void {
  registerKernel('constant', (node, _inputs, params) => constantValue(node, params));
  registerKernel('identity', (_node, [x]) => x);
  registerKernel('prelu', (_node, [x], p) => tf.prelu(x, p.alpha));
  registerKernel('biasAdd', (_node, [x], p) => tf.add(x, p.bias));
  registerKernel('binaryConst', (node, [x], p) => {
    const f = BINARY[node.attrs.fn as BinaryFn];
    return node.attrs.constFirst ? f(p.operand, x) : f(x, p.operand);
  });
  registerKernel('pad2d', (node, [x]) => pad2d(node, x));
  registerKernel('resize2d', resize2d);
  registerKernel('depthToSpace', (node, [x]) => tf.depthToSpace(x as tf.Tensor4D, node.attrs.blockSize as number));
  registerKernel('conv2dTranspose', conv2dTranspose);
}

registerTensorOpKernels();
