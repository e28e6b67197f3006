/**
 * A slow, exact pure-JS interpreter of the IR (inference mode, NHWC, TF semantics), computing in
 * float64. It is the oracle that graph rewrites are checked against: a rewrite that claims to
 * preserve function must give the same outputs here. Plugin ops join by defining `reference`
 * on their OpDef.
 */
import { GraphError } from '../errors.js';
import { inferShapes, nodeParam, sizeOf, topoSort } from '../graph.js';
import { referenceActivation, type ActivationFn } from '../ops/activations.js';
import { dilation2, pool2, strides2, zeroPadding, type Padding } from '../ops/builtin.js';
import { getOp, type OpContext, type RefTensor } from '../ops/registry.js';
import type { Graph, Node, Shape } from '../types.js';

/** A builtin kernel: input tensors and the (batch-resolved) output shape -> output values. */
type Kernel = (inputs: RefTensor[], ctx: OpContext, out: number[]) => Float64Array;

function paramData(ctx: OpContext, role: string): Float32Array | undefined {
  return ctx.param(role)?.data;
}

function required(ctx: OpContext, role: string): Float32Array {
  const d = paramData(ctx, role);
  if (!d) throw new GraphError(`missing param role '${role}'`, ctx.node.name);
  return d;
}

/** The node's fused activation (attrs.activation, with its alpha / approximate), applied in place. */
function fusedActivation(ctx: OpContext, y: Float64Array, out: number[]): Float64Array {
  const fn = ctx.node.attrs.activation as ActivationFn | undefined;
  return fn === undefined ? y : referenceActivation(fn, y, out[out.length - 1], ctx.node.attrs);
}

// --- windows -----------------------------------------------------------------------------

/** Top/left padding of a windowed op (TF 'same': the smaller half before). */
function padBefore(size: number, out: number, k: number, stride: number, dilation: number, padding: Padding): number {
  if (padding === 'valid') return 0;
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0);
  return Math.floor(total / 2);
}

interface Window {
  n: number; h: number; w: number; c: number; ho: number; wo: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number; top: number; left: number;
}

function windowOf(x: RefTensor, out: number[], k: [number, number], strides: [number, number], dil: [number, number], padding: Padding): Window {
  const [n, h, w, c] = x.shape;
  const [, ho, wo] = out;
  return {
    n, h, w, c, ho, wo, kh: k[0], kw: k[1], sh: strides[0], sw: strides[1], dh: dil[0], dw: dil[1],
    top: padBefore(h, ho, k[0], strides[0], dil[0], padding),
    left: padBefore(w, wo, k[1], strides[1], dil[1], padding),
  };
}

/** Calls `f(inputOffset, ky, kx)` for every in-bounds tap of output position (b, y, x). */
function taps(win: Window, b: number, y: number, x: number, f: (offset: number, ky: number, kx: number) => void) {
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

const paddingOf = (ctx: OpContext) => (ctx.node.attrs.padding ?? 'valid') as Padding;

function conv2d(inputs: RefTensor[], ctx: OpContext, out: number[]): Float64Array {
  const [x] = inputs;
  const k = required(ctx, 'kernel');
  const [kh, kw, cin, f] = (ctx.param('kernel') as { shape: number[] }).shape;
  const win = windowOf(x, out, [kh, kw], strides2(ctx.node.attrs), dilation2(ctx.node.attrs), paddingOf(ctx));
  const bias = paramData(ctx, 'bias');
  const y = new Float64Array(sizeOf(out));
  for (let b = 0; b < win.n; b++) for (let oy = 0; oy < win.ho; oy++) for (let ox = 0; ox < win.wo; ox++) {
    const o = ((b * win.ho + oy) * win.wo + ox) * f;
    taps(win, b, oy, ox, (off, ky, kx) => {
      for (let ci = 0; ci < cin; ci++) {
        const v = x.data[off + ci];
        const kb = ((ky * kw + kx) * cin + ci) * f;
        for (let fo = 0; fo < f; fo++) y[o + fo] += v * k[kb + fo];
      }
    });
    if (bias) for (let fo = 0; fo < f; fo++) y[o + fo] += bias[fo];
  }
  return fusedActivation(ctx, y, out);
}

function depthwiseConv2d(inputs: RefTensor[], ctx: OpContext, out: number[]): Float64Array {
  const [x] = inputs;
  const k = required(ctx, 'kernel');
  const [kh, kw, cin, m] = (ctx.param('kernel') as { shape: number[] }).shape;
  const win = windowOf(x, out, [kh, kw], strides2(ctx.node.attrs), dilation2(ctx.node.attrs), paddingOf(ctx));
  const bias = paramData(ctx, 'bias');
  const cout = cin * m;
  const y = new Float64Array(sizeOf(out));
  for (let b = 0; b < win.n; b++) for (let oy = 0; oy < win.ho; oy++) for (let ox = 0; ox < win.wo; ox++) {
    const o = ((b * win.ho + oy) * win.wo + ox) * cout;
    taps(win, b, oy, ox, (off, ky, kx) => {
      for (let ci = 0; ci < cin; ci++) {
        for (let j = 0; j < m; j++) y[o + ci * m + j] += x.data[off + ci] * k[((ky * kw + kx) * cin + ci) * m + j];
      }
    });
    if (bias) for (let c = 0; c < cout; c++) y[o + c] += bias[c];
  }
  return fusedActivation(ctx, y, out);
}

function pool(kind: 'max' | 'avg'): Kernel {
  return (inputs, ctx, out) => {
    const [x] = inputs;
    const k = pool2(ctx.node.attrs);
    const strides = ctx.node.attrs.strides === undefined ? k : strides2(ctx.node.attrs);
    const win = windowOf(x, out, k, strides, [1, 1], paddingOf(ctx));
    const y = new Float64Array(sizeOf(out));
    for (let b = 0; b < win.n; b++) for (let oy = 0; oy < win.ho; oy++) for (let ox = 0; ox < win.wo; ox++) {
      const o = ((b * win.ho + oy) * win.wo + ox) * win.c;
      for (let c = 0; c < win.c; c++) {
        // Padded positions take no part: max ignores them, the average divides by real taps only.
        let acc = kind === 'max' ? -Infinity : 0;
        let count = 0;
        taps(win, b, oy, ox, (off) => {
          acc = kind === 'max' ? Math.max(acc, x.data[off + c]) : acc + x.data[off + c];
          count++;
        });
        y[o + c] = kind === 'max' ? acc : acc / count;
      }
    }
    return y;
  };
}

// --- the rest ------------------------------------------------------------------------------

function dense(inputs: RefTensor[], ctx: OpContext, out: number[]): Float64Array {
  const [x] = inputs;
  const k = required(ctx, 'kernel');
  const inF = x.shape[x.shape.length - 1];
  const outF = out[out.length - 1];
  const bias = paramData(ctx, 'bias');
  const rows = x.data.length / inF;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inF; i++) {
      const v = x.data[r * inF + i];
      if (v === 0) continue;
      for (let o = 0; o < outF; o++) y[r * outF + o] += v * k[i * outF + o];
    }
    if (bias) for (let o = 0; o < outF; o++) y[r * outF + o] += bias[o];
  }
  return fusedActivation(ctx, y, out);
}

function batchNorm(inputs: RefTensor[], ctx: OpContext): Float64Array {
  const [x] = inputs;
  const c = x.shape[x.shape.length - 1];
  const eps = (ctx.node.attrs.epsilon as number | undefined) ?? 1e-3;
  const mean = required(ctx, 'movingMean');
  const variance = required(ctx, 'movingVariance');
  const gamma = paramData(ctx, 'gamma');
  const beta = paramData(ctx, 'beta');
  const y = new Float64Array(x.data.length);
  for (let i = 0; i < y.length; i++) {
    const ch = i % c;
    y[i] = ((x.data[i] - mean[ch]) / Math.sqrt(variance[ch] + eps)) * (gamma ? gamma[ch] : 1) + (beta ? beta[ch] : 0);
  }
  return y;
}

function globalAvgPool2d(inputs: RefTensor[]): Float64Array {
  const [x] = inputs;
  const [n, h, w, c] = x.shape;
  const y = new Float64Array(n * c);
  for (let b = 0; b < n; b++) for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) y[b * c + ch] += x.data[(b * h * w + p) * c + ch] / (h * w);
  return y;
}

function concat(inputs: RefTensor[], _ctx: OpContext, out: number[]): Float64Array {
  const cout = out[out.length - 1];
  const rows = sizeOf(out) / cout;
  const y = new Float64Array(sizeOf(out));
  let off = 0;
  for (const t of inputs) {
    const c = t.shape[t.shape.length - 1];
    for (let r = 0; r < rows; r++) for (let i = 0; i < c; i++) y[r * cout + off + i] = t.data[r * c + i];
    off += c;
  }
  return y;
}

function zeroPad2d(inputs: RefTensor[], ctx: OpContext, out: number[]): Float64Array {
  const [x] = inputs;
  const [n, h, w, c] = x.shape;
  const [[top], [left]] = zeroPadding(ctx.node.attrs.padding);
  const [, ho, wo] = out;
  const y = new Float64Array(sizeOf(out));
  for (let b = 0; b < n; b++) for (let iy = 0; iy < h; iy++) for (let ix = 0; ix < w; ix++) for (let ch = 0; ch < c; ch++) {
    y[((b * ho + iy + top) * wo + ix + left) * c + ch] = x.data[((b * h + iy) * w + ix) * c + ch];
  }
  return y;
}

const identity: Kernel = (inputs) => inputs[0].data.slice();

const BUILTIN: Record<string, Kernel> = {
  dense,
  conv2d,
  depthwiseConv2d,
  batchNorm,
  activation: (inputs, ctx, out) => referenceActivation(ctx.node.attrs.fn as ActivationFn, inputs[0].data.slice(), out[out.length - 1], ctx.node.attrs),
  maxPool2d: pool('max'),
  avgPool2d: pool('avg'),
  globalAvgPool2d,
  flatten: identity,
  reshape: identity,
  dropout: identity,
  add: (inputs) => inputs.slice(1).reduce((acc, t) => acc.map((v, i) => v + t.data[i]), inputs[0].data.slice()),
  concat,
  zeroPad2d,
};

function runNode(graph: Graph, node: Node, values: Map<string, RefTensor>, shapes: Map<string, Shape>, batch: number): RefTensor {
  const inputs = node.inputs.map((i) => values.get(i) as RefTensor);
  const ctx: OpContext = { node, inputs: node.inputs.map((i) => shapes.get(i) as Shape), param: (role) => nodeParam(graph, node, role) };
  const out = (shapes.get(node.name) as Shape).map((d) => d ?? batch);
  const def = getOp(node.op, node.name);
  const builtin = BUILTIN[node.op];
  if (!def.reference && builtin) return { shape: out, data: builtin(inputs, ctx, out) };
  if (!def.reference) throw new GraphError(`reference: op '${node.op}' has no reference implementation (define OpDef.reference)`, node.name);
  const t = def.reference(inputs, ctx);
  if (t.data.length !== sizeOf(out)) throw new GraphError(`reference: op '${node.op}' returned ${t.data.length} values, shape [${out.join(', ')}] needs ${sizeOf(out)}`, node.name);
  return t;
}

/**
 * Every value of the graph for a batch of inputs (one Float32Array per graph input, row-major,
 * batch first), computed in float64.
 */
export function referenceValues(graph: Graph, inputs: Float32Array | Float32Array[], batch: number): Map<string, RefTensor> {
  const feeds = Array.isArray(inputs) ? inputs : [inputs];
  if (feeds.length !== graph.inputs.length) throw new GraphError(`reference: graph '${graph.name}' has ${graph.inputs.length} inputs, got ${feeds.length}`);
  const shapes = inferShapes(graph);
  const values = new Map<string, RefTensor>();
  graph.inputs.forEach((name, i) => {
    const shape = (shapes.get(name) as Shape).map((d) => d ?? batch);
    if (feeds[i].length !== sizeOf(shape)) throw new GraphError(`reference: input has ${feeds[i].length} values, shape [${shape.join(', ')}] needs ${sizeOf(shape)}`, name);
    values.set(name, { shape, data: Float64Array.from(feeds[i]) });
  });
  for (const node of topoSort(graph)) {
    if (node.op === 'input') continue;
    values.set(node.name, runNode(graph, node, values, shapes, batch));
  }
  return values;
}

/** The first graph output for a batch of inputs (see `referenceValues`), as float32. */
export function runReference(graph: Graph, input: Float32Array | Float32Array[], batch: number): Float32Array {
  return Float32Array.from((referenceValues(graph, input, batch).get(graph.outputs[0]) as RefTensor).data);
}
