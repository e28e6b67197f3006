import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers gradients only via tfjs-layers in Node (see exec/gradients.ts).
import '@tensorflow/tfjs-layers';
import { rng } from '@condense/ir';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { isOurKernel, registerCpuGrads, registerWasmGrads } from './wasm-grads.js';
import { relativeError } from '../testing/index.js';

// ---- helpers ------------------------------------------------------------------

const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: () => number, xs: readonly T[]) => xs[Math.floor(r() * xs.length)];

function randomData(r: () => number, shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

/** Runs `f` on a backend and returns plain arrays (so results outlive the backend switch). */
async function on(backend: 'wasm' | 'cpu', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const data = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return data;
}

const TOL = 1e-4;
type Shape4 = [number, number, number, number];

interface ConvCase {
  batch: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  k: [number, number];
  strides: number;
  pad: 'same' | 'valid';
  dilation: number;
  depthwise: boolean;
}

function randomCase(r: () => number, depthwise: boolean): ConvCase {
  const strides = int(r, 1, 3); // 3: Conv2DBackpropInput falls back to the native kernel
  const dilation = strides === 1 ? int(r, 1, 2) : 1; // tfjs: stride or dilation must be 1
  const k: [number, number] = [int(r, 1, 3), int(r, 1, 3)];
  const pad = pick(r, ['same', 'valid'] as const);
  const min = (kk: number) => (kk - 1) * dilation + 1;
  return {
    batch: int(r, 1, 3),
    h: int(r, min(k[0]), 8),
    w: int(r, min(k[1]), 8),
    inC: int(r, 1, 3),
    outC: depthwise ? int(r, 1, 2) : int(r, 1, 4),
    k,
    strides,
    pad,
    dilation,
    depthwise,
  };
}

function forward(c: ConvCase, x: tf.Tensor4D, f: tf.Tensor4D): tf.Tensor4D {
  const d: [number, number] = [c.dilation, c.dilation];
  return c.depthwise ? tf.depthwiseConv2d(x, f, c.strides, c.pad, 'NHWC', d) : tf.conv2d(x, f, c.strides, c.pad, 'NHWC', d);
}

// ---- tests --------------------------------------------------------------------

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('wasm conv backprop kernels', () => {
  it('are registered once, and only where wasm lacks them', () => {
    for (const name of [
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'UnsortedSegmentSum',
      'Conv2DBackpropInput',
      'BatchMatMul',
      'MaxPoolGrad',
      'Identity',
      'Sum',
      'Tile',
      'Multiply',
      'Add',
      'Sub',
      'RealDiv',
    ]) {
      expect(isOurKernel(name), name).toBe(true);
    }
    expect(registerWasmGrads()).toEqual([]);
    expect(isOurKernel('Conv2D')).toBe(false);
  });

  it('UnsortedSegmentSum sums repeated ids (the gradient of an embedding lookup) as cpu does', async () => {
    const r = rng(17);
    const table = randomData(r, [6, 3]);
    const ids = Int32Array.from([0, 5, 2, 5, 5, 1, 0, 3]);
    const dy = randomData(r, [2, 4, 3]);
    const grad = () =>
      tf.grads((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor(ids, [2, 4], 'int32')), tf.tensor(dy, [2, 4, 3]))))([tf.tensor(table, [6, 3])]);
    const [w] = await on('wasm', grad);
    const [c] = await on('cpu', grad);
    expect(relativeError(w, c)).toBeLessThan(TOL);
    expect(Array.from(c.slice(9, 15))).toEqual([...dy.slice(21, 24), 0, 0, 0]); // id 3 once (position 7), id 4 never
  });

  // tf.grads of conv2d / depthwiseConv2d (dilation 1: tfjs gradients reject other values).
  for (const depthwise of [false, true]) {
    it(`${depthwise ? 'depthwiseConv2d' : 'conv2d'} gradients match cpu on random shapes`, async () => {
      const r = rng(depthwise ? 7 : 3);
      for (let i = 0; i < 30; i++) {
        const c = { ...randomCase(r, depthwise), dilation: 1 };
        const xShape: Shape4 = [c.batch, c.h, c.w, c.inC];
        const fShape: Shape4 = [c.k[0], c.k[1], c.inC, c.outC];
        const xs = randomData(r, xShape);
        const fs = randomData(r, fShape);
        const outShape = tf.tidy(() => forward(c, tf.zeros(xShape) as tf.Tensor4D, tf.zeros(fShape) as tf.Tensor4D).shape);
        const ws = randomData(r, outShape);
        const grads = () =>
          tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(forward(c, x as tf.Tensor4D, f as tf.Tensor4D), tf.tensor(ws, outShape))))([
            tf.tensor(xs, xShape),
            tf.tensor(fs, fShape),
          ]);
        const [wx, wf] = await on('wasm', grads);
        const [cx, cf] = await on('cpu', grads);
        expect(relativeError(wx, cx), `dx ${JSON.stringify(c)}`).toBeLessThan(TOL);
        expect(relativeError(wf, cf), `dW ${JSON.stringify(c)}`).toBeLessThan(TOL);
      }
    });
  }

  it('conv2d gradients match cpu on the shapes with their own paths: 1x1 (GEMM filter gradient) and stride-1 same (flipped-kernel input gradient)', async () => {
    const r = rng(41);
    const cases: ConvCase[] = [
      { batch: 3, h: 5, w: 4, inC: 3, outC: 5, k: [1, 1], strides: 1, pad: 'valid', dilation: 1, depthwise: false },
      { batch: 2, h: 6, w: 6, inC: 4, outC: 2, k: [1, 1], strides: 1, pad: 'same', dilation: 1, depthwise: false },
      { batch: 2, h: 7, w: 7, inC: 2, outC: 3, k: [1, 1], strides: 2, pad: 'same', dilation: 1, depthwise: false }, // not pointwise: stride 2
      { batch: 2, h: 6, w: 5, inC: 3, outC: 4, k: [3, 3], strides: 1, pad: 'same', dilation: 1, depthwise: false },
      { batch: 1, h: 5, w: 5, inC: 2, outC: 2, k: [3, 1], strides: 1, pad: 'same', dilation: 1, depthwise: false },
    ];
    for (const c of cases) {
      const xShape: Shape4 = [c.batch, c.h, c.w, c.inC];
      const fShape: Shape4 = [c.k[0], c.k[1], c.inC, c.outC];
      const [xs, fs] = [randomData(r, xShape), randomData(r, fShape)];
      const outShape = tf.tidy(() => forward(c, tf.zeros(xShape) as tf.Tensor4D, tf.zeros(fShape) as tf.Tensor4D).shape);
      const ws = randomData(r, outShape);
      const grads = () =>
        tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(forward(c, x as tf.Tensor4D, f as tf.Tensor4D), tf.tensor(ws, outShape))))([
          tf.tensor(xs, xShape),
          tf.tensor(fs, fShape),
        ]);
      const [wx, wf] = await on('wasm', grads);
      const [cx, cf] = await on('cpu', grads);
      expect(relativeError(wx, cx), `dx ${JSON.stringify(c)}`).toBeLessThan(TOL);
      expect(relativeError(wf, cf), `dW ${JSON.stringify(c)}`).toBeLessThan(TOL);
    }
  });

  // Kernel level, with dilation 2 too, against a plain-JS reference.
  for (const depthwise of [false, true]) {
    it(`${depthwise ? 'depthwise' : 'conv2d'} backprop kernels handle dilation (vs a JS reference)`, async () => {
      const r = rng(depthwise ? 11 : 13);
      for (let i = 0; i < 30; i++) {
        const c = randomCase(r, depthwise);
        const xShape: Shape4 = [c.batch, c.h, c.w, c.inC];
        const fShape: Shape4 = [c.k[0], c.k[1], c.inC, c.outC];
        const info = tf.backend_util.computeConv2DInfo(xShape, fShape, c.strides, c.dilation, c.pad, undefined, depthwise);
        const xs = randomData(r, xShape);
        const fs = randomData(r, fShape);
        const dys = randomData(r, info.outShape);
        const name = depthwise ? 'DepthwiseConv2dNative' : 'Conv2D';
        const attrs = { strides: c.strides, pad: c.pad, dilations: c.dilation, dataFormat: 'NHWC' };
        const [dW, dx] = await on('wasm', () => [
          tf
            .engine()
            .runKernel(
              `${name}BackpropFilter`,
              { x: tf.tensor(xs, xShape), dy: tf.tensor(dys, info.outShape) },
              { ...attrs, filterShape: fShape },
            ) as tf.Tensor,
          tf
            .engine()
            .runKernel(
              `${name}BackpropInput`,
              { dy: tf.tensor(dys, info.outShape), filter: tf.tensor(fs, fShape) },
              { ...attrs, inputShape: xShape },
            ) as tf.Tensor,
        ]);
        const ref = referenceGrads(info, xs, fs, dys, depthwise);
        expect(relativeError(dW, ref.dW), `dW ${JSON.stringify(c)}`).toBeLessThan(TOL);
        expect(relativeError(dx, ref.dx), `dx ${JSON.stringify(c)}`).toBeLessThan(TOL);
      }
    });
  }
});

/** Direct sums over the forward conv's index map (conv2d, or depthwise when outChannels = inC * m). */
function referenceGrads(p: tf.backend_util.Conv2DInfo, x: Float32Array, f: Float32Array, dy: Float32Array, depthwise: boolean) {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: O } = p;
  const KH = p.filterHeight;
  const KW = p.filterWidth;
  const M = depthwise ? O / C : O; // the filter's last dim
  const dW = new Float32Array(f.length);
  const dx = new Float32Array(x.length);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        for (let kh = 0; kh < KH; kh++)
          for (let kw = 0; kw < KW; kw++) {
            const ih = oh * p.strideHeight - p.padInfo.top + kh * p.dilationHeight;
            const iw = ow * p.strideWidth - p.padInfo.left + kw * p.dilationWidth;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            for (let ci = 0; ci < C; ci++)
              for (let m = 0; m < M; m++) {
                const co = depthwise ? ci * M + m : m;
                const xi = ((n * H + ih) * W + iw) * C + ci;
                const fi = ((kh * KW + kw) * C + ci) * M + m;
                const g = dy[((n * OH + oh) * OW + ow) * O + co];
                dW[fi] += x[xi] * g;
                dx[xi] += f[fi] * g;
              }
          }
      }
  return { dW, dx };
}

describe('cpu Conv2DBackpropFilter', () => {
  it('is replaced once selectBackend picks cpu, and matches a JS reference with strides and dilation', async () => {
    await selectBackend('cpu');
    expect(registerCpuGrads()).toBe(false); // already replaced by selectBackend
    const r = rng(17);
    for (let i = 0; i < 30; i++) {
      const c = randomCase(r, false);
      const xShape: Shape4 = [c.batch, c.h, c.w, c.inC];
      const fShape: Shape4 = [c.k[0], c.k[1], c.inC, c.outC];
      const info = tf.backend_util.computeConv2DInfo(xShape, fShape, c.strides, c.dilation, c.pad);
      const xs = randomData(r, xShape);
      const dys = randomData(r, info.outShape);
      const [dW] = await on('cpu', () => [
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x: tf.tensor(xs, xShape), dy: tf.tensor(dys, info.outShape) },
            { strides: c.strides, pad: c.pad, dilations: c.dilation, dataFormat: 'NHWC', filterShape: fShape },
          ) as tf.Tensor,
      ]);
      const ref = referenceGrads(info, xs, new Float32Array(fShape.reduce((a, b) => a * b)), dys, false);
      expect(relativeError(dW, ref.dW), `dW ${JSON.stringify(c)}`).toBeLessThan(TOL);
    }
    await selectBackend('wasm');
  });
});

describe('wasm MaxPoolGrad', () => {
  it('matches cpu, including negative maxima and ties (native wasm drops/misplaces them)', async () => {
    const r = rng(5);
    for (let i = 0; i < 30; i++) {
      const k = int(r, 1, 3);
      const s = int(r, 1, 3);
      const pad = pick(r, ['same', 'valid'] as const);
      const shape = [int(r, 1, 3), int(r, k, 9), int(r, k, 9), int(r, 1, 4)];
      // Rounded values: many exact ties; mostly negative windows too.
      const xs = randomData(r, shape).map((v) => Math.round(v * 3) - 1);
      const grad = () => [tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(x as tf.Tensor4D, k, s, pad), 1.5)))(tf.tensor(xs, shape))];
      const [w] = await on('wasm', grad);
      const [c] = await on('cpu', grad);
      expect(relativeError(w, c), JSON.stringify({ shape, k, s, pad })).toBeLessThan(TOL);
    }
  });
});

describe('wasm MaxPoolGrad, non-overlapping windows (pool == stride)', () => {
  it('matches cpu with ties, -Infinity, NaN and uncovered remainder rows', async () => {
    const r = rng(21);
    for (let i = 0; i < 30; i++) {
      const k = int(r, 1, 3);
      const pad = pick(r, ['same', 'valid'] as const);
      const shape = [int(r, 1, 3), int(r, k, 9), int(r, k, 9), int(r, 1, 5)];
      const special = [Number.NaN, -Infinity, -Infinity, -2, 0];
      const xs = randomData(r, shape).map((v) => (r() < 0.2 ? pick(r, special) : Math.round(v * 3) - 1));
      if (i === 0) xs.fill(-Infinity); // every window all -Infinity: no gradient anywhere, as on cpu
      const grad = () => [tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(x as tf.Tensor4D, k, k, pad), 1.5)))(tf.tensor(xs, shape))];
      const [w] = await on('wasm', grad);
      const [c] = await on('cpu', grad);
      expect(relativeError(w, c), JSON.stringify({ shape, k, pad })).toBeLessThan(TOL);
    }
  });
});

describe('wasm Sum, Identity and Tile', () => {
  it('Tile matches cpu on random shapes and repeats, float32 and int32', async () => {
    const r = rng(31);
    for (let i = 0; i < 40; i++) {
      const shape = Array.from({ length: int(r, 1, 5) }, () => int(r, 0, 4));
      const reps = shape.map(() => int(r, 0, 3));
      const dtype = r() < 0.5 ? 'float32' : 'int32';
      const xs = Float32Array.from(randomData(r, shape), (v) => (dtype === 'int32' ? Math.round(v * 100) : v));
      const tiled = () => [tf.tile(tf.tensor(xs, shape, dtype), reps)];
      const [w] = await on('wasm', tiled);
      const [c] = await on('cpu', tiled);
      expect(Array.from(w), JSON.stringify({ shape, reps, dtype })).toEqual(Array.from(c));
    }
    // Batch norm's gradient: a per-channel vector over a whole activation.
    const v = Float32Array.from({ length: 6 }, (_, k) => k + 1);
    const [w] = await on('wasm', () => [tf.tile(tf.tensor(v, [1, 1, 1, 6]), [2, 3, 4, 1])]);
    expect(Array.from(w)).toEqual(Array.from({ length: 2 * 3 * 4 * 6 }, (_, k) => (k % 6) + 1));
  });

  it('binary ops by a per-channel vector (ours) and every other broadcast (native) match cpu', async () => {
    const r = rng(37);
    const ops = { Multiply: tf.mul, Add: tf.add, Sub: tf.sub, RealDiv: tf.div } as const;
    for (let i = 0; i < 60; i++) {
      const full = Array.from({ length: int(r, 1, 4) }, () => int(r, 1, 5));
      const c = full.at(-1) as number;
      // a per-channel vector ([C] or [1, ..., C]), or another broadcast (a leading axis, a scalar), or equal shapes
      const other = pick(r, [[c], [...full.slice(0, -1).map(() => 1), c], [full[0], ...full.slice(1).map(() => 1)], [], full]);
      const name = pick(r, Object.keys(ops)) as keyof typeof ops;
      const [xs, vs] = [randomData(r, full), Float32Array.from(randomData(r, other), (v) => v + (v < 0 ? -0.5 : 0.5))];
      const first = r() < 0.5;
      const op = () => {
        const [x, v] = [tf.tensor(xs, full), tf.tensor(vs, other)];
        return [first ? ops[name](v, x) : ops[name](x, v)];
      };
      const [w] = await on('wasm', op);
      const [cc] = await on('cpu', op);
      expect(relativeError(w, cc), JSON.stringify({ name, full, other, first })).toBeLessThan(TOL);
    }
    // Every op in both operand orders, by hand: x = [[1, 2], [3, 4]], v = [2, 4].
    const exact = {
      Multiply: [
        [2, 8, 6, 16],
        [2, 8, 6, 16],
      ],
      Add: [
        [3, 6, 5, 8],
        [3, 6, 5, 8],
      ],
      Sub: [
        [-1, -2, 1, 0],
        [1, 2, -1, 0],
      ],
      RealDiv: [
        [0.5, 0.5, 1.5, 1],
        [2, 2, 2 / 3, 1],
      ],
    };
    for (const [name, [xv, vx]] of Object.entries(exact)) {
      const f = ops[name as keyof typeof ops];
      const [a, b] = await on('wasm', () => [
        f(tf.tensor([1, 2, 3, 4], [2, 2]), tf.tensor([2, 4])),
        f(tf.tensor([2, 4], [1, 2]), tf.tensor([1, 2, 3, 4], [2, 2])),
      ]);
      expect(relativeError(a, xv), `${name}(x, v)`).toBeLessThan(1e-7);
      expect(relativeError(b, vx), `${name}(v, x)`).toBeLessThan(1e-7);
    }
  });

  it('Sum over leading axes (ours) and other axes (native) matches cpu', async () => {
    const r = rng(23);
    for (let i = 0; i < 30; i++) {
      const shape = Array.from({ length: int(r, 1, 4) }, () => int(r, 1, 6));
      const axes = shape.map((_, a) => a).filter(() => r() < 0.6);
      const axis = axes.length === 1 && r() < 0.5 ? axes[0] - shape.length : axes; // negative axes too
      const keepDims = r() < 0.5;
      const xs = randomData(r, shape);
      const sum = () => [tf.sum(tf.tensor(xs, shape), axis, keepDims)];
      const [w] = await on('wasm', sum);
      const [c] = await on('cpu', sum);
      expect(relativeError(w, c), JSON.stringify({ shape, axis, keepDims })).toBeLessThan(TOL);
      const shapes = await Promise.all(
        (['wasm', 'cpu'] as const).map(async (b) => {
          await tf.setBackend(b);
          return tf.tidy(() => sum()[0].shape);
        }),
      );
      expect(shapes[0]).toEqual(shapes[1]);
    }
  });

  it('Sum over leading axes: more columns than the row-sum buffer holds (column at a time)', async () => {
    const xs = randomData(rng(43), [3, 9000]);
    const sum = () => [tf.sum(tf.tensor(xs, [3, 9000]), 0)];
    const [w] = await on('wasm', sum);
    const [c] = await on('cpu', sum);
    expect(relativeError(w, c)).toBeLessThan(TOL);
  });

  it('Identity shares the buffer: a clone outlives its source and frees it last', async () => {
    await tf.setBackend('wasm');
    const before = tf.backend().numDataIds();
    const x = tf.tensor([1, 2, 3]);
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(tf.backend().numDataIds()).toBe(before);
  });
});

describe('wasm Conv2DBackpropFilter with one input channel (im2col path)', () => {
  it('matches a JS reference with strides, dilation and same/valid padding', async () => {
    const r = rng(29);
    for (let i = 0; i < 30; i++) {
      const c = { ...randomCase(r, false), inC: 1 };
      const xShape: Shape4 = [c.batch, c.h, c.w, 1];
      const fShape: Shape4 = [c.k[0], c.k[1], 1, c.outC];
      const info = tf.backend_util.computeConv2DInfo(xShape, fShape, c.strides, c.dilation, c.pad);
      const xs = randomData(r, xShape);
      const dys = randomData(r, info.outShape);
      const [dW] = await on('wasm', () => [
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x: tf.tensor(xs, xShape), dy: tf.tensor(dys, info.outShape) },
            { strides: c.strides, pad: c.pad, dilations: c.dilation, dataFormat: 'NHWC', filterShape: fShape },
          ) as tf.Tensor,
      ]);
      const ref = referenceGrads(info, xs, new Float32Array(fShape.reduce((a, b) => a * b)), dys, false);
      expect(relativeError(dW, ref.dW), `dW ${JSON.stringify(c)}`).toBeLessThan(TOL);
    }
  });
});

describe('wasm BatchMatMul with transposes', () => {
  it('matches cpu (both operand orders: A·B and (Bᵀ·Aᵀ)ᵀ)', async () => {
    const r = rng(9);
    for (const [m, k, n] of [
      [2, 3, 40],
      [40, 3, 2],
      [5, 7, 6],
      [1, 9, 1],
    ]) {
      for (const [ta, tb] of [
        [true, false],
        [false, true],
        [true, true],
        [false, false],
      ] as const) {
        const a = randomData(r, [m * k]);
        const b = randomData(r, [k * n]);
        const mm = () => [tf.matMul(tf.tensor(a, ta ? [k, m] : [m, k]), tf.tensor(b, tb ? [n, k] : [k, n]), ta, tb)];
        const [w] = await on('wasm', mm);
        const [c] = await on('cpu', mm);
        expect(relativeError(w, c), JSON.stringify({ m, k, n, ta, tb })).toBeLessThan(TOL);
      }
    }
  });
});

describe('a LeNet-like model', () => {
  it('has the same parameter gradients on wasm and cpu', async () => {
    const r = rng(1);
    const shapes = { c1: [5, 5, 1, 6], c2: [5, 5, 6, 8], d1: [128, 16], d2: [16, 10] };
    const values = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, randomData(r, s)]));
    const x = randomData(r, [3, 28, 28, 1]);
    const labels = Array.from({ length: 3 }, () => int(r, 0, 9));
    const grads = () => {
      const p = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tf.tensor(values[k], s)]));
      const loss = (...ws: tf.Tensor[]) => {
        const [c1, c2, d1, d2] = ws;
        let h = tf.maxPool(tf.conv2d(tf.tensor4d(x, [3, 28, 28, 1]), c1 as tf.Tensor4D, 1, 'valid'), 2, 2, 'valid');
        h = tf.maxPool(tf.conv2d(h, c2 as tf.Tensor4D, 1, 'valid'), 2, 2, 'valid');
        const d = tf.relu(tf.matMul(tf.reshape(h, [3, 128]), d1 as tf.Tensor2D));
        return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), tf.matMul(d, d2 as tf.Tensor2D));
      };
      return tf.grads(loss)([p.c1, p.c2, p.d1, p.d2]);
    };
    const w = await on('wasm', grads);
    const c = await on('cpu', grads);
    w.forEach((g, i) => expect(relativeError(g, c[i]), `param ${i}`).toBeLessThan(TOL));
    // No leaks: neither tensors nor wasm heap buffers.
    await tf.setBackend('wasm');
    const before = [tf.memory().numTensors, tf.backend().numDataIds()];
    await on('wasm', grads);
    expect([tf.memory().numTensors, tf.backend().numDataIds()]).toEqual(before);
  });
});
