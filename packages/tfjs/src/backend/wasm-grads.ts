/**
 * Training kernels for the tfjs WASM backend (@tensorflow/tfjs-backend-wasm 4.22.0).
 *
 * - Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter and
 *   DepthwiseConv2dNativeBackpropInput are missing (tfjs issue 8474), so conv
 *   models cannot train. We compose them from WASM's fast forward kernels
 *   (XNNPACK Conv2D / DepthwiseConv2dNative, Transpose, Reverse, Pad, Sum).
 *   UnsortedSegmentSum (gather's gradient: embeddings) is missing too; ScatterNd sums it.
 * - Native kernels much slower than a composition are replaced:
 *   Conv2DBackpropInput (a plain C++ loop; ours is XNNPACK matmul + ScatterNd,
 *   or for stride-1 "same" convs a conv with the flipped kernel)
 *   and BatchMatMul with transposes (a naive loop, hit by every dense layer's
 *   backprop; ours transposes explicitly and takes the XNNPACK path).
 * - Native MaxPoolGrad is wrong (drops the gradient of windows whose max is
 *   negative, picks the last of tied maxima) and slow; replaced.
 * - Identity (copies; tfjs saves every tensor a gradient needs through it) and
 *   Sum over leading axes (transposes first; every bias gradient) are replaced
 *   by a shared buffer and a column sum.
 * - Tile (an element-by-element index loop, ~10M elements/s; every batch-norm
 *   gradient tiles 1/sqrt(variance) to the activation's size) is replaced by
 *   block copies.
 * - Multiply, Add, Sub and RealDiv of an activation by a per-channel vector
 *   (batch-norm forward and backward, biases) broadcast through a per-element
 *   index computation, ~25x slower than the same op on equal shapes; a loop
 *   over rows of channels replaces that case.
 *
 * Importing this module registers them (side effect). Registration is
 * idempotent; the missing kernels are only added where no kernel exists, and
 * only the natives listed in REPLACEMENTS are ever replaced.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, Tensor, Tensor4D, TensorInfo } from '@tensorflow/tfjs-core';
// Make sure the wasm backend's own kernels are registered first, so the
// "already provided natively?" check below sees them.
import '@tensorflow/tfjs-backend-wasm';

const BACKEND = 'wasm';
/** Marks kernels registered by this module, so re-registration is a no-op. */
const OURS = Symbol.for('condense.wasm-grads');
type Pair = [number, number];
type PadArg = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

/** Geometry of a forward conv, resolved by tfjs itself (same/valid/explicit pads, rounding). */
interface Geometry {
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  kH: number;
  kW: number;
  strides: Pair;
  dilations: Pair;
  top: number;
  left: number;
}

function geometry(xShape: number[], filterShape: number[], attrs: NamedAttrMap, depthwise: boolean): Geometry {
  const dilations = (attrs.dilations ?? [1, 1]) as number | Pair;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | Pair,
    dilations,
    attrs.pad as PadArg,
    attrs.dimRoundingMode as RoundingMode,
    depthwise,
  );
  return {
    inH: info.inHeight,
    inW: info.inWidth,
    outH: info.outHeight,
    outW: info.outWidth,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

function assertNHWC(attrs: NamedAttrMap, kernel: string): void {
  const fmt = attrs.dataFormat as string | undefined;
  if (fmt != null && fmt !== 'NHWC' && fmt !== 'channelsLast') {
    throw new Error(`wasm ${kernel} supports only dataFormat 'NHWC', got '${fmt}'.`);
  }
}

/** Kernel inputs are Tensors when called through ops; wrap bare TensorInfos just in case. */
function asTensor(t: TensorInfo): Tensor {
  if ((t as Tensor).rank != null) return t as Tensor;
  return tf.engine().makeTensorFromTensorInfo(t);
}

/**
 * Forward conv through the registered kernel (not the op), so explicit,
 * asymmetric pads and stride>1 together with dilation>1 are allowed.
 * Negative pads crop the input instead.
 */
function conv(kind: 'Conv2D' | 'DepthwiseConv2dNative', x: Tensor4D, filter: Tensor4D, strides: Pair, dilations: Pair, pads: [Pair, Pair]): Tensor4D {
  const cropped = cropNegative(x, pads);
  const pad = [
    [0, 0],
    [Math.max(0, pads[0][0]), Math.max(0, pads[0][1])],
    [Math.max(0, pads[1][0]), Math.max(0, pads[1][1])],
    [0, 0],
  ];
  const attrs = { strides, dilations, pad, dataFormat: 'NHWC' } as unknown as NamedAttrMap;
  return tf.engine().runKernel(kind, { x: cropped, filter }, attrs) as Tensor4D;
}

function cropNegative(x: Tensor4D, pads: [Pair, Pair]): Tensor4D {
  const [[t, b], [l, r]] = pads;
  if (t >= 0 && b >= 0 && l >= 0 && r >= 0) return x;
  const [n, h, w, c] = x.shape;
  const top = Math.max(0, -t);
  const left = Math.max(0, -l);
  const height = h - top - Math.max(0, -b);
  const width = w - left - Math.max(0, -r);
  return tf.slice(x, [0, top, left, 0], [n, height, width, c]);
}

/**
 * Bottom (or right) pad that makes a stride-`step`, dilation-`gap` correlation
 * of an `len`-long input with a `taps`-long filter produce exactly `want`
 * outputs, starting `pre` elements before the input. Negative = crop.
 */
function trailingPad(len: number, pre: number, taps: number, gap: number, step: number, want: number): number {
  return (want - 1) * step + (taps - 1) * gap + 1 - pre - len;
}

/** Insert (s-1) zeros between rows/cols of dy: dy[n, oh*s, ow*s, c] = dy[n, oh, ow, c]. */
function dilateSpatial(dy: Tensor4D, [sh, sw]: Pair): Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, h, w, c] = dy.shape;
  // Trailing zeros after the last row/col are harmless: callers crop them via pads.
  const spread = tf.pad(tf.reshape(dy, [n * h, 1, w, 1, c]), [
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return tf.reshape(spread, [n, h * sh, w * sw, c]);
}

/**
 * dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*s+kh*d-top, ow*s+kw*d-left, ci] * dy[n,oh,ow,co]:
 * a conv of x with channels as batch ([Ci,H,W,N]) and dy as filter ([OH,OW,N,Co]),
 * whose stride is the forward dilation and whose dilation is the forward stride.
 */
function conv2DBackpropFilter(x: Tensor4D, dy: Tensor4D, g: Geometry, onWasm: boolean): Tensor4D {
  if (onWasm && x.shape[3] === 1) return singleChannelFilterGrad(x, dy, g);
  if (isPointwise(g)) return pointwiseFilterGrad(x, dy);
  const xt = tf.transpose(x, [3, 1, 2, 0]);
  const dyt = tf.transpose(dy, [1, 2, 0, 3]);
  const out = conv('Conv2D', xt, dyt, g.dilations, g.strides, filterGradPads(g));
  return tf.transpose(out, [1, 2, 0, 3]) as Tensor4D;
}

/** A 1x1 conv reading every input pixel once: stride 1, no padding (MobileNet's expansions and projections). */
function isPointwise(g: Geometry): boolean {
  return g.kH === 1 && g.kW === 1 && g.strides[0] === 1 && g.strides[1] === 1 && g.top === 0 && g.left === 0 && g.outH === g.inH && g.outW === g.inW;
}

/**
 * 1x1: dW = xᵀ · dy over all pixels, one GEMM ([Ci, P] x [P, Co]). As a correlation with dy
 * as an [H, W] filter, XNNPACK runs its generic path, several times slower.
 */
function pointwiseFilterGrad(x: Tensor4D, dy: Tensor4D): Tensor4D {
  const [ci, co] = [x.shape[3], dy.shape[3]];
  const dW = tf.matMul(tf.reshape(x, [-1, ci]) as tf.Tensor2D, tf.reshape(dy, [-1, co]) as tf.Tensor2D, true, false);
  return tf.reshape(dW, [1, 1, ci, co]);
}

/**
 * One input channel (a first layer): dW = patchesᵀ · dy, with patchesᵀ
 * [kH*kW, N*OH*OW] written row by row from x (contiguous reads). The
 * correlation above would run a GEMM with only kH*kW output rows and pack all
 * of dy as its filter: ~2x slower for LeNet's conv1.
 */
function singleChannelFilterGrad(x: Tensor4D, dy: Tensor4D, g: Geometry): Tensor4D {
  const [n, , , co] = dy.shape;
  const heap = tf.backend() as unknown as WasmHeap;
  const info = heap.makeOutput([g.kH * g.kW, n * g.outH * g.outW], 'float32');
  const patchesT = tf.engine().makeTensorFromTensorInfo(info);
  im2colT(heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(info), g, n);
  const dW = plainMatMul(patchesT, tf.reshape(dy, [-1, co]));
  return tf.reshape(dW, [g.kH, g.kW, 1, co]);
}

/** out[kh*kW+kw, (b*OH+oh)*OW+ow] = x[b, oh*sh+kh*dh-top, ow*sw+kw*dw-left] (one channel), 0 in the padding. */
function im2colT(x: Float32Array, out: Float32Array, g: Geometry, n: number): void {
  const {
    inH,
    inW,
    outH,
    outW,
    kH,
    kW,
    strides: [sh, sw],
    dilations: [dh, dw],
    top,
    left,
  } = g;
  let p = 0;
  for (let kh = 0; kh < kH; kh++)
    for (let kw = 0; kw < kW; kw++) {
      // Output columns whose tap lands inside the row: [lo, hi).
      const off = kw * dw - left;
      const lo = Math.min(outW, Math.max(0, Math.ceil(-off / sw)));
      const hi = Math.max(lo, Math.min(outW, Math.ceil((inW - off) / sw)));
      for (let b = 0; b < n; b++)
        for (let oh = 0; oh < outH; oh++, p += outW) {
          const ih = oh * sh + kh * dh - top;
          if (ih < 0 || ih >= inH) {
            out.fill(0, p, p + outW);
            continue;
          }
          const row = (b * inH + ih) * inW + off;
          for (let ow = 0; ow < lo; ow++) out[p + ow] = 0;
          for (let ow = lo; ow < hi; ow++) out[p + ow] = x[row + ow * sw];
          for (let ow = hi; ow < outW; ow++) out[p + ow] = 0;
        }
    }
}

/** Pads for the filter-gradient correlation so its output is exactly kH x kW. */
function filterGradPads(g: Geometry): [Pair, Pair] {
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  return [
    [g.top, trailingPad(g.inH, g.top, g.outH, sh, dh, g.kH)],
    [g.left, trailingPad(g.inW, g.left, g.outW, sw, dw, g.kW)],
  ];
}

/**
 * Depthwise: dW[kh,kw,c,m] = sum_{n,oh,ow} x[n, ih, iw, c] * dy[n, oh, ow, c*M+m],
 * one pass over dy per tap with the channels innermost (contiguous in x, dy and
 * dW). As a depthwise conv of x with dy as a [OH,OW] filter, XNNPACK runs its
 * slow generic path (~10x slower for MobileNetV2's 28x28 blocks).
 */
function depthwiseBackpropFilter(x: Tensor4D, dy: Tensor4D, g: Geometry, filterShape: number[]): Tensor4D {
  const [n, , , c] = x.shape;
  const m = filterShape[3];
  const heap = tf.backend() as unknown as WasmHeap;
  const info = heap.makeOutput([g.kH, g.kW, c, m], 'float32');
  const out = tf.engine().makeTensorFromTensorInfo(info) as Tensor4D;
  // Views only after the last allocation: heap growth detaches older views.
  const acc = depthwiseFilterSums(heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(dy), g, n, c, m);
  heap.typedArrayFromHeap(info).set(acc);
  return out;
}

/** The sums of depthwiseBackpropFilter, accumulated in float64 (as the cpu backend does), [kH, kW, C, M] row-major. */
function depthwiseFilterSums(x: Float32Array, dy: Float32Array, g: Geometry, n: number, c: number, m: number): Float64Array {
  const {
    inH,
    inW,
    outH,
    outW,
    kH,
    kW,
    strides: [sh, sw],
    dilations: [dh, dw],
    top,
    left,
  } = g;
  const cm = c * m;
  const acc = new Float64Array(kH * kW * cm);
  for (let b = 0; b < n; b++)
    for (let oh = 0; oh < outH; oh++)
      for (let kh = 0; kh < kH; kh++) {
        const ih = oh * sh + kh * dh - top;
        if (ih < 0 || ih >= inH) continue;
        for (let ow = 0; ow < outW; ow++) {
          const d = ((b * outH + oh) * outW + ow) * cm;
          for (let kw = 0; kw < kW; kw++) {
            const iw = ow * sw + kw * dw - left;
            if (iw < 0 || iw >= inW) continue;
            const xi = ((b * inH + ih) * inW + iw) * c;
            const a = (kh * kW + kw) * cm;
            if (m === 1) for (let k = 0; k < c; k++) acc[a + k] += x[xi + k] * dy[d + k];
            else for (let k = 0; k < c; k++) for (let j = 0; j < m; j++) acc[a + k * m + j] += x[xi + k] * dy[d + k * m + j];
          }
        }
      }
  return acc;
}

/**
 * dx = correlation of the stride-dilated dy with the spatially flipped kernel,
 * dilation = forward dilation, stride 1, pads chosen so dx is inH x inW.
 */
function inputGradPads(g: Geometry): [Pair, Pair] {
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const topPad = (g.kH - 1) * dh - g.top;
  const leftPad = (g.kW - 1) * dw - g.left;
  return [
    [topPad, trailingPad(g.outH * sh, topPad, g.kH, dh, 1, g.inH)],
    [leftPad, trailingPad(g.outW * sw, leftPad, g.kW, dw, 1, g.inW)],
  ];
}

/**
 * dx by GEMM + col2im: dcol = dy · Wᵀ holds, for every output pixel and
 * kernel tap, the Ci-vector that tap sends back to one input pixel; ScatterNd
 * sums them into place. Unlike a correlation of padded, zero-stuffed dy it
 * does no wasted multiply-adds (2.25x fewer for LeNet's second conv) and
 * costs the same at any stride.
 */
function conv2DBackpropInput(dy: Tensor4D, filter: Tensor4D, g: Geometry): Tensor4D {
  if (correlationWastesLittle(g)) return flippedCorrelation(dy, filter, g);
  const [n, , , co] = dy.shape;
  const [, , ci] = filter.shape;
  const pixels = n * g.inH * g.inW;
  const dcol = tf.matMul(tf.reshape(dy, [-1, co]), tf.reshape(filter, [-1, co]), false, true);
  const { indices, outside } = col2imIndices(g, n);
  // Taps that fall into the padding go to one extra row, dropped afterwards.
  const rows = pixels + (outside ? 1 : 0);
  const summed = tf.scatterND(indices, tf.reshape(dcol, [-1, ci]), [rows, ci]);
  const dx = outside ? tf.slice(summed, [0, 0], [pixels, ci]) : summed;
  return tf.reshape(dx, [n, g.inH, g.inW, ci]) as Tensor4D;
}

/**
 * Stride 1 and about as many input as output pixels ('same' padding, ResNet's and MobileNet's
 * 3x3 and 1x1 convs): the correlation of dy with the flipped kernel does (almost) no multiply-add
 * on padding, needs no kH*kW-times-larger dcol and no scatter, and XNNPACK's conv runs ~1.5x
 * faster than its GEMM on these skinny shapes.
 */
function correlationWastesLittle(g: Geometry): boolean {
  return g.strides[0] === 1 && g.strides[1] === 1 && g.inH * g.inW <= 1.1 * g.outH * g.outW;
}

/** dx = dy correlated with the spatially flipped kernel, input and output channels swapped. */
function flippedCorrelation(dy: Tensor4D, filter: Tensor4D, g: Geometry): Tensor4D {
  const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as Tensor4D;
  return conv('Conv2D', dy, flipped, [1, 1], g.dilations, inputGradPads(g));
}

/** Recently used col2im index tensors, by geometry (they depend on shapes only). */
const col2imCache = new Map<string, { indices: Tensor; outside: boolean }>();
const COL2IM_CACHE_SIZE = 16;

/**
 * For each (output pixel, kh, kw), in dcol's row order, the flat input pixel
 * (n, ih, iw) it lands on, or the extra row past the end when it is padding.
 */
function col2imIndices(g: Geometry, n: number): { indices: Tensor; outside: boolean } {
  const key = JSON.stringify([g, n]);
  const hit = col2imCache.get(key);
  if (hit != null) {
    col2imCache.delete(key); // re-insert: most recently used last
    col2imCache.set(key, hit);
    return hit;
  }
  const {
    inH,
    inW,
    outH,
    outW,
    kH,
    kW,
    strides: [sh, sw],
    dilations: [dh, dw],
    top,
    left,
  } = g;
  const idx = new Int32Array(n * outH * outW * kH * kW);
  const pad = n * inH * inW;
  let i = 0;
  for (let b = 0; b < n; b++)
    for (let oh = 0; oh < outH; oh++)
      for (let ow = 0; ow < outW; ow++) {
        for (let y = 0; y < kH; y++) {
          const ih = oh * sh - top + y * dh;
          for (let x = 0; x < kW; x++, i++) {
            const iw = ow * sw - left + x * dw;
            idx[i] = ih < 0 || ih >= inH || iw < 0 || iw >= inW ? pad : (b * inH + ih) * inW + iw;
          }
        }
      }
  const entry = { indices: tf.keep(tf.tensor2d(idx, [idx.length, 1], 'int32')), outside: idx.includes(pad) };
  col2imCache.set(key, entry);
  if (col2imCache.size > COL2IM_CACHE_SIZE) {
    const [oldKey, old] = col2imCache.entries().next().value as [string, { indices: Tensor }];
    old.indices.dispose();
    col2imCache.delete(oldKey);
  }
  return entry;
}

/** Depthwise: one channel per (c, m), flipped kernel, then sum over m. */
function depthwiseBackpropInput(dy: Tensor4D, filter: Tensor4D, g: Geometry): Tensor4D {
  const [kh, kw, c, m] = filter.shape;
  const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, c * m, 1]) as Tensor4D;
  const out = conv('DepthwiseConv2dNative', dilateSpatial(dy, g.strides), flipped, [1, 1], g.dilations, inputGradPads(g));
  if (m === 1) return out;
  const [n, h, w] = out.shape;
  return tf.sum(tf.reshape(out, [n, h, w, c, m]), 4);
}

// ---- faster matmul ---------------------------------------------------------

/**
 * The wasm BatchMatMul uses XNNPACK only without transposes (and batch 1); with
 * transposeA/B it runs a naive loop ~10x slower. Backprop of every dense layer
 * uses transposes, so we transpose explicitly and take the fast path.
 *
 * XNNPACK re-packs the right operand on every call (~4x the cost of a
 * transpose per element), so we compute either A·B or (Bᵀ·Aᵀ)ᵀ, whichever
 * moves fewer elements: e.g. dy·Wᵀ becomes (W·dyᵀ)ᵀ and packs dyᵀ, not Wᵀ.
 */
function matMulViaTranspose(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor {
  const size = (t: Tensor, transposed: boolean) => (transposed ? t.size : 0);
  const PACK = 4; // packing cost per element, in transposes
  const direct = size(a, transposeA) + size(b, transposeB) + PACK * b.size;
  const outSize = (a.size / a.shape[a.rank - (transposeA ? 2 : 1)]) * (b.size / b.shape[b.rank - (transposeB ? 1 : 2)]);
  const flipped = size(b, !transposeB) + size(a, !transposeA) + PACK * a.size + outSize;
  if (direct <= flipped) return plainMatMul(transposeA ? swapLastTwo(a) : a, transposeB ? swapLastTwo(b) : b);
  const bt = transposeB ? b : swapLastTwo(b);
  const at = transposeA ? a : swapLastTwo(a);
  return swapLastTwo(plainMatMul(bt, at));
}

function plainMatMul(a: Tensor, b: Tensor): Tensor {
  const attrs = { transposeA: false, transposeB: false } as unknown as NamedAttrMap;
  return tf.engine().runKernel('BatchMatMul', { a, b }, attrs) as Tensor;
}

function swapLastTwo(t: Tensor): Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return tf.transpose(t, perm);
}

/** Product of the batch (leading) dims: the fast path needs 1 on both sides. */
function batchSize(t: TensorInfo): number {
  return t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
}

// ---- max pool gradient -----------------------------------------------------

/** The BackendWasm methods we need: allocate on the wasm heap, view it from JS, share a buffer. */
interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  incRef(dataId: object): void;
}

/**
 * wasm's MaxPoolGrad (4.22.0) drops the gradient of every window whose max is
 * negative and picks the last of tied maxima; it is also slow (~40 ms for
 * LeNet's first pool at batch 128). This single pass over the wasm heap
 * matches the cpu backend: the first max of each window (row-major) gets dy.
 */
function maxPoolGrad(dy: TensorInfo, x: TensorInfo, attrs: NamedAttrMap, backend: WasmHeap): TensorInfo {
  const info = tf.backend_util.computePool2DInfo(
    shape4(x.shape),
    attrs.filterSize as number | Pair,
    attrs.strides as number | Pair,
    1,
    attrs.pad as PadArg,
    attrs.dimRoundingMode as RoundingMode,
  );
  const out = backend.makeOutput(x.shape, 'float32');
  // Views only after the last allocation: heap growth detaches older views.
  const dx = backend.typedArrayFromHeap(out);
  const [xs, dys] = [backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(dy)];
  if (tiles(info)) {
    firstMaxTiled(xs, dys, dx, info);
  } else {
    dx.fill(0);
    scatterFirstMax(xs, dys, dx, info);
  }
  return out;
}

/** Windows that do not overlap and lie fully inside the input (pool == stride, no padding). */
function tiles(p: tf.backend_util.Conv2DInfo): boolean {
  return (
    p.strideHeight === p.filterHeight &&
    p.strideWidth === p.filterWidth &&
    p.dilationHeight === 1 &&
    p.dilationWidth === 1 &&
    p.padInfo.top === 0 &&
    p.padInfo.left === 0 &&
    p.outHeight * p.strideHeight <= p.inHeight &&
    p.outWidth * p.strideWidth <= p.inWidth
  );
}

/**
 * Non-overlapping windows: each x position is in at most one window, so after
 * a zero-fill every window writes one dx element and nothing is accumulated.
 * The argmax is selected arithmetically (no data-dependent branch: on random
 * data a branch mispredicts half the time): ~2x faster than scatterFirstMax
 * on LeNet's pools.
 */
function firstMaxTiled(x: Float32Array, dy: Float32Array, dx: Float32Array, p: tf.backend_util.Conv2DInfo): void {
  const { inHeight: H, inWidth: W, inChannels: C, filterHeight: fh, filterWidth: fw } = p;
  const taps = new Int32Array(fh * fw); // offsets of a window's taps from its corner, row-major
  for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) taps[i * fw + j] = (i * W + j) * C;
  dx.fill(0);
  let o = 0;
  for (let b = 0; b < p.batchSize; b++) {
    for (let oh = 0; oh < p.outHeight; oh++) {
      for (let ow = 0; ow < p.outWidth; ow++) {
        const corner = ((b * H + oh * fh) * W + ow * fw) * C;
        for (let k = corner; k < corner + C; k++, o++) {
          let at = k; // first strict max: a later tap wins only if greater
          for (let t = 1; t < taps.length; t++) {
            const j = k + taps[t];
            const greater = (x[j] > x[at]) as unknown as number; // bool | 0 is V8's fastest bool -> int
            at += (greater | 0) * (j - at);
          }
          if (x[at] > -Infinity) dx[at] = dy[o];
          else firstMaxExact(x, dy[o], dx, k, taps); // NaN first tap or all -Infinity: rare
        }
      }
    }
  }
}

/** The cpu rule for one window: strict > from -Infinity, so NaN never wins and all -Infinity gets nothing. */
function firstMaxExact(x: Float32Array, g: number, dx: Float32Array, k: number, taps: Int32Array): void {
  let best = -Infinity;
  let at = -1;
  for (const t of taps)
    if (x[k + t] > best) {
      best = x[k + t];
      at = k + t;
    }
  if (at >= 0) dx[at] = g;
}

/** For each window: running max per channel over its taps (contiguous rows), then dx[argmax] += dy. */
function scatterFirstMax(x: Float32Array, dy: Float32Array, dx: Float32Array, p: tf.backend_util.Conv2DInfo): void {
  const { inHeight: H, inWidth: W, inChannels: C } = p;
  // Window taps depend only on the output row / column: computed once, not per window.
  const rowTaps = Array.from({ length: p.outHeight }, (_, oh) => taps(oh * p.strideHeight - p.padInfo.top, p.effectiveFilterHeight, p.dilationHeight, H));
  const colTaps = Array.from({ length: p.outWidth }, (_, ow) => taps(ow * p.strideWidth - p.padInfo.left, p.effectiveFilterWidth, p.dilationWidth, W));
  const best = new Float32Array(C);
  const at = new Int32Array(C);
  let o = 0;
  for (let b = 0; b < p.batchSize; b++) {
    for (let oh = 0; oh < p.outHeight; oh++) {
      const rows = rowTaps[oh];
      for (let ow = 0; ow < p.outWidth; ow++) {
        const cols = colTaps[ow];
        best.fill(-Infinity);
        at.fill(-1);
        for (let i = 0; i < rows.length; i++) {
          const rowBase = (b * H + rows[i]) * W;
          for (let j = 0; j < cols.length; j++) {
            const base = (rowBase + cols[j]) * C;
            for (let c = 0; c < C; c++) {
              const v = x[base + c];
              if (v > best[c]) {
                best[c] = v;
                at[c] = base + c;
              }
            }
          }
        }
        for (let c = 0; c < C; c++, o++) if (at[c] >= 0) dx[at[c]] += dy[o];
      }
    }
  }
}

/** In-bounds positions start, start+step, ... below start+extent (padding is skipped, as on cpu). */
function taps(start: number, extent: number, step: number, size: number): number[] {
  const out: number[] = [];
  for (let i = start; i < start + extent; i += step) if (i >= 0 && i < size) out.push(i);
  return out;
}

// ---- identity and sum ------------------------------------------------------

/**
 * wasm's Identity copies its input; tfjs saves every tensor a gradient needs
 * through it (a copy of each conv activation per step). Tensors are immutable,
 * so sharing the buffer is enough, as the cpu backend does.
 */
function shareIdentity({ inputs, backend }: KernelArgs): TensorInfo {
  const x = inputs.x as TensorInfo;
  (backend as unknown as WasmHeap).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Number of leading axes a Sum reduces when they are exactly 0..k-1 (k < rank), else 0. */
function leadingAxes({ inputs, attrs }: KernelArgs): number {
  const x = inputs.x as TensorInfo;
  const axes = tf.util.parseAxisParam(attrs?.axis as number | number[], x.shape).sort((a, b) => a - b);
  const k = axes.length;
  return x.dtype === 'float32' && k < x.shape.length && axes.every((a, i) => a === i) ? k : 0;
}

/** Column counts whose float64 row sums fit in L1/L2 (a dense layer's 4096 outputs). */
const ROW_SUM_MAX = 8192;

/**
 * Sum over the leading axes (every bias gradient: dy summed over N, H, W).
 * wasm transposes the reduced axes innermost first; a column sum reads x once.
 * Accumulates in float64, as the cpu backend does.
 */
function sumLeading(args: KernelArgs): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  const backend = args.backend as unknown as WasmHeap;
  const k = leadingAxes(args);
  const inner = x.shape.slice(k);
  const shape = args.attrs?.keepDims === true ? [...x.shape.slice(0, k).map(() => 1), ...inner] : inner;
  const out = backend.makeOutput(shape, 'float32');
  const [xs, ys] = [backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out)];
  const n = ys.length;
  if (n <= ROW_SUM_MAX) {
    // Row by row into n float64 sums: one sequential pass (a column at a time strides the
    // whole array n times, ~5x slower once it is larger than the cache: batch-norm statistics).
    const acc = new Float64Array(n);
    for (let r = 0; r < xs.length; r += n) for (let j = 0; j < n; j++) acc[j] += xs[r + j];
    ys.set(acc);
    return out;
  }
  for (let j = 0; j < n; j++) {
    let s = 0; // one column at a time: the running sum stays in a register
    for (let i = j; i < xs.length; i += n) s += xs[i];
    ys[j] = s;
  }
  return out;
}

// ---- tile -------------------------------------------------------------------

/**
 * out = x repeated reps[d] times along every axis d. Innermost axis first: each
 * row of x is written once, then every finished block is replicated along its
 * axis by doubling copies (copyWithin is a memmove), so the work is
 * ~2 passes over the output whatever the shape.
 */
function tile(args: KernelArgs): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  const backend = args.backend as unknown as WasmHeap;
  const reps = args.attrs?.reps as number[];
  const shape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(shape, x.dtype as 'float32' | 'int32');
  const [xs, ys] = [backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out)];
  if (ys.length > 0) tileAxis(xs, ys, x.shape, shape, 0, 0, 0);
  return out;
}

/** Fill ys[at...] with the tile of xs[from...] over axes d.. (sizes: in `inner`, out `outer`). */
function tileAxis(xs: Float32Array, ys: Float32Array, inner: number[], outer: number[], d: number, from: number, at: number): void {
  const last = d === inner.length - 1;
  const srcStride = last ? 1 : inner.slice(d + 1).reduce((a, b) => a * b, 1);
  const dstStride = last ? 1 : outer.slice(d + 1).reduce((a, b) => a * b, 1);
  if (last) ys.set(xs.subarray(from, from + inner[d]), at);
  else for (let i = 0; i < inner[d]; i++) tileAxis(xs, ys, inner, outer, d + 1, from + i * srcStride, at + i * dstStride);
  const block = inner[d] * dstStride;
  const total = outer[d] * dstStride;
  for (let filled = block; filled < total; filled *= 2) ys.copyWithin(at + filled, at, at + Math.min(filled, total - filled));
}

// ---- per-channel binary ops -------------------------------------------------

type Binary = 'Multiply' | 'Add' | 'Sub' | 'RealDiv';

/**
 * The per-channel case of a binary op: float32 operands, one of the output's
 * shape and one a vector over its last axis (shape [C] or [1, ..., 1, C], rank
 * not above the other's). Returns which input is the vector, or undefined.
 */
function perChannel({ inputs }: KernelArgs): 'a' | 'b' | undefined {
  const { a, b } = inputs as { a?: TensorInfo; b?: TensorInfo };
  if (a?.dtype !== 'float32' || b?.dtype !== 'float32') return undefined;
  const isVector = (v: TensorInfo, full: TensorInfo) =>
    v.shape.length <= full.shape.length &&
    v.shape.length > 0 &&
    full.shape.length > 1 &&
    v.shape.at(-1) === full.shape.at(-1) &&
    v.shape.slice(0, -1).every((d) => d === 1) &&
    tf.util.sizeFromShape(full.shape) > (full.shape.at(-1) as number);
  if (isVector(b, a)) return 'b';
  if (isVector(a, b)) return 'a';
  return undefined;
}

/** out[r, c] = full[r, c] op vec[c] (or vec[c] op full[r, c] when the vector is the first operand). */
function perChannelBinary(op: Binary) {
  return (args: KernelArgs): TensorInfo => {
    const which = perChannel(args) as 'a' | 'b';
    const backend = args.backend as unknown as WasmHeap;
    const full = (which === 'b' ? args.inputs.a : args.inputs.b) as TensorInfo;
    const vec = args.inputs[which] as TensorInfo;
    const out = backend.makeOutput(full.shape, 'float32');
    const [f, v, o] = [backend.typedArrayFromHeap(full), backend.typedArrayFromHeap(vec), backend.typedArrayFromHeap(out)];
    const c = v.length;
    const vecFirst = which === 'a';
    for (let r = 0; r < f.length; r += c) {
      // One loop per op: a closure per element would not be inlined reliably.
      if (op === 'Multiply') for (let k = 0; k < c; k++) o[r + k] = f[r + k] * v[k];
      else if (op === 'Add') for (let k = 0; k < c; k++) o[r + k] = f[r + k] + v[k];
      else if (op === 'Sub' && !vecFirst) for (let k = 0; k < c; k++) o[r + k] = f[r + k] - v[k];
      else if (op === 'Sub') for (let k = 0; k < c; k++) o[r + k] = v[k] - f[r + k];
      else if (!vecFirst) for (let k = 0; k < c; k++) o[r + k] = f[r + k] / v[k];
      else for (let k = 0; k < c; k++) o[r + k] = v[k] / f[r + k];
    }
    return out;
  };
}

// ---- kernel configs -------------------------------------------------------

type Inputs = Record<string, Tensor>;
type Run = (inputs: Inputs, attrs: NamedAttrMap) => Tensor;

/** Wraps `run` as a kernel: inputs become Tensors, and a tidy keeps only the result. */
function kernel(kernelName: string, run: Run, backendName = BACKEND): KernelConfig {
  const config: KernelConfig = {
    kernelName,
    backendName,
    kernelFunc: ({ inputs, attrs }) => tf.tidy(() => run(tensors(inputs), attrs ?? {})),
  };
  (config as unknown as Record<symbol, boolean>)[OURS] = true;
  return config;
}

function tensors(inputs: Partial<Record<string, TensorInfo>>): Inputs {
  const out: Inputs = {};
  for (const [name, t] of Object.entries(inputs)) if (t != null) out[name] = asTensor(t);
  return out;
}

function shape4(v: unknown): [number, number, number, number] {
  return v as [number, number, number, number];
}

const filterGrad =
  (onWasm: boolean): Run =>
  ({ x, dy }, attrs) => {
    assertNHWC(attrs, 'Conv2DBackpropFilter');
    const g = geometry(x.shape, shape4(attrs.filterShape), attrs, false);
    return conv2DBackpropFilter(x as Tensor4D, dy as Tensor4D, g, onWasm);
  };

export const conv2DBackpropFilterConfig = kernel('Conv2DBackpropFilter', filterGrad(true));

/** Our composed Conv2DBackpropInput, usable on its own (benchmarks, tests). */
export const conv2DBackpropInputConfig = kernel('Conv2DBackpropInput', ({ dy, filter }, attrs) => {
  assertNHWC(attrs, 'Conv2DBackpropInput');
  const g = geometry(shape4(attrs.inputShape), filter.shape, attrs, false);
  return conv2DBackpropInput(dy as Tensor4D, filter as Tensor4D, g);
});

export const depthwiseBackpropFilterConfig = kernel('DepthwiseConv2dNativeBackpropFilter', ({ x, dy }, attrs) => {
  const filterShape = shape4(attrs.filterShape);
  const g = geometry(x.shape, filterShape, attrs, true);
  return depthwiseBackpropFilter(x as Tensor4D, dy as Tensor4D, g, filterShape);
});

export const depthwiseBackpropInputConfig = kernel('DepthwiseConv2dNativeBackpropInput', ({ dy, filter }, attrs) => {
  const g = geometry(shape4(attrs.inputShape), filter.shape, attrs, true);
  return depthwiseBackpropInput(dy as Tensor4D, filter as Tensor4D, g);
});

/**
 * UnsortedSegmentSum (the gradient of gather, so of an embedding) as ScatterNd, which sums the
 * rows sent to one segment. Ids outside [0, numSegments) are not supported (TF drops them).
 */
export const unsortedSegmentSumConfig = kernel('UnsortedSegmentSum', ({ x, segmentIds }, attrs) => {
  const segments = attrs.numSegments as number;
  const ids = tf.reshape(segmentIds, [-1, 1]);
  const rows = tf.reshape(x, [ids.shape[0], -1]);
  const summed = tf.scatterND(ids, rows, [segments, rows.shape[1] as number]);
  return tf.reshape(summed, [segments, ...x.shape.slice(segmentIds.rank)]);
});

type KernelArgs = Parameters<KernelConfig['kernelFunc']>[0];

/**
 * Runs `ours`, or the native kernel when `useNative(args)`. Keeps the native
 * setup: it binds the wasm function the native kernelFunc calls.
 */
function routed(ours: KernelConfig, native: KernelConfig | undefined, useNative?: (args: KernelArgs) => boolean): KernelConfig {
  const config: KernelConfig = {
    ...ours,
    kernelFunc: (args) => (native != null && useNative?.(args) ? native.kernelFunc(args) : ours.kernelFunc(args)),
    setupFunc: native?.setupFunc,
    disposeFunc: native?.disposeFunc,
  };
  (config as unknown as Record<symbol, boolean>)[OURS] = true;
  return config;
}

const transposedMatMulConfig = kernel('BatchMatMul', ({ a, b }, attrs) => matMulViaTranspose(a, b, attrs.transposeA === true, attrs.transposeB === true));

/** Only transposed, unbatched matmuls need our path; the rest are fast natively. */
function nativeMatMulIsFine({ inputs, attrs }: KernelArgs): boolean {
  const transposed = attrs?.transposeA === true || attrs?.transposeB === true;
  const { a, b } = inputs;
  return !transposed || a == null || b == null || batchSize(a) !== 1 || batchSize(b) !== 1;
}

const maxPoolGradConfig: KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: BACKEND,
  kernelFunc: ({ inputs, attrs, backend }) => maxPoolGrad(inputs.dy as TensorInfo, inputs.input as TensorInfo, attrs ?? {}, backend as unknown as WasmHeap),
};

const identityConfig: KernelConfig = { kernelName: 'Identity', backendName: BACKEND, kernelFunc: shareIdentity };
const sumConfig: KernelConfig = { kernelName: 'Sum', backendName: BACKEND, kernelFunc: sumLeading };
const tileConfig: KernelConfig = { kernelName: 'Tile', backendName: BACKEND, kernelFunc: tile };

/** Kernels the wasm backend lacks; registered only where nothing is registered yet. */
export const WASM_GRAD_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/** Native wasm kernels we replace (slower or wrong for training shapes), and when to still use the native one. */
const REPLACEMENTS: readonly { ours: KernelConfig; useNative?: (args: KernelArgs) => boolean }[] = [
  { ours: conv2DBackpropInputConfig },
  { ours: transposedMatMulConfig, useNative: nativeMatMulIsFine },
  { ours: maxPoolGradConfig },
  { ours: identityConfig, useNative: ({ inputs }) => inputs.x?.dtype === 'string' },
  { ours: sumConfig, useNative: (args) => leadingAxes(args) === 0 },
  { ours: tileConfig, useNative: ({ inputs }) => inputs.x?.dtype !== 'float32' && inputs.x?.dtype !== 'int32' },
  ...(['Multiply', 'Add', 'Sub', 'RealDiv'] as const).map((op) => ({
    ours: { kernelName: op, backendName: BACKEND, kernelFunc: perChannelBinary(op) } as KernelConfig,
    useNative: (args: KernelArgs) => perChannel(args) === undefined,
  })),
];

/** True when the kernel currently registered for wasm is one of ours. */
export function isOurKernel(kernelName: string): boolean {
  const k = tf.getKernel(kernelName, BACKEND) as unknown as Record<symbol, boolean> | undefined;
  return k?.[OURS] === true;
}

/**
 * Registers the missing conv backprop kernels for 'wasm' (skipping any name
 * tfjs already provides) and replaces the slow or wrong native ones listed in
 * REPLACEMENTS. Idempotent. Returns the names newly registered or replaced.
 */
export function registerWasmGrads(): string[] {
  const added: string[] = [];
  for (const config of WASM_GRAD_KERNELS) {
    if (tf.getKernel(config.kernelName, BACKEND) != null) continue;
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  for (const { ours, useNative } of REPLACEMENTS) {
    const name = ours.kernelName;
    if (isOurKernel(name)) continue;
    const native = tf.getKernel(name, BACKEND);
    if (native != null) tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(routed(ours, native, useNative));
    added.push(name);
  }
  return added;
}

/**
 * The cpu backend's Conv2DBackpropFilter reads every element through TensorBuffer.get: LeNet-5
 * trains at ~1 sample/s. Composed from the cpu Conv2D it trains ~17x faster. Idempotent;
 * returns whether it replaced the kernel.
 */
export function registerCpuGrads(): boolean {
  const name = 'Conv2DBackpropFilter';
  const current = tf.getKernel(name, 'cpu') as unknown as Record<symbol, boolean> | undefined;
  if (current?.[OURS] === true) return false;
  if (current != null) tf.unregisterKernel(name, 'cpu');
  tf.registerKernel(kernel(name, filterGrad(false), 'cpu'));
  return true;
}

registerWasmGrads();
