/** Reference convolutions: conv2d (grouped too), conv1d, depthwiseConv2d, conv2dTranspose. */
import { sizeOf } from '../../graph.js';
import { convGroups, dilation2, strides2, type Padding } from '../../ops/common.js';
import { dilation1, stride1, type Padding1d } from '../../ops/convolution.js';
import type { OpContext, RefTensor } from '../../ops/registry.js';
import { as2d, fusedActivation, paramData, required, shapeOf, type Kernel } from './kernel.js';
import { padBefore, taps, windowOf, type Window } from './windows.js';

const paddingOf = (ctx: OpContext) => (ctx.node.attrs.padding ?? 'valid') as Padding;

/** y[b, oy, ox, f] = sum over the window and the group's inputs of x * kernel[ky, kx, ci, f] (+ bias). */
function convolve(
  x: RefTensor,
  k: Float32Array,
  [, kw, cpg, f]: number[],
  groups: number,
  win: Window,
  bias: Float32Array | undefined,
  out: number[],
): Float64Array {
  const y = new Float64Array(sizeOf(out));
  const fpg = f / groups;
  for (let b = 0; b < win.n; b++)
    for (let oy = 0; oy < win.ho; oy++)
      for (let ox = 0; ox < win.wo; ox++) {
        const o = ((b * win.ho + oy) * win.wo + ox) * f;
        taps(win, b, oy, ox, (off, ky, kx) => {
          for (let fo = 0; fo < f; fo++) {
            const first = Math.floor(fo / fpg) * cpg;
            let acc = 0;
            for (let ci = 0; ci < cpg; ci++) acc += x.data[off + first + ci] * k[((ky * kw + kx) * cpg + ci) * f + fo];
            y[o + fo] += acc;
          }
        });
        if (bias) for (let fo = 0; fo < f; fo++) y[o + fo] += bias[fo];
      }
  return y;
}

export const conv2d: Kernel = (inputs, ctx, out) => {
  const shape = shapeOf(ctx, 'kernel');
  const win = windowOf(inputs[0], out, [shape[0], shape[1]], strides2(ctx.node.attrs), dilation2(ctx.node.attrs), paddingOf(ctx));
  const y = convolve(inputs[0], required(ctx, 'kernel'), shape, convGroups(ctx.node.attrs), win, paramData(ctx, 'bias'), out);
  return fusedActivation(ctx, y, out);
};

/** conv1d as a conv2d over [N, 1, T, C]; causal padding puts (k - 1) * dilation steps before. */
export const conv1d: Kernel = (inputs, ctx, out) => {
  const [k, cpg, f] = shapeOf(ctx, 'kernel');
  const [s, d] = [stride1(ctx.node.attrs), dilation1(ctx.node.attrs)];
  const padding = (ctx.node.attrs.padding ?? 'valid') as Padding1d;
  const x = as2d(inputs[0]);
  const out2 = [out[0], 1, out[1], f];
  const win = windowOf(x, out2, [1, k], [1, s], [1, d], padding === 'causal' ? 'valid' : padding, padding === 'causal' ? [0, (k - 1) * d] : undefined);
  const y = convolve(x, required(ctx, 'kernel'), [1, k, cpg, f], convGroups(ctx.node.attrs), win, paramData(ctx, 'bias'), out2);
  return fusedActivation(ctx, y, out);
};

export const depthwiseConv2d: Kernel = (inputs, ctx, out) => {
  const [x] = inputs;
  const k = required(ctx, 'kernel');
  const [kh, kw, cin, m] = shapeOf(ctx, 'kernel');
  const win = windowOf(x, out, [kh, kw], strides2(ctx.node.attrs), dilation2(ctx.node.attrs), paddingOf(ctx));
  const bias = paramData(ctx, 'bias');
  const cout = cin * m;
  const y = new Float64Array(sizeOf(out));
  for (let b = 0; b < win.n; b++)
    for (let oy = 0; oy < win.ho; oy++)
      for (let ox = 0; ox < win.wo; ox++) {
        const o = ((b * win.ho + oy) * win.wo + ox) * cout;
        taps(win, b, oy, ox, (off, ky, kx) => {
          for (let ci = 0; ci < cin; ci++) {
            for (let j = 0; j < m; j++) y[o + ci * m + j] += x.data[off + ci] * k[((ky * kw + kx) * cin + ci) * m + j];
          }
        });
        if (bias) for (let c = 0; c < cout; c++) y[o + c] += bias[c];
      }
  return fusedActivation(ctx, y, out);
};

/**
 * The transpose of conv2d: every input position scatters x * kernel[ky, kx, :, ci] into the output
 * window it would have been computed from, with the conv2d's padding of the output size.
 */
export const conv2dTranspose: Kernel = (inputs, ctx, out) => {
  const [x] = inputs;
  const k = required(ctx, 'kernel');
  const [kh, kw, f, cin] = shapeOf(ctx, 'kernel');
  const [n, h, w] = x.shape;
  const [, ho, wo] = out;
  const [sh, sw] = strides2(ctx.node.attrs);
  const top = padBefore(ho, h, kh, sh, 1, paddingOf(ctx));
  const left = padBefore(wo, w, kw, sw, 1, paddingOf(ctx));
  const bias = paramData(ctx, 'bias');
  const y = new Float64Array(sizeOf(out));
  for (let b = 0; b < n; b++)
    for (let iy = 0; iy < h; iy++)
      for (let ix = 0; ix < w; ix++) {
        const xi = ((b * h + iy) * w + ix) * cin;
        for (let ky = 0; ky < kh; ky++) {
          const oy = iy * sh - top + ky;
          if (oy < 0 || oy >= ho) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ox = ix * sw - left + kx;
            if (ox < 0 || ox >= wo) continue;
            const o = ((b * ho + oy) * wo + ox) * f;
            for (let fo = 0; fo < f; fo++) {
              let acc = 0;
              for (let ci = 0; ci < cin; ci++) acc += x.data[xi + ci] * k[((ky * kw + kx) * f + fo) * cin + ci];
              y[o + fo] += acc;
            }
          }
        }
      }
  if (bias) for (let i = 0; i < y.length; i++) y[i] += bias[i % f];
  return fusedActivation(ctx, y, out);
};
