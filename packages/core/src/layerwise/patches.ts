/**
 * The geometry of a convolution's input patches (im2col), shared by the layer-wise methods that
 * read a conv layer's input: the output grid and padding, and the patch sums (every patch entry
 * summed over the examples and output positions), which give the mean patch, so a layer's mean
 * output is a product with the kernel.
 */
import { windowOut, type Padding } from '@condense/ir';

/** A convolution's window over NHWC input. */
export interface ConvWindow {
  /** The layer's name, for messages. */
  name: string;
  /** [kh, kw]. */
  kernel: readonly [number, number] | readonly number[];
  /** Default [1, 1]. */
  strides?: readonly [number, number];
  /** Default [1, 1]. */
  dilation?: readonly [number, number];
  /** Default 'valid'. */
  padding?: Padding;
}

/** TF 'same' padding puts the smaller half before. */
function padBefore(size: number, out: number, k: number, stride: number, dilation: number, padding: Padding): number {
  if (padding === 'valid') return 0;
  return Math.floor(Math.max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0) / 2);
}

/** Output rows and columns, and the top/left padding, of a window over an h x w input. */
export function convWindow(win: ConvWindow, h: number, w: number): { ho: number; wo: number; top: number; left: number } {
  const [kh, kw] = win.kernel;
  const [sh, sw] = win.strides ?? [1, 1];
  const [dh, dw] = win.dilation ?? [1, 1];
  const padding = win.padding ?? 'valid';
  if (padding !== 'same' && padding !== 'valid') throw new Error(`layer '${win.name}': padding must be 'same' or 'valid', got '${String(padding)}'`);
  if (![sh, sw, dh, dw].every((v) => Number.isInteger(v) && v >= 1))
    throw new Error(`layer '${win.name}': strides and dilation must be positive integers, got [${sh}, ${sw}] and [${dh}, ${dw}]`);
  const ho = windowOut(h, kh, sh, dh, padding);
  const wo = windowOut(w, kw, sw, dw, padding);
  if (ho < 1 || wo < 1) throw new Error(`layer '${win.name}': a ${kh}x${kw} window does not fit the ${h}x${w} input`);
  return { ho, wo, top: padBefore(h, ho, kh, sh, dh, padding), left: padBefore(w, wo, kw, sw, dw, padding) };
}

/**
 * Sums over the examples and the output positions of each im2col patch entry of an NHWC batch:
 * entry (ky * kw + kx) * C + c is the sum of the input at window tap (ky, kx), channel c, over
 * every patch (padding zeros included). Divided by examples x output positions, the mean patch.
 * Cost: one pass over the batch plus kh * kw * ho * wo * C.
 */
export function patchSums(win: ConvWindow, x: ArrayLike<number>, shape: readonly number[], into?: Float64Array): Float64Array {
  if (shape.length !== 4) throw new Error(`layer '${win.name}': patch sums need an NHWC input, got [${shape.join(', ')}]`);
  const [n, h, w, c] = shape;
  const [kh, kw] = win.kernel;
  const [sh, sw] = win.strides ?? [1, 1];
  const [dh, dw] = win.dilation ?? [1, 1];
  const { ho, wo, top, left } = convWindow(win, h, w);
  const image = new Float64Array(h * w * c);
  const per = h * w * c;
  for (let e = 0; e < n; e++) for (let i = 0, base = e * per; i < per; i++) image[i] += x[base + i];
  const out = into ?? new Float64Array(kh * kw * c);
  if (out.length !== kh * kw * c) throw new Error(`layer '${win.name}': patch sums hold ${kh * kw * c} values, got an array of ${out.length}`);
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++) {
      const row = (ky * kw + kx) * c;
      for (let oy = 0; oy < ho; oy++) {
        const iy = oy * sh - top + ky * dh;
        if (iy < 0 || iy >= h) continue;
        for (let ox = 0; ox < wo; ox++) {
          const ix = ox * sw - left + kx * dw;
          if (ix < 0 || ix >= w) continue;
          const at = (iy * w + ix) * c;
          for (let ch = 0; ch < c; ch++) out[row + ch] += image[at + ch];
        }
      }
    }
  return out;
}
