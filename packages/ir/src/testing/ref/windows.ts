/** Sliding windows in TF semantics, for convolutions and pooling. */
import type { Padding } from '../../ops/common.js';
import type { RefTensor } from '../../ops/registry.js';

/** Top/left padding of a windowed op (TF 'same': the smaller half before). */
export function padBefore(size: number, out: number, k: number, stride: number, dilation: number, padding: Padding): number {
  if (padding === 'valid') return 0;
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0);
  return Math.floor(total / 2);
}

export interface Window {
  n: number;
  h: number;
  w: number;
  c: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  top: number;
  left: number;
}

/** The window of an op over a [N, H, W, C] input; `before` overrides the padding before (a causal conv's). */
export function windowOf(
  x: RefTensor,
  out: number[],
  k: [number, number],
  strides: [number, number],
  dil: [number, number],
  padding: Padding,
  before?: [number, number],
): Window {
  const [n, h, w, c] = x.shape;
  const [, ho, wo] = out;
  return {
    n,
    h,
    w,
    c,
    ho,
    wo,
    kh: k[0],
    kw: k[1],
    sh: strides[0],
    sw: strides[1],
    dh: dil[0],
    dw: dil[1],
    top: before?.[0] ?? padBefore(h, ho, k[0], strides[0], dil[0], padding),
    left: before?.[1] ?? padBefore(w, wo, k[1], strides[1], dil[1], padding),
  };
}

/** Calls `f(inputOffset, ky, kx)` for every in-bounds tap of output position (b, y, x). */
export function taps(win: Window, b: number, y: number, x: number, f: (offset: number, ky: number, kx: number) => void) {
  for (let ky = 0; ky < win.kh; ky++) {
    const iy = y * win.sh - win.top + ky * win.dh;
    if (iy < 0 || iy >= win.h) continue;
    for (let kx = 0; kx < win.kw; kx++) {
      const ix = x * win.sw - win.left + kx * win.dw;
      if (ix < 0 || ix >= win.w) continue;
      f(((b * win.h + iy) * win.w + ix) * win.c, ky, kx);
    }
  }
}
