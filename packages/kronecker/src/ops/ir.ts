/**
 * The IR ops this package adds, `kronDense` and `kronConv2d`: shape inference, parameter specs
 * (the factors are 'weight' params, so pruning and quantization select them), MAC counts of the
 * factored computation and a float64 reference. Their TF.js kernels are in kernels.ts, their Keras
 * layers in keras.ts; importing the package registers all three.
 */
import {
  fail,
  formatShape,
  isActivation,
  referenceActivation,
  registerOp,
  windowOut,
  strides2,
  dilation2,
  type ActivationFn,
  type OpContext,
  type RefTensor,
  type Param,
  type Shape,
  type Attrs,
} from '@condense/ir';
import { kronSum } from '../nkp.js';
import { samePadding } from '../runtime.js';

// ---------------------------------------------------------------- shapes

interface DenseFactors {
  r: number;
  m1: number;
  n1: number;
  m2: number;
  n2: number;
}

function factorParam(ctx: OpContext, role: 'a' | 'b', rank: number): Param {
  const p = ctx.param(role);
  if (!p) fail(ctx, `missing param role '${role}'`);
  if (p.shape.length !== rank) fail(ctx, `param '${p.name}' (role '${role}') must be rank ${rank}, got shape [${p.shape.join(', ')}]`);
  return p;
}

function checkActivation(ctx: OpContext): void {
  const fn = ctx.node.attrs.activation;
  if (fn !== undefined && !isActivation(fn)) fail(ctx, `unknown activation '${String(fn)}'`);
}

/** The dense factors' dims, checked against each other and the input: a [r, m1, n1], b [r, m2, n2], m1 m2 = input features. */
function denseFactors(ctx: OpContext): DenseFactors {
  const [r, m1, n1] = factorParam(ctx, 'a', 3).shape;
  const b = factorParam(ctx, 'b', 3);
  const [rb, m2, n2] = b.shape;
  if (rb !== r) fail(ctx, `factors 'a' and 'b' must have the same number of terms, got ${r} and ${rb}`);
  const s = ctx.inputs[0];
  const m = s[s.length - 1];
  if (m === null) fail(ctx, 'the input feature dimension must be known');
  if (m1 * m2 !== m) fail(ctx, `factor rows ${m1} (a) x ${m2} (b) = ${m1 * m2} do not match the input's ${m} features ${formatShape(s)}`);
  return { r, m1, n1, m2, n2 };
}

interface ConvFactors {
  r: number;
  a: number[];
  b: number[];
}

function convFactors(ctx: OpContext): ConvFactors {
  const pa = factorParam(ctx, 'a', 5);
  const pb = factorParam(ctx, 'b', 5);
  if (pa.shape[0] !== pb.shape[0]) fail(ctx, `factors 'a' and 'b' must have the same number of terms, got ${pa.shape[0]} and ${pb.shape[0]}`);
  const s = ctx.inputs[0];
  if (s.length !== 4) fail(ctx, `expects a rank-4 input (batch included), got ${formatShape(s)}`);
  const cin = s[3];
  if (cin !== pa.shape[3] * pb.shape[3])
    fail(ctx, `factor input channels ${pa.shape[3]} (a) x ${pb.shape[3]} (b) = ${pa.shape[3] * pb.shape[3]} do not match the input's ${cin} channels`);
  return { r: pa.shape[0], a: pa.shape.slice(1), b: pb.shape.slice(1) };
}

export const padding = (attrs: Attrs): 'same' | 'valid' => (attrs.padding as 'same' | 'valid' | undefined) ?? 'valid';

/** Spatial sizes of a kronConv2d as it runs: the padded input, B's output, A's computed positions, the output. */
function convPlan(ctx: OpContext, f: ConvFactors) {
  const [, h, w] = ctx.inputs[0] as number[];
  const [h1, w1] = f.a;
  const [h2, w2] = f.b;
  const [sh, sw] = strides2(ctx.node.attrs);
  const [dh, dw] = dilation2(ctx.node.attrs);
  if (dh !== 1 || dw !== 1) fail(ctx, `kronConv2d supports dilation 1 only, got [${dh}, ${dw}]`);
  if (!(Number.isInteger(sh) && sh >= 1 && Number.isInteger(sw) && sw >= 1)) fail(ctx, `strides must be positive integers, got [${sh}, ${sw}]`);
  const pad = padding(ctx.node.attrs);
  if (pad !== 'same' && pad !== 'valid') fail(ctx, `padding must be 'same' or 'valid', got '${String(pad)}'`);
  const kh = h1 * h2;
  const kw = w1 * w2;
  const ho = windowOut(h, kh, sh, 1, pad);
  const wo = windowOut(w, kw, sw, 1, pad);
  if (ho < 1 || wo < 1) fail(ctx, `window ${kh}x${kw} does not fit the ${h}x${w} input`);
  const hp = pad === 'same' ? h + sum(samePadding(h, kh, sh)) : h;
  const wp = pad === 'same' ? w + sum(samePadding(w, kw, sw)) : w;
  const oneByOne = h1 === 1 && w1 === 1;
  const dilated = (h1 > 1 && h2 > 1) || (w1 > 1 && w2 > 1);
  const subsampled = !oneByOne && dilated && (sh > 1 || sw > 1);
  // Positions of B's conv, and of A's conv before any subsampling.
  const bPositions = oneByOne ? ho * wo : (hp - h2 + 1) * (wp - w2 + 1);
  const aPositions = subsampled ? (hp - kh + 1) * (wp - kw + 1) : ho * wo;
  return { ho, wo, bPositions, aPositions };
}

const sum = (p: number[]) => p[0] + p[1];

// ---------------------------------------------------------------- reference (float64)

/** The node's fused activation (attrs.activation, alpha, approximate) on `channels`-wide rows, in place. */
function activateRef(ctx: OpContext, y: Float64Array, channels: number): Float64Array {
  return referenceActivation((ctx.node.attrs.activation as ActivationFn | undefined) ?? 'linear', y, channels, ctx.node.attrs);
}

/** y = sum_k a_k^T X b_k per row, directly from the factors (independent of kronSum). */
function kronDenseReference([x]: RefTensor[], ctx: OpContext): RefTensor {
  const { r, m1, n1, m2, n2 } = denseFactors(ctx);
  const a = (ctx.param('a') as Param).data;
  const b = (ctx.param('b') as Param).data;
  const bias = ctx.param('bias')?.data;
  const m = m1 * m2;
  const n = n1 * n2;
  const rows = x.data.length / m;
  const y = new Float64Array(rows * n);
  const t = new Float64Array(m1 * n2);
  for (let row = 0; row < rows; row++) {
    const xr = x.data.subarray(row * m, (row + 1) * m);
    for (let k = 0; k < r; k++) {
      // t = X b_k  (m1 x n2), then y += a_k^T t  (n1 x n2)
      t.fill(0);
      for (let i1 = 0; i1 < m1; i1++)
        for (let i2 = 0; i2 < m2; i2++) {
          const v = xr[i1 * m2 + i2];
          for (let j2 = 0; j2 < n2; j2++) t[i1 * n2 + j2] += v * b[(k * m2 + i2) * n2 + j2];
        }
      for (let i1 = 0; i1 < m1; i1++)
        for (let j1 = 0; j1 < n1; j1++) {
          const w = a[(k * m1 + i1) * n1 + j1];
          for (let j2 = 0; j2 < n2; j2++) y[row * n + j1 * n2 + j2] += w * t[i1 * n2 + j2];
        }
    }
    if (bias) for (let j = 0; j < n; j++) y[row * n + j] += bias[j];
  }
  const shape = [...x.shape.slice(0, -1), n];
  return { shape, data: activateRef(ctx, y, n) };
}

/** Direct convolution with the materialized kernel, TF semantics ('same': the smaller half of the padding first). */
function kronConv2dReference([x]: RefTensor[], ctx: OpContext): RefTensor {
  const f = convFactors(ctx);
  const { ho, wo } = convPlan(ctx, f);
  const shape = f.a.map((d, t) => d * f.b[t]);
  const [kh, kw, cin, cout] = shape;
  const k = kronSum((ctx.param('a') as Param).data, (ctx.param('b') as Param).data, f.a, f.b, f.r);
  const bias = ctx.param('bias')?.data;
  const [n, h, w] = x.shape;
  const [sh, sw] = strides2(ctx.node.attrs);
  const same = padding(ctx.node.attrs) === 'same';
  const top = same ? samePadding(h, kh, sh)[0] : 0;
  const left = same ? samePadding(w, kw, sw)[0] : 0;
  const y = new Float64Array(n * ho * wo * cout);
  for (let bi = 0; bi < n; bi++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++) {
        const o = ((bi * ho + oy) * wo + ox) * cout;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - top + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - left + kx;
            if (ix < 0 || ix >= w) continue;
            for (let c = 0; c < cin; c++) {
              const v = x.data[((bi * h + iy) * w + ix) * cin + c];
              const kb = ((ky * kw + kx) * cin + c) * cout;
              for (let fo = 0; fo < cout; fo++) y[o + fo] += v * k[kb + fo];
            }
          }
        }
        if (bias) for (let fo = 0; fo < cout; fo++) y[o + fo] += bias[fo];
      }
  return { shape: [n, ho, wo, cout], data: activateRef(ctx, y, cout) };
}

// ---------------------------------------------------------------- the ops

const positions = (out: Shape): number => out.slice(1, -1).reduce<number>((a, b) => a * (b ?? 1), 1);

registerOp({
  op: 'kronDense',
  arity: 1,
  params: {
    a: { kind: 'weight', shape: (ctx) => factorParam(ctx, 'a', 3).shape },
    b: {
      kind: 'weight',
      shape: (ctx) => {
        const [r, m1] = factorParam(ctx, 'a', 3).shape;
        const m = ctx.inputs[0].at(-1) as number;
        if (m % m1 !== 0) fail(ctx, `factor 'a' has ${m1} rows, which do not divide the input's ${m} features`);
        return [r, m / m1, factorParam(ctx, 'b', 3).shape[2]];
      },
    },
    bias: { kind: 'bias', optional: true, shape: (ctx) => [factorParam(ctx, 'a', 3).shape[2] * factorParam(ctx, 'b', 3).shape[2]] },
  },
  inferShape: (ctx) => {
    checkActivation(ctx);
    const s = ctx.inputs[0];
    if (s.length < 2) fail(ctx, `expects an input of rank >= 2, got ${formatShape(s)}`);
    const { n1, n2 } = denseFactors(ctx);
    return [...s.slice(0, -1), n1 * n2];
  },
  // What the kernel runs: per position, the cheaper contraction order, r (m n1 + m2 n) or r (m n2 + m1 n).
  macs: (ctx, out) => {
    const { r, m1, n1, m2, n2 } = denseFactors(ctx);
    const m = m1 * m2;
    const n = n1 * n2;
    return positions(out) * r * Math.min(m * n1 + m2 * n, m * n2 + m1 * n);
  },
  // The factors are not indexed by channels: neither side's channels can be removed through this op.
  channels: { kind: 'produce', in: [], out: [] },
  reference: kronDenseReference,
});

registerOp({
  op: 'kronConv2d',
  arity: 1,
  params: {
    a: { kind: 'weight', shape: (ctx) => factorParam(ctx, 'a', 5).shape },
    b: {
      kind: 'weight',
      shape: (ctx) => {
        const a = factorParam(ctx, 'a', 5).shape;
        const b = factorParam(ctx, 'b', 5).shape;
        const cin = ctx.inputs[0][3] as number;
        if (cin % a[3] !== 0) fail(ctx, `factor 'a' has ${a[3]} input channels, which do not divide the input's ${cin}`);
        return [a[0], b[1], b[2], cin / a[3], b[4]];
      },
    },
    bias: { kind: 'bias', optional: true, shape: (ctx) => [factorParam(ctx, 'a', 5).shape[4] * factorParam(ctx, 'b', 5).shape[4]] },
  },
  inferShape: (ctx) => {
    checkActivation(ctx);
    const f = convFactors(ctx);
    const { ho, wo } = convPlan(ctx, f);
    return [null, ho, wo, f.a[3] * f.b[3]];
  },
  macs: (ctx) => {
    const f = convFactors(ctx);
    const [h1, w1, c1, f1] = f.a;
    const [h2, w2, c2, f2] = f.b;
    const { bPositions, aPositions } = convPlan(ctx, f);
    return f.r * (bPositions * c1 * h2 * w2 * c2 * f2 + aPositions * f2 * h1 * w1 * c1 * f1);
  },
  channels: { kind: 'produce', in: [], out: [] },
  reference: kronConv2dReference,
});

/** The ops this package adds. */
export const KRONECKER_OPS = ['kronDense', 'kronConv2d'] as const;
