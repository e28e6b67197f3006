import * as tf from '@tensorflow/tfjs-core';
import { zeroPadding, type Node } from '@condense/ir';
import { activate } from './activations.js';
import { registerConvolutionKernels } from './convolution.js';
import { finish, fusedActivation, leakyAlpha, type FusedActivation } from './fused.js';
import { registerKernel, type KernelContext } from './kernels.js';
import { registerMergeKernels } from './merge.js';
import { registerNormalizationKernels } from './normalization.js';
import { registerPoolingKernels } from './pooling.js';
import { registerReshapingKernels } from './reshaping.js';
import { registerSequenceKernels } from './sequence.js';
import { registerTensorOpKernels } from './tensor-ops.js';

function dense(node: Node, [x]: tf.Tensor[], p: Record<string, tf.Tensor>, ctx: KernelContext): tf.Tensor {
  const kernel = p.kernel as tf.Tensor2D;
  // tf.fused.matMul wants rank 2; dense on [..., in] applies to the last axis (Keras semantics).
  const x2 = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, kernel.shape[0]]) as tf.Tensor2D;
  let y: tf.Tensor;
  let fused: FusedActivation | undefined;
  if (ctx.training) {
    y = matMulForTraining(x2, kernel, p.bias, ctx.inputGrad);
  } else {
    fused = fusedActivation(node.attrs);
    y = tf.fused.matMul({ a: x2, b: kernel, bias: p.bias, activation: fused ?? 'linear', leakyreluAlpha: leakyAlpha(node.attrs) });
  }
  if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1]]);
  return finish(y, node.attrs, fused);
}

/**
 * x @ w + b with a hand-written gradient: tf.matMul's own gradient multiplies with transposeA/B
 * flags, which the WASM backend runs on a slow path (5-10x slower than an explicit transpose and
 * a plain matMul). The input gradient is computed only when something upstream trains.
 */
function matMulForTraining(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor | undefined, inputGrad: boolean): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save([x, w]);
    return {
      value: tf.fused.matMul({ a: x, b: w, bias }),
      gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => {
        const grads: tf.Tensor[] = [];
        if (inputGrad) grads.push(tf.matMul(dy as tf.Tensor2D, tf.transpose(ws) as tf.Tensor2D));
        grads.push(tf.matMul(tf.transpose(xs) as tf.Tensor2D, dy as tf.Tensor2D));
        if (bias) grads.push(tf.sum(dy, 0));
        return grads;
      },
    };
  });
  const inputs = [...(inputGrad ? [x] : []), w, ...(bias ? [bias] : [])];
  return op(...inputs) as tf.Tensor2D;
}

/**
 * Inference: moving statistics. Training: batch statistics (biased variance, as tfjs-layers),
 * and moving = momentum * moving + (1 - momentum) * batch, momentum 0.99 by default (Keras).
 */
function batchNorm(node: Node, [x]: tf.Tensor[], p: Record<string, tf.Tensor>, ctx: KernelContext): tf.Tensor {
  const epsilon = (node.attrs.epsilon as number | undefined) ?? 1e-3;
  if (!ctx.training) return tf.batchNorm(x, p.movingMean, p.movingVariance, p.beta, p.gamma, epsilon);
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const momentum = (node.attrs.momentum as number | undefined) ?? 0.99;
  const moving = (old: tf.Tensor, batch: tf.Tensor) => tf.add(tf.mul(old, momentum), tf.mul(batch, 1 - momentum));
  ctx.assign('movingMean', moving(p.movingMean, mean));
  ctx.assign('movingVariance', moving(p.movingVariance, variance));
  return tf.batchNorm(x, mean, variance, p.beta, p.gamma, epsilon);
}

function reshape(node: Node, [x]: tf.Tensor[]): tf.Tensor {
  const target = node.attrs.targetShape as number[];
  return tf.reshape(x, [x.shape[0], ...target]);
}

function concat(node: Node, inputs: tf.Tensor[]): tf.Tensor {
  const axis = (node.attrs.axis as number | undefined) ?? -1;
  return tf.concat(inputs, axis < 0 ? inputs[0].rank + axis : axis);
}

function dropout(node: Node, [x]: tf.Tensor[], _p: Record<string, tf.Tensor>, ctx: KernelContext): tf.Tensor {
  const rate = (node.attrs.rate as number | undefined) ?? 0;
  if (!ctx.training || rate === 0) return x;
  // Keras' noise_shape: one draw shared along its 1s (EfficientNet's per-example stochastic depth); null = the input's size.
  const noise = node.attrs.noiseShape as (number | null)[] | undefined;
  return tf.dropout(x, rate, noise?.map((d, i) => d ?? x.shape[i]), ctx.seed);
}

function zeroPad2d(node: Node, [x]: tf.Tensor[]): tf.Tensor {
  const [[t, b], [l, r]] = zeroPadding(node.attrs.padding);
  return tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]);
}

/** Register the kernels of every op @condense/ir defines. Idempotent. */
export function registerBuiltinKernels(): void {
  registerKernel('dense', dense);
  registerKernel('batchNorm', batchNorm, { stateRoles: ['movingMean', 'movingVariance'] });
  registerKernel('activation', (node, [x]) => activate(node.attrs.fn as string, x, node.attrs));
  registerKernel('flatten', (_node, [x]) => tf.reshape(x, [x.shape[0], -1]));
  registerKernel('reshape', reshape);
  registerKernel('add', (_node, inputs) => tf.addN(inputs));
  registerKernel('concat', concat);
  registerKernel('dropout', dropout);
  registerKernel('zeroPad2d', zeroPad2d);
  registerConvolutionKernels();
  registerPoolingKernels();
  registerReshapingKernels();
  registerMergeKernels();
  registerNormalizationKernels();
  registerSequenceKernels();
  registerTensorOpKernels();
  // Graph inputs are bound by the executor; the kernel exists so `input` is a known op.
  registerKernel('input', (node) => {
    throw new Error(`node '${node.name}': an input node is bound by the executor, not executed`);
  });
}

registerBuiltinKernels();
