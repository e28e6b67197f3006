import * as tf from '@tensorflow/tfjs-core';
import { activationAlpha, dilation2, isActivation, pool2, strides2, zeroPadding, type Attrs, type Node } from '@condense/ir';
import { activate, FUSABLE } from './activations.js';
import { registerKernel, type KernelContext } from './kernels.js';

type FusedActivation = NonNullable<(typeof FUSABLE)[keyof typeof FUSABLE]>;

/** Keras/tfjs-layers default: LeakyReLU alpha 0.3. */
const leakyAlpha = (attrs: Attrs): number => activationAlpha('leakyRelu', attrs);

/** The tf.fused name of the node's activation if tf.fused can apply it, else undefined. */
function fusedActivation(attrs: Attrs): FusedActivation | undefined {
  const fn = (attrs.activation as string | undefined) ?? 'linear';
  if (!isActivation(fn) || (fn === 'elu' && activationAlpha('elu', attrs) !== 1)) return undefined;
  return FUSABLE[fn];
}

/** Apply the node's `attrs.activation` unless it was fused into the kernel. */
function finish(y: tf.Tensor, attrs: Attrs, fused: FusedActivation | undefined): tf.Tensor {
  if (fused) return y;
  return activate((attrs.activation as string | undefined) ?? 'linear', y, attrs);
}

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

const padding = (attrs: Attrs): 'same' | 'valid' => (attrs.padding as 'same' | 'valid' | undefined) ?? 'valid';

/**
 * In training the convolutions run unfused: tf.fused ops compute every input's gradient eagerly
 * (the first layer's dx included), plain ops only the ones the tape needs. A conv2d with a bias
 * goes through convForTraining, which fuses the bias but keeps that property.
 */
function conv2d(node: Node, [x]: tf.Tensor[], p: Record<string, tf.Tensor>, ctx: KernelContext): tf.Tensor {
  const dilations = dilation2(node.attrs);
  if (ctx.training && p.bias && dilations.every((d) => d === 1)) {
    const y = convForTraining(x as tf.Tensor4D, p.kernel as tf.Tensor4D, p.bias, strides2(node.attrs), padding(node.attrs), ctx.inputGrad);
    return finish(y, node.attrs, undefined);
  }
  if (ctx.training) {
    const y = tf.conv2d(x as tf.Tensor4D, p.kernel as tf.Tensor4D, strides2(node.attrs), padding(node.attrs), 'NHWC', dilation2(node.attrs));
    return finish(p.bias ? tf.add(y, p.bias) : y, node.attrs, undefined);
  }
  const fused = fusedActivation(node.attrs);
  const y = tf.fused.conv2d({
    x: x as tf.Tensor4D,
    filter: p.kernel as tf.Tensor4D,
    strides: strides2(node.attrs),
    pad: padding(node.attrs),
    dataFormat: 'NHWC',
    dilations: dilation2(node.attrs),
    bias: p.bias,
    activation: fused ?? 'linear',
    leakyreluAlpha: leakyAlpha(node.attrs),
  });
  return finish(y, node.attrs, fused);
}

/**
 * conv2d + bias with a hand-written gradient: the bias is added inside the conv kernel (no
 * separate pass over the activation, which on WASM costs ~10% of a LeNet-5 step), and as with
 * plain tf.conv2d the input gradient is computed only when something upstream trains.
 * Dilation 1 only: tf.conv2d's gradient rejects other values, and so must we.
 */
function convForTraining(
  x: tf.Tensor4D, w: tf.Tensor4D, bias: tf.Tensor, strides: [number, number], pad: 'same' | 'valid', inputGrad: boolean,
): tf.Tensor4D {
  const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1] };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save([x, w]);
    return {
      value: tf.fused.conv2d({ x, filter: w, strides, pad, dataFormat: 'NHWC', bias }),
      gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => {
        const grads: tf.Tensor[] = [];
        const run = (kernel: string, inputs: Record<string, tf.Tensor>, extra: Record<string, unknown>) =>
          tf.engine().runKernel(kernel, inputs, { ...attrs, ...extra } as unknown as tf.NamedAttrMap) as tf.Tensor;
        if (inputGrad) grads.push(run('Conv2DBackpropInput', { dy, filter: ws }, { inputShape: xs.shape }));
        grads.push(run('Conv2DBackpropFilter', { x: xs, dy }, { filterShape: ws.shape }));
        grads.push(tf.sum(dy, [0, 1, 2]));
        return grads;
      },
    };
  });
  return op(...(inputGrad ? [x] : []), w, bias) as tf.Tensor4D;
}

function depthwiseConv2d(node: Node, [x]: tf.Tensor[], p: Record<string, tf.Tensor>, ctx: KernelContext): tf.Tensor {
  if (ctx.training) {
    const y = tf.depthwiseConv2d(x as tf.Tensor4D, p.kernel as tf.Tensor4D, strides2(node.attrs), padding(node.attrs), 'NHWC', dilation2(node.attrs));
    return finish(p.bias ? tf.add(y, p.bias) : y, node.attrs, undefined);
  }
  const fused = fusedActivation(node.attrs);
  // tf's depthwise filter is [h, w, in, multiplier] and output channel c*multiplier + m: the IR layout.
  const y = tf.fused.depthwiseConv2d({
    x: x as tf.Tensor4D,
    filter: p.kernel as tf.Tensor4D,
    strides: strides2(node.attrs),
    pad: padding(node.attrs),
    dataFormat: 'NHWC',
    dilations: dilation2(node.attrs),
    bias: p.bias,
    activation: fused ?? 'linear',
    leakyreluAlpha: leakyAlpha(node.attrs),
  });
  return finish(y, node.attrs, fused);
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
  x: tf.Tensor, gamma: tf.Tensor | undefined, beta: tf.Tensor | undefined, epsilon: number, inputGrad: boolean,
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
      gradFunc: (dy: tf.Tensor, [xs, mu, v]: tf.Tensor[]) => tf.tidy(() => {
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

function pool(kind: 'max' | 'avg') {
  return (node: Node, [x]: tf.Tensor[]): tf.Tensor => {
    const size = pool2(node.attrs);
    const strides = node.attrs.strides === undefined ? size : strides2(node.attrs);
    const f = kind === 'max' ? tf.maxPool : tf.avgPool;
    return f(x as tf.Tensor4D, size, strides, padding(node.attrs));
  };
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
  return tf.dropout(x, rate, undefined, ctx.seed);
}

function zeroPad2d(node: Node, [x]: tf.Tensor[]): tf.Tensor {
  const [[t, b], [l, r]] = zeroPadding(node.attrs.padding);
  return tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]);
}

/** Register the kernels of every op in @condense/ir's builtin set. Idempotent. */
export function registerBuiltinKernels(): void {
  registerKernel('dense', dense);
  registerKernel('conv2d', conv2d);
  registerKernel('depthwiseConv2d', depthwiseConv2d);
  registerKernel('batchNorm', batchNorm, { stateRoles: ['movingMean', 'movingVariance'] });
  registerKernel('activation', (node, [x]) => activate(node.attrs.fn as string, x, node.attrs));
  registerKernel('maxPool2d', pool('max'));
  registerKernel('avgPool2d', pool('avg'));
  registerKernel('globalAvgPool2d', (node, [x]) => tf.mean(x, [1, 2], Boolean(node.attrs.keepDims)));
  registerKernel('flatten', (_node, [x]) => tf.reshape(x, [x.shape[0], -1]));
  registerKernel('reshape', reshape);
  registerKernel('add', (_node, inputs) => tf.addN(inputs));
  registerKernel('concat', concat);
  registerKernel('dropout', dropout);
  registerKernel('zeroPad2d', zeroPad2d);
  // Graph inputs are bound by the executor; the kernel exists so `input` is a known op.
  registerKernel('input', (node) => {
    throw new Error(`node '${node.name}': an input node is bound by the executor, not executed`);
  });
}

registerBuiltinKernels();
