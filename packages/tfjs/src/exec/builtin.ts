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
  const x2 = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, kernel.shape[0]]) as tf.Tensor2D);
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
  const { y, mean, variance } = batchNormForTraining(x, p.gamma, p.beta, epsilon, ctx.inputGrad);
  const momentum = (node.attrs.momentum as number | undefined) ?? 0.99;
  const moving = (old: tf.Tensor, batch: tf.Tensor) => tf.add(tf.mul(old, momentum), tf.mul(batch, 1 - momentum));
  ctx.assign('movingMean', moving(p.movingMean, mean));
  ctx.assign('movingVariance', moving(p.movingVariance, variance));
  tf.dispose([mean, variance]);
  return y;
}

/**
 * Batch norm on batch statistics with the closed-form gradient (Ioffe & Szegedy 2015):
 * xhat = (x - mean) / sqrt(var + eps), dbeta = sum(dy), dgamma = sum(dy * xhat),
 * dx = gamma / sqrt(var + eps) * (dy - (dbeta + xhat * dgamma) / M) over the M positions of a channel.
 * Through tf.moments and tf.batchNorm the tape holds ~10 activation-sized tensors per layer
 * and tfjs's own FusedBatchNorm gradient tiles and broadcasts: MobileNetV2 ran out of WASM
 * memory at batch 128, and batch-norm gradients were ~40% of its step. Returns the batch
 * statistics too (kept: the caller disposes them) for the moving averages.
 */
function batchNormForTraining(
  x: tf.Tensor,
  gamma: tf.Tensor | undefined,
  beta: tf.Tensor | undefined,
  epsilon: number,
  inputGrad: boolean,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const m = x.size / (x.shape.at(-1) as number);
  const stats = (t: tf.Tensor) => {
    const mean = tf.div(tf.sum(t, axes), m);
    return { mean, variance: tf.div(tf.sum(tf.square(tf.sub(t, mean)), axes), m) };
  };
  const inputs = [...(inputGrad ? [x] : []), ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  if (inputs.length === 0) {
    const { mean, variance } = stats(x);
    return { y: tf.batchNorm(x, mean, variance, beta, gamma, epsilon), mean: tf.keep(mean), variance: tf.keep(variance) };
  }
  let batch: { mean: tf.Tensor; variance: tf.Tensor } | undefined;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const { mean, variance } = stats(x);
    batch = { mean: tf.keep(mean), variance: tf.keep(variance) };
    save([x, mean, variance]);
    return {
      value: tf.batchNorm(x, mean, variance, beta, gamma, epsilon),
      // In a tidy: tfjs runs a custom gradient outside one and would keep every temporary to the end of the backward pass.
      gradFunc: (dy: tf.Tensor, [xs, mu, v]: tf.Tensor[]) =>
        tf.tidy(() => {
          const xhat = tf.batchNorm(xs, mu, v, undefined, undefined, epsilon);
          const dbeta = tf.sum(dy, axes);
          const dgamma = tf.sum(tf.mul(dy, xhat), axes);
          const grads: tf.Tensor[] = [];
          if (inputGrad) {
            const k = tf.mul(tf.rsqrt(tf.add(v, epsilon)), gamma ?? 1);
            const centred = tf.add(tf.mul(xhat, tf.div(dgamma, m)), tf.div(dbeta, m));
            grads.push(tf.mul(tf.sub(dy, centred), k));
          }
          if (gamma) grads.push(dgamma);
          if (beta) grads.push(dbeta);
          return grads;
        }),
    };
  });
  const y = op(...inputs);
  const { mean, variance } = batch as { mean: tf.Tensor; variance: tf.Tensor };
  return { y, mean, variance };
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
  return tf.dropout(
    x,
    rate,
    noise?.map((d, i) => d ?? x.shape[i]),
    ctx.seed,
  );
}

function zeroPad2d(node: Node, [x]: tf.Tensor[]): tf.Tensor {
  const [[t, b], [l, r]] = zeroPadding(node.attrs.padding);
  return tf.pad(x, [
    [0, 0],
    [t, b],
    [l, r],
    [0, 0],
  ]);
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
