/** Convolutions beyond conv2d and depthwiseConv2d: conv1d (over [N, T, C]) and conv2dTranspose. */
import { formatShape } from '../errors.js';
import {
  checkActivation,
  checkPositive,
  convGroups,
  groupInputs,
  kernelOf,
  lastDim,
  rank,
  single,
  spatialPositions,
  strides2,
  windowOut,
  type Padding,
} from './common.js';
import { fail, registerOp, type OpContext } from './registry.js';
import type { Attrs } from '../types.js';

/** Conv1d padding: TF's 'same' / 'valid', or Keras' 'causal' (all the padding before, so output t sees inputs <= t). */
export type Padding1d = Padding | 'causal';

export const stride1 = (attrs: Attrs): number => single(attrs.strides, 1);
export const dilation1 = (attrs: Attrs): number => single(attrs.dilation, 1);

function padding1(ctx: OpContext): Padding1d {
  const p = (ctx.node.attrs.padding ?? 'valid') as Padding1d;
  if (p !== 'same' && p !== 'valid' && p !== 'causal') fail(ctx, `padding must be 'same', 'valid' or 'causal', got '${String(p)}'`);
  return p;
}

/** Output length of a 1-D window over `size` steps; causal padding keeps every step (before striding). */
export function windowOut1(size: number, k: number, stride: number, dilation: number, padding: Padding1d): number {
  return padding === 'causal' ? Math.ceil(size / stride) : windowOut(size, k, stride, dilation, padding);
}

registerOp({
  op: 'conv1d',
  arity: 1,
  params: {
    kernel: {
      kind: 'weight',
      shape: (ctx) => {
        const k = kernelOf(ctx, 3);
        return [k[0], groupInputs(ctx, k[2]), k[2]];
      },
    },
    bias: { kind: 'bias', optional: true, shape: (ctx) => [kernelOf(ctx, 3)[2]] },
  },
  inferShape: (ctx) => {
    checkActivation(ctx, 'activation');
    const [, t] = rank(ctx, 0, 3);
    const k = kernelOf(ctx, 3);
    groupInputs(ctx, k[2]);
    const [s, d] = [stride1(ctx.node.attrs), dilation1(ctx.node.attrs)];
    checkPositive(ctx, 'strides and dilation', [s, d]);
    if (t === null) fail(ctx, `the steps must be known, got ${formatShape(ctx.inputs[0])}`);
    const out = windowOut1(t, k[0], s, d, padding1(ctx));
    if (out < 1) fail(ctx, `a window of ${k[0]} (dilation ${d}) does not fit ${t} steps`);
    return [null, out, k[2]];
  },
  macs: (ctx, out) => {
    const k = kernelOf(ctx, 3);
    return (out[1] as number) * k[0] * k[1] * k[2];
  },
  channels: {
    kind: 'produce',
    in: [{ role: 'kernel', axis: 1 }],
    out: [
      { role: 'kernel', axis: 2 },
      { role: 'bias', axis: 0 },
    ],
    groups: convGroups,
  },
});

/**
 * Output length of a transposed convolution along one axis (Keras' deconv_output_length without
 * output_padding, as tfjs-layers): 'valid' size * stride + max(k - stride, 0), 'same' size * stride.
 */
export function transposeOut(size: number, k: number, stride: number, padding: Padding): number {
  return padding === 'same' ? size * stride : size * stride + Math.max(k - stride, 0);
}

/** conv2dTranspose's output height and width: `attrs.outputShape` [h, w] (TF's input_sizes) when given, else `transposeOut`'s (unknown stays unknown). */
function transposeSpatial(ctx: OpContext, k: number[], strides: [number, number], padding: Padding): [number | null, number | null] {
  const fixed = ctx.node.attrs.outputShape;
  if (fixed !== undefined) {
    if (!Array.isArray(fixed) || fixed.length !== 2 || !fixed.every((d) => Number.isInteger(d) && d >= 1))
      fail(ctx, `outputShape must be [height, width], got ${JSON.stringify(fixed)}`);
    return [fixed[0] as number, fixed[1] as number];
  }
  const [, h, w] = ctx.inputs[0];
  const out = (size: number | null, i: 0 | 1) => (size === null ? null : transposeOut(size, k[i], strides[i], padding));
  return [out(h, 0), out(w, 1)];
}

/**
 * Transposed convolution (Keras' Conv2DTranspose, TF's Conv2DBackpropInput), NHWC, kernel
 * [kh, kw, out, in] (the forward conv's filter), optional bias [out] and fused activation. The
 * output size is `attrs.outputShape` [h, w] when given, else `transposeOut`'s; an optional second
 * input holding the output shape (an int32 [4] tensor computed at run time) makes it unknown.
 */
registerOp({
  op: 'conv2dTranspose',
  arity: 'variadic',
  params: {
    kernel: {
      kind: 'weight',
      shape: (ctx) => {
        const k = kernelOf(ctx, 4);
        return [k[0], k[1], k[2], lastDim(ctx, ctx.inputs[0])];
      },
    },
    bias: { kind: 'bias', optional: true, shape: (ctx) => [kernelOf(ctx, 4)[2]] },
  },
  inferShape: (ctx) => {
    checkActivation(ctx, 'activation');
    const [n] = rank(ctx, 0, 4);
    const k = kernelOf(ctx, 4);
    const strides = strides2(ctx.node.attrs);
    checkPositive(ctx, 'strides', strides);
    const padding = (ctx.node.attrs.padding ?? 'valid') as Padding;
    if (padding !== 'same' && padding !== 'valid') fail(ctx, `padding must be 'same' or 'valid', got '${String(padding)}'`);
    if (ctx.inputs.length > 2) fail(ctx, `takes the input and optionally an output-shape tensor, got ${ctx.inputs.length} inputs`);
    if (ctx.inputs.length === 2) {
      const s = ctx.inputs[1];
      if (s.length !== 1 || (s[0] !== null && s[0] !== 4)) fail(ctx, `the output-shape input must be a vector of 4, got ${formatShape(s)}`);
      return [n, null, null, k[2]];
    }
    return [n, ...transposeSpatial(ctx, k, strides, padding), k[2]];
  },
  // Every input position scatters into a kh x kw window: the MACs of the conv2d it transposes (an unknown size counts as 1).
  macs: (ctx) => {
    const k = kernelOf(ctx, 4);
    return spatialPositions(ctx.inputs[0]) * k[0] * k[1] * k[2] * k[3];
  },
  channels: {
    kind: 'produce',
    in: [{ role: 'kernel', axis: 3 }],
    out: [
      { role: 'kernel', axis: 2 },
      { role: 'bias', axis: 0 },
    ],
  },
});
