/**
 * Convolution kernels: conv2d (grouped and dilated too), depthwiseConv2d, conv1d (as a conv2d over
 * [N, 1, T, C]) and conv2dTranspose.
 *
 * In training the convolutions run unfused: tf.fused ops compute every input's gradient eagerly
 * (the first layer's dx included), plain ops only the ones the tape needs. tf.conv2d and
 * tf.depthwiseConv2d have no gradient for dilations > 1; in training a dilated conv runs as an
 * undilated one over the kernel with zeros between its taps (the same sums, differentiable).
 */
import * as tf from '@tensorflow/tfjs-core';
import { convGroups, dilation1, dilation2, stride1, strides2, transposeOut, type Attrs, type Node, type Padding1d } from '@condense/ir';
import { finish, fusedActivation, leakyAlpha, padding } from './fused.js';
import { registerKernel, type KernelContext } from './kernels.js';

type Pair = [number, number];
type Params = Record<string, tf.Tensor>;

/** `k` with d - 1 zeros between its entries along `axis`: [..., n, ...] -> [..., (n - 1) d + 1, ...]. */
function spread(k: tf.Tensor, axis: number, d: number): tf.Tensor {
  if (d === 1) return k;
  const n = k.shape[axis];
  const x = tf.expandDims(k, axis + 1);
  const padded = tf.pad(
    x,
    x.shape.map((_, i): [number, number] => (i === axis + 1 ? [0, d - 1] : [0, 0])),
  );
  const flat = tf.reshape(
    padded,
    k.shape.map((s, i) => (i === axis ? n * d : s)),
  );
  return tf.slice(
    flat,
    k.shape.map(() => 0),
    k.shape.map((s, i) => (i === axis ? (n - 1) * d + 1 : s)),
  );
}

/** A kernel [kh, kw, ...] dilated by (dh, dw) as an undilated one: zeros between its taps. */
export const dilateKernel = (k: tf.Tensor4D, [dh, dw]: Pair): tf.Tensor4D => spread(spread(k, 0, dh), 1, dw) as tf.Tensor4D;

interface ConvSpec {
  strides: Pair;
  pad: 'same' | 'valid';
  dilation: Pair;
  groups: number;
}

const undilated = (d: Pair) => d[0] === 1 && d[1] === 1;

/** One conv2d (no groups) without bias or activation; dilated kernels are spread out in training. */
function plainConv(x: tf.Tensor4D, k: tf.Tensor4D, s: ConvSpec, training: boolean): tf.Tensor4D {
  if (training && !undilated(s.dilation)) return tf.conv2d(x, dilateKernel(k, s.dilation), s.strides, s.pad);
  return tf.conv2d(x, k, s.strides, s.pad, 'NHWC', s.dilation);
}

/** A grouped conv: each group of input channels convolved with its slice of the kernel's outputs, concatenated. */
function groupedConv(x: tf.Tensor4D, k: tf.Tensor4D, s: ConvSpec, training: boolean): tf.Tensor4D {
  const xs = tf.split(x, s.groups, 3);
  const ks = tf.split(k, s.groups, 3);
  return tf.concat(
    xs.map((xi, i) => plainConv(xi as tf.Tensor4D, ks[i] as tf.Tensor4D, s, training)),
    3,
  );
}

/** conv2d with bias and the node's activation, for inference (fused where tf can) or training. */
function convolve(node: Node, x: tf.Tensor4D, k: tf.Tensor4D, bias: tf.Tensor | undefined, s: ConvSpec, ctx: KernelContext): tf.Tensor4D {
  if (s.groups > 1 || ctx.training) {
    if (ctx.training && bias && s.groups === 1 && undilated(s.dilation)) {
      return finish(convForTraining(x, k, bias, s.strides, s.pad, ctx.inputGrad), node.attrs, undefined) as tf.Tensor4D;
    }
    const y = s.groups > 1 ? groupedConv(x, k, s, ctx.training) : plainConv(x, k, s, true);
    return finish(bias ? tf.add(y, bias) : y, node.attrs, undefined) as tf.Tensor4D;
  }
  const fused = fusedActivation(node.attrs);
  const y = tf.fused.conv2d({
    x,
    filter: k,
    strides: s.strides,
    pad: s.pad,
    dataFormat: 'NHWC',
    dilations: s.dilation,
    bias,
    activation: fused ?? 'linear',
    leakyreluAlpha: leakyAlpha(node.attrs),
  });
  return finish(y, node.attrs, fused) as tf.Tensor4D;
}

const specOf = (attrs: Attrs): ConvSpec => ({ strides: strides2(attrs), pad: padding(attrs), dilation: dilation2(attrs), groups: convGroups(attrs) });

function conv2d(node: Node, [x]: tf.Tensor[], p: Params, ctx: KernelContext): tf.Tensor {
  return convolve(node, x as tf.Tensor4D, p.kernel as tf.Tensor4D, p.bias, specOf(node.attrs), ctx);
}

/** conv1d over [N, T, C] as a conv2d over [N, 1, T, C]; causal padding is (k - 1) * dilation zeros before. */
function conv1d(node: Node, [x]: tf.Tensor[], p: Params, ctx: KernelContext): tf.Tensor {
  const [k, cin, cout] = p.kernel.shape;
  const pad = (node.attrs.padding ?? 'valid') as Padding1d;
  const dilation = dilation1(node.attrs);
  let x4 = tf.expandDims(x, 1) as tf.Tensor4D;
  if (pad === 'causal')
    x4 = tf.pad(x4, [
      [0, 0],
      [0, 0],
      [(k - 1) * dilation, 0],
      [0, 0],
    ]);
  const spec: ConvSpec = { strides: [1, stride1(node.attrs)], pad: pad === 'same' ? 'same' : 'valid', dilation: [1, dilation], groups: convGroups(node.attrs) };
  const y = convolve(node, x4, tf.reshape(p.kernel, [1, k, cin, cout]), p.bias, spec, ctx);
  return tf.squeeze(y, [1]);
}

/**
 * conv2d + bias with a hand-written gradient: the bias is added inside the conv kernel (no
 * separate pass over the activation, which on WASM costs ~10% of a LeNet-5 step), and as with
 * plain tf.conv2d the input gradient is computed only when something upstream trains.
 * Dilation 1 only: tf.conv2d's gradient rejects other values, and so must we.
 */
function convForTraining(x: tf.Tensor4D, w: tf.Tensor4D, bias: tf.Tensor, strides: Pair, pad: 'same' | 'valid', inputGrad: boolean): tf.Tensor4D {
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

function depthwiseConv2d(node: Node, [x]: tf.Tensor[], p: Params, ctx: KernelContext): tf.Tensor {
  const [strides, pad, dilation] = [strides2(node.attrs), padding(node.attrs), dilation2(node.attrs)];
  if (ctx.training) {
    const y = undilated(dilation)
      ? tf.depthwiseConv2d(x as tf.Tensor4D, p.kernel as tf.Tensor4D, strides, pad)
      : tf.depthwiseConv2d(x as tf.Tensor4D, dilateKernel(p.kernel as tf.Tensor4D, dilation), strides, pad);
    return finish(p.bias ? tf.add(y, p.bias) : y, node.attrs, undefined);
  }
  const fused = fusedActivation(node.attrs);
  // tf's depthwise filter is [h, w, in, multiplier] and output channel c*multiplier + m: the IR layout.
  const y = tf.fused.depthwiseConv2d({
    x: x as tf.Tensor4D,
    filter: p.kernel as tf.Tensor4D,
    strides,
    pad,
    dataFormat: 'NHWC',
    dilations: dilation,
    bias: p.bias,
    activation: fused ?? 'linear',
    leakyreluAlpha: leakyAlpha(node.attrs),
  });
  return finish(y, node.attrs, fused);
}

/**
 * The transpose of a conv2d (Keras Conv2DTranspose, TF's Conv2DBackpropInput): kernel [kh, kw,
 * out, in]. The output's height and width: a run-time output-shape input's, else
 * `attrs.outputShape`, else `transposeOut`'s.
 */
function conv2dTranspose(node: Node, [x, outShape]: tf.Tensor[], p: Params): tf.Tensor {
  const [n, h, w] = x.shape;
  const [kh, kw, f] = p.kernel.shape;
  const [sh, sw] = strides2(node.attrs);
  const pad = padding(node.attrs);
  const fixed = outShape ? Array.from(outShape.dataSync()).slice(1, 3) : (node.attrs.outputShape as number[] | undefined);
  const [ho, wo] = fixed ?? [transposeOut(h, kh, sh, pad), transposeOut(w, kw, sw, pad)];
  const y = tf.conv2dTranspose(x as tf.Tensor4D, p.kernel as tf.Tensor4D, [n, ho, wo, f], [sh, sw], pad);
  return finish(p.bias ? tf.add(y, p.bias) : y, node.attrs, undefined);
}

export function registerConvolutionKernels(): void {
  registerKernel('conv2d', conv2d);
  registerKernel('conv1d', conv1d);
  registerKernel('depthwiseConv2d', depthwiseConv2d);
  registerKernel('conv2dTranspose', conv2dTranspose);
}
