import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, registerOp, setCodebook, setMask, setQuant, type Graph } from '@condense/ir';
import { compile, registerKernel } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic pseudo-random values in [-1, 1). */
function values(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  });
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function run(graph: Graph, x: tf.Tensor, opts: Parameters<ReturnType<typeof compile>['predict']>[1] = {}) {
  const model = compile(graph);
  const r = model.predict(x, opts);
  const out = { output: Array.from(r.output.dataSync()), shape: r.output.shape, logits: r.logits ? Array.from(r.logits.dataSync()) : undefined };
  tf.dispose([r.output, r.logits, ...Object.values(r.taps)]);
  model.dispose();
  return out;
}

/** Compare our graph with a tfjs-layers layer holding the same weights. */
function sameAsLayer(graph: Graph, layer: tfl.layers.Layer, inputShape: number[], weights: tf.Tensor[] = []) {
  const x = tf.tensor(values(size(inputShape), 7), inputShape);
  const ref = layer.apply(x) as tf.Tensor;
  if (weights.length) {
    layer.setWeights(weights);
  }
  const want = (layer.apply(x) as tf.Tensor).dataSync();
  const got = run(graph, x);
  expect(got.shape).toEqual(ref.shape);
  expect(got.output.length).toBe(want.length);
  got.output.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
  tf.dispose([x, ref]);
}

describe('builtin kernels', () => {
  it('dense with fused relu equals the hand computation', () => {
    const b = new GraphBuilder('d', [2]);
    // kernel [[1, -1, 2], [0.5, 1, -3]] , bias [0.1, 0, -0.5]
    b.add(
      'dense',
      ['input'],
      { activation: 'relu' },
      { kernel: [[2, 3], new Float32Array([1, -1, 2, 0.5, 1, -3])], bias: [[3], new Float32Array([0.1, 0, -0.5])] },
      'fc',
    );
    const g = b.build();
    const x = tf.tensor2d([
      [1, 2],
      [-1, 1],
    ]);
    const r = run(g, x);
    // row0: [1+1, -1+2, 2-6] + b = [2.1, 1, -4.5] -> relu; row1: [-1+0.5, 1+1, -2-3] + b = [-0.4, 2, -5.5]
    expect(r.output.map((v) => +v.toFixed(5))).toEqual([2.1, 1, 0, 0, 2, 0]);
    x.dispose();
  });

  it('dense with softmax output exposes the logits', () => {
    const b = new GraphBuilder('d', [2]);
    b.add('dense', ['input'], { activation: 'softmax' }, { kernel: [[2, 2], new Float32Array([1, 0, 0, 1])], bias: [[2], new Float32Array([0, 1])] }, 'out');
    const x = tf.tensor2d([[0, 0]]);
    const r = run(b.build(), x);
    expect(r.logits).toEqual([0, 1]);
    const e = Math.exp(1);
    expect(r.output[0]).toBeCloseTo(1 / (1 + e), 6);
    expect(r.output[1]).toBeCloseTo(e / (1 + e), 6);
    x.dispose();
  });

  it('an activation-node softmax output exposes its input as logits', () => {
    const g = new GraphBuilder('s', [3]).activation('softmax', { name: 'sm' }).build();
    const x = tf.tensor2d([[1, 2, 3]]);
    const r = run(g, x);
    expect(r.logits).toEqual([1, 2, 3]);
    expect(r.output.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
    x.dispose();
  });

  it('conv2d valid equals the hand computation', () => {
    const b = new GraphBuilder('c', [3, 3, 1]);
    b.add('conv2d', ['input'], { padding: 'valid' }, { kernel: [[2, 2, 1, 1], new Float32Array([1, 2, 3, 4])], bias: [[1], new Float32Array([1])] }, 'conv');
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const r = run(b.build(), x);
    // window [1,2,4,5]·[1,2,3,4] = 1+4+12+20 = 37 (+1)
    expect(r.output).toEqual([38, 48, 68, 78]);
    expect(r.shape).toEqual([1, 2, 2, 1]);
    x.dispose();
  });

  it.each([
    { strides: [2, 2], padding: 'same', dilation: undefined, activation: 'relu' },
    { strides: undefined, padding: 'valid', dilation: [2, 2], activation: 'elu' },
    { strides: [1, 2], padding: 'same', dilation: undefined, activation: 'sigmoid' },
  ])('conv2d matches tfjs-layers (%o)', (o) => {
    const kernel = values(3 * 3 * 2 * 4, 3);
    const bias = values(4, 5);
    const b = new GraphBuilder('c', [7, 6, 2]);
    const attrs: Record<string, unknown> = { padding: o.padding, activation: o.activation };
    if (o.strides) attrs.strides = o.strides;
    if (o.dilation) attrs.dilation = o.dilation;
    b.add('conv2d', ['input'], attrs, { kernel: [[3, 3, 2, 4], kernel], bias: [[4], bias] }, 'conv');
    const layer = tfl.layers.conv2d({
      filters: 4,
      kernelSize: 3,
      padding: o.padding as 'same',
      activation: o.activation as 'relu',
      strides: (o.strides ?? [1, 1]) as [number, number],
      dilationRate: (o.dilation ?? [1, 1]) as [number, number],
    });
    sameAsLayer(b.build(), layer, [2, 7, 6, 2], [tf.tensor(kernel, [3, 3, 2, 4]), tf.tensor(bias, [4])]);
  });

  it('depthwiseConv2d with a multiplier matches tfjs-layers', () => {
    const kernel = values(3 * 3 * 3 * 2, 11);
    const bias = values(6, 13);
    const b = new GraphBuilder('dw', [5, 5, 3]);
    b.add(
      'depthwiseConv2d',
      ['input'],
      { padding: 'same', depthMultiplier: 2, activation: 'relu6' },
      { kernel: [[3, 3, 3, 2], kernel], bias: [[6], bias] },
      'dw',
    );
    const layer = tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu6' });
    sameAsLayer(b.build(), layer, [2, 5, 5, 3], [tf.tensor(kernel, [3, 3, 3, 2]), tf.tensor(bias, [6])]);
  });

  it('batchNorm inference uses the moving statistics', () => {
    const b = new GraphBuilder('bn', [2]);
    b.add(
      'batchNorm',
      ['input'],
      { epsilon: 0 },
      {
        gamma: [[2], new Float32Array([2, 1])],
        beta: [[2], new Float32Array([1, 0])],
        movingMean: [[2], new Float32Array([1, -1])],
        movingVariance: [[2], new Float32Array([4, 1])],
      },
      'bn',
    );
    const x = tf.tensor2d([[3, 1]]);
    // (3-1)/2*2+1 = 3 ; (1+1)/1*1+0 = 2
    expect(run(b.build(), x).output).toEqual([3, 2]);
    x.dispose();
  });

  it('batchNorm training uses batch statistics and updates the moving ones with momentum 0.99', () => {
    const b = new GraphBuilder('bn', [1]);
    b.add('batchNorm', ['input'], { epsilon: 0 }, { movingMean: [[1], new Float32Array([0])], movingVariance: [[1], new Float32Array([1])] }, 'bn');
    const g = b.build();
    const model = compile(g);
    const x = tf.tensor2d([[1], [3]]); // mean 2, biased variance 1
    const r = model.predict(x, { training: true });
    expect(Array.from(r.output.dataSync())).toEqual([-1, 1]);
    expect(model.variables.get('bn/movingMean')!.dataSync()[0]).toBeCloseTo(0.02, 6);
    expect(model.variables.get('bn/movingVariance')!.dataSync()[0]).toBeCloseTo(1, 6);
    expect(model.bound.get('bn/movingMean')!.trainable).toBe(false);
    model.syncToGraph();
    expect(g.params.get('bn/movingMean')!.data[0]).toBeCloseTo(0.02, 6);
    tf.dispose([x, r.output]);
    model.dispose();
  });

  it.each([
    ['rank 4, gamma and beta', [3, 4, 5, 6], true, true],
    ['rank 2, gamma only', [7, 5], true, false],
    ['rank 4, neither', [2, 3, 3, 4], false, false],
  ] as const)('batchNorm training gradients (closed form) equal autodiff through tf.moments: %s', (_, shape, withGamma, withBeta) => {
    const c = shape.at(-1) as number;
    // dense (on the last axis) -> batchNorm: the dense kernel's gradient goes through batchNorm's dx.
    const b = new GraphBuilder('bn', [...shape.slice(1)]);
    b.dense(c, { name: 'fc', bias: false });
    const params: Record<string, [number[], Float32Array]> = { movingMean: [[c], new Float32Array(c)], movingVariance: [[c], new Float32Array(c).fill(1)] };
    if (withGamma) params.gamma = [[c], values(c, 3).map((v) => 1 + v / 2)];
    if (withBeta) params.beta = [[c], values(c, 4)];
    b.add('batchNorm', ['fc'], { epsilon: 1e-3 }, params, 'bn');
    const model = compile(b.build());
    const x = tf.tensor(
      values(size([...shape]), 5).map((v, i) => v * (1 + (i % c)) + (i % c)),
      [...shape],
    );
    const w = tf.tensor(values(size([...shape]), 6), [...shape]); // loss = sum(w * y): a generic upstream gradient
    const vars = model.variables;
    const trained = ['fc/kernel', 'bn/gamma', 'bn/beta'].filter((n) => vars.has(n)).map((n) => vars.get(n)!);
    const ours = tf.variableGrads(() => tf.sum(tf.mul(w, model.predict(x, { training: true, updateStats: false }).output)) as tf.Scalar, trained);
    const axes = shape.slice(0, -1).map((_, i) => i);
    const want = tf.variableGrads(() => {
      const h = tf.reshape(tf.matMul(tf.reshape(x, [-1, c]), vars.get('fc/kernel')!), [...shape]);
      const { mean, variance } = tf.moments(h, axes);
      // tfjs's own FusedBatchNorm gradient needs both: constants stand in for a missing one.
      const [beta, gamma] = [vars.get('bn/beta') ?? tf.zeros([c]), vars.get('bn/gamma') ?? tf.ones([c])];
      return tf.sum(tf.mul(w, tf.batchNorm(h, mean, variance, beta, gamma, 1e-3))) as tf.Scalar;
    }, trained);
    expect(Object.keys(ours.grads).sort()).toEqual(Object.keys(want.grads).sort());
    for (const key of Object.keys(want.grads)) {
      const [a, e] = [ours.grads[key].dataSync(), want.grads[key].dataSync()];
      const scale = Math.max(...Array.from(e, Math.abs));
      expect(scale, key).toBeGreaterThan(1e-3);
      expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - e[i]))) / scale, key).toBeLessThan(1e-4);
    }
    expect(ours.value.dataSync()[0]).toBeCloseTo(want.value.dataSync()[0], 4);
    tf.dispose([x, w, ours.value, want.value, ...Object.values(ours.grads), ...Object.values(want.grads)]);
    model.dispose();
  });

  it('frees each activation after its last consumer: peak memory follows the live values, outputs and taps stay', async () => {
    const b = new GraphBuilder('chain', [256]);
    for (let i = 0; i < 24; i++) b.dense(256, { name: `fc${i}`, activation: 'relu', bias: false });
    b.addValues(['fc22', 'fc23'], { name: 'sum' }).dropout(0, { name: 'same' }); // a kernel handing back its input
    const model = compile(b.build());
    const x = tf.ones([64, 256]);
    const activation = 64 * 256 * 4;
    const prof = await tf.profile(() => {
      const r = model.predict(x, { taps: ['fc3'] });
      expect(r.taps.fc3.shape).toEqual([64, 256]);
      expect(r.output.shape).toEqual([64, 256]);
      tf.dispose([r.output, r.taps.fc3]);
    });
    // Weights are resident; all 26 activations at once would be 26 x 64 KiB on top of them.
    // Live at most: the tap, the add's two inputs and its output, and the kernels' temporaries.
    expect(prof.peakBytes - tf.memory().numBytes).toBeLessThan(12 * activation);
    tf.dispose(x);
    model.dispose();
  });

  it('batchNorm with gamma/beta matches tfjs-layers in inference', () => {
    const c = 3;
    const [gamma, beta, mean, v] = [values(c, 1), values(c, 2), values(c, 3), values(c, 4).map((a) => a + 1.5)];
    const b = new GraphBuilder('bn', [2, 2, c]);
    b.add('batchNorm', ['input'], { epsilon: 1e-3 }, { gamma: [[c], gamma], beta: [[c], beta], movingMean: [[c], mean], movingVariance: [[c], v] }, 'bn');
    const layer = tfl.layers.batchNormalization({ epsilon: 1e-3 });
    sameAsLayer(
      b.build(),
      layer,
      [2, 2, 2, c],
      [gamma, beta, mean, v].map((a) => tf.tensor1d(a)),
    );
  });

  it('activation functions equal their definitions', () => {
    const xs = [-2, -0.5, 0, 1, 7];
    const cases: [string, Record<string, unknown>, (x: number) => number][] = [
      ['relu', {}, (x) => Math.max(0, x)],
      ['relu6', {}, (x) => Math.min(6, Math.max(0, x))],
      ['sigmoid', {}, (x) => 1 / (1 + Math.exp(-x))],
      ['tanh', {}, Math.tanh],
      ['linear', {}, (x) => x],
      ['elu', {}, (x) => (x > 0 ? x : Math.exp(x) - 1)],
      ['elu', { alpha: 0.5 }, (x) => (x > 0 ? x : 0.5 * (Math.exp(x) - 1))],
      ['leakyRelu', {}, (x) => (x > 0 ? x : 0.3 * x)],
      ['leakyRelu', { alpha: 0.1 }, (x) => (x > 0 ? x : 0.1 * x)],
      ['swish', {}, (x) => x / (1 + Math.exp(-x))],
      ['hardSigmoid', {}, (x) => Math.min(1, Math.max(0, 0.2 * x + 0.5))],
      ['softplus', {}, (x) => Math.log1p(Math.exp(x))],
      ['selu', {}, (x) => 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (Math.exp(x) - 1))],
      ['gelu', { approximate: true }, (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))],
    ];
    const x = tf.tensor2d([xs]);
    for (const [fn, attrs, f] of cases) {
      const b = new GraphBuilder('a', [xs.length]);
      b.add('activation', ['input'], { fn, ...attrs }, {}, 'act');
      const got = run(b.build(), x).output;
      got.forEach((v, i) => expect(v, `${fn} ${JSON.stringify(attrs)} at ${xs[i]}`).toBeCloseTo(f(xs[i]), 4));
    }
    // exact gelu at known points: x * Phi(x)
    const b = new GraphBuilder('a', [3]);
    b.add('activation', ['input'], { fn: 'gelu' }, {}, 'act');
    const g = tf.tensor2d([[-1, 0, 1]]);
    const got = run(b.build(), g).output;
    [-0.15865525, 0, 0.84134475].forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    tf.dispose([x, g]);
  });

  it('max and average pooling equal the hand computation', () => {
    const x = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => i),
      [1, 4, 4, 1],
    );
    const maxG = new GraphBuilder('p', [4, 4, 1]).maxPool2d(2).build();
    const avgG = new GraphBuilder('p', [4, 4, 1]).avgPool2d(2).build();
    expect(run(maxG, x).output).toEqual([5, 7, 13, 15]);
    expect(run(avgG, x).output).toEqual([2.5, 4.5, 10.5, 12.5]);
    const strided = new GraphBuilder('p', [4, 4, 1]).maxPool2d(3, { strides: 1 }).build();
    expect(run(strided, x).output).toEqual([10, 11, 14, 15]);
    x.dispose();
  });

  it('globalAvgPool2d, flatten (NHWC order), reshape, add, concat, zeroPad2d', () => {
    const data = Array.from({ length: 8 }, (_, i) => i);
    const x = tf.tensor4d(data, [1, 2, 2, 2]);
    expect(run(new GraphBuilder('g', [2, 2, 2]).globalAvgPool2d().build(), x).output).toEqual([3, 4]);
    expect(run(new GraphBuilder('f', [2, 2, 2]).flatten().build(), x).output).toEqual(data);
    const r = new GraphBuilder('r', [2, 2, 2]);
    r.add('reshape', ['input'], { targetShape: [4, -1] }, {}, 'rs');
    const rr = run(r.build(), x);
    expect(rr.shape).toEqual([1, 4, 2]);
    expect(rr.output).toEqual(data);

    const b = new GraphBuilder('ac', [2, 2, 2]);
    b.activation('relu', { name: 'a' });
    b.activation('linear', { name: 'c' }, 'input');
    b.addValues(['a', 'c'], { name: 'sum' });
    b.concat(['sum', 'input'], { name: 'cat' });
    const cat = run(b.build(), x);
    expect(cat.shape).toEqual([1, 2, 2, 4]);
    expect(cat.output.slice(0, 4)).toEqual([0, 2, 0, 1]);

    const p = new GraphBuilder('zp', [2, 2, 2])
      .zeroPad2d([
        [1, 0],
        [0, 1],
      ])
      .build();
    const pad = run(p, x);
    expect(pad.shape).toEqual([1, 3, 3, 2]);
    expect(pad.output.slice(0, 6)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(pad.output.slice(6, 10)).toEqual([0, 1, 2, 3]);
    x.dispose();
  });

  it('dropout is the identity in inference and a seeded scaled mask in training', () => {
    const g = new GraphBuilder('do', [200]).dropout(0.5, { name: 'drop' }).build();
    const x = tf.ones([2, 200]);
    expect(run(g, x).output.every((v) => v === 1)).toBe(true);
    const a = run(g, x, { training: true, seed: 5 }).output;
    const b = run(g, x, { training: true, seed: 5 }).output;
    const c = run(g, x, { training: true, seed: 6 }).output;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.every((v) => v === 0 || v === 2)).toBe(true);
    const kept = a.filter((v) => v === 2).length / a.length;
    expect(kept).toBeGreaterThan(0.35);
    expect(kept).toBeLessThan(0.65);
    x.dispose();
  });
});

describe('training-mode kernels', () => {
  /** Gradients of a fixed scalar of the output w.r.t. every variable, in one mode. */
  function gradsOf(graph: Graph, x: tf.Tensor, training: boolean) {
    const model = compile(graph);
    const vars = [...model.variables.values()];
    const out = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const y = model.predict(x, { training }).output;
        return tf.sum(tf.mul(y, tf.linspace(1, 2, y.shape.at(-1) as number))) as tf.Scalar;
      }, vars);
      return { value: value.dataSync()[0], grads: vars.map((v) => Array.from(grads[v.name].dataSync())) };
    });
    model.dispose();
    return out;
  }

  it.each([
    [
      'conv first',
      () =>
        new GraphBuilder('t', [6, 6, 2], 4)
          .conv2d(3, 3, { name: 'c', activation: 'relu', padding: 'same' })
          .depthwiseConv2d(3, { name: 'dw', depthMultiplier: 2, activation: 'relu6', strides: 2, padding: 'same' })
          .flatten()
          .dense(5, { name: 'd1', activation: 'elu' })
          .dense(3, { name: 'd2', activation: 'softmax' })
          .build(),
      [3, 6, 6, 2],
    ],
    [
      'conv after conv (input gradient, strides, same)',
      () =>
        new GraphBuilder('t', [7, 7, 2], 4)
          .conv2d(3, 3, { name: 'c0', padding: 'valid' })
          .conv2d(4, 2, { name: 'c1', strides: 2, padding: 'same' })
          .flatten()
          .dense(3, { name: 'd2', activation: 'softmax' })
          .build(),
      [3, 7, 7, 2],
    ],
    [
      'dense first, rank 3',
      () =>
        new GraphBuilder('t', [4, 6], 5).dense(7, { name: 'd0', activation: 'leakyRelu' }).flatten().dense(3, { name: 'd2', activation: 'softmax' }).build(),
      [3, 4, 6],
    ],
  ] as const)('equal the fused inference path in value and gradients (%s)', (_name, build, shape) => {
    const x = tf.tensor(values(size([...shape]), 9), [...shape]);
    const a = gradsOf(build(), x, false);
    const b = gradsOf(build(), x, true);
    expect(b.value).toBeCloseTo(a.value, 4);
    a.grads.forEach((g, i) => g.forEach((v, j) => expect(b.grads[i][j]).toBeCloseTo(v, 4)));
    x.dispose();
  });
});

describe('compiled model', () => {
  const small = () => new GraphBuilder('m', [4], 3).dense(5, { name: 'fc1', activation: 'relu' }).dense(3, { name: 'fc2', activation: 'softmax' }).build();

  it('returns taps of named nodes and frees every intermediate', () => {
    const model = compile(small());
    const x = tf.ones([2, 4]);
    const before = tf.memory().numTensors;
    const r = model.predict(x, { taps: ['fc1', 'input'] });
    expect(r.taps.fc1.shape).toEqual([2, 5]);
    expect(r.taps.input).not.toBe(x);
    expect(Array.from(r.taps.input.dataSync())).toEqual(Array.from(x.dataSync()));
    expect(r.logits!.shape).toEqual([2, 3]);
    // output, logits, tap fc1, tap input (a clone: returned tensors are the caller's)
    expect(tf.memory().numTensors).toBe(before + 4);
    tf.dispose([r.output, r.logits!, r.taps.fc1, r.taps.input]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => model.predict(x, { taps: ['nope'] })).toThrow(/tap 'nope'/);
    expect(() => model.predict(tf.ones([2, 3]))).toThrow(/input 'input': expected shape \[batch, 4\]/);
    x.dispose();
    model.dispose();
  });

  it('an unknown op fails at compile time naming node and op', () => {
    registerOp({ op: 'mystery', arity: 1, inferShape: (ctx) => ctx.inputs[0], channels: { kind: 'elementwise' } });
    const b = new GraphBuilder('u', [2]);
    b.add('mystery', ['input'], {}, {}, 'odd');
    expect(() => compile(b.build())).toThrow(/node 'odd': no kernel for op 'mystery'/);
  });

  it('a plugin kernel registered by op name runs with its params', () => {
    registerOp({
      op: 'testScale',
      arity: 1,
      params: { scale: { kind: 'other', shape: (ctx) => [ctx.inputs[0].at(-1) as number] } },
      inferShape: (ctx) => ctx.inputs[0],
      channels: { kind: 'elementwise', params: [{ role: 'scale', axis: 0 }] },
    });
    registerKernel('testScale', (_node, [x], p) => tf.mul(x, p.scale));
    const b = new GraphBuilder('s', [3]);
    b.add('testScale', ['input'], {}, { scale: [[3], new Float32Array([1, 0, -2])] }, 'sc');
    const x = tf.tensor2d([[1, 2, 3]]);
    expect(run(b.build(), x).output).toEqual([1, 0, -6]);
    x.dispose();
  });

  it('kernel errors are rethrown naming the node', () => {
    registerOp({ op: 'broken', arity: 1, inferShape: (ctx) => ctx.inputs[0], channels: { kind: 'elementwise' } });
    registerKernel('broken', () => {
      throw new Error('boom');
    });
    const b = new GraphBuilder('u', [2]);
    b.add('broken', ['input'], {}, {}, 'bad');
    const model = compile(b.build());
    const x = tf.ones([1, 2]);
    expect(() => model.predict(x)).toThrow("node 'bad' (broken): boom");
    x.dispose();
    model.dispose();
  });

  it('frozen params give non-trainable variables; state follows refreshAnnotations', () => {
    const g = small();
    g.params.get('fc1/kernel')!.frozen = true;
    const model = compile(g);
    expect(model.variables.get('fc1/kernel')!.trainable).toBe(false);
    expect(model.variables.get('fc1/bias')!.trainable).toBe(true);
    g.params.get('fc1/kernel')!.frozen = false;
    model.refreshAnnotations();
    expect(model.variables.get('fc1/kernel')!.trainable).toBe(true);
    model.dispose();
  });

  it('masks and codebooks are imposed on the variables, also when changed in place', () => {
    const g = small();
    const k = g.params.get('fc1/kernel')!;
    const mask = new Uint8Array(20).fill(1);
    mask[3] = 0;
    setMask(k, mask);
    const model = compile(g);
    const v = () => model.variables.get('fc1/kernel')!.dataSync();
    expect(v()[3]).toBe(0);
    // write a non-zero into the variable, then edit the mask in place
    model.variables.get('fc1/kernel')!.assign(tf.onesLike(model.variables.get('fc1/kernel')!));
    mask[5] = 0;
    expect(model.refreshAnnotations()).toEqual(['fc1/kernel']);
    expect(v()[3]).toBe(0);
    expect(v()[5]).toBe(0);
    expect(v()[4]).toBe(1);
    expect(model.refreshAnnotations()).toEqual([]);

    const w = g.params.get('fc2/kernel')!;
    setCodebook(w, { centroids: new Float32Array([-0.5, 0.5]), indices: Uint16Array.from({ length: 15 }, (_, i) => i % 2), bits: 1 });
    expect(model.refreshAnnotations()).toEqual(['fc2/kernel']);
    expect(Array.from(model.variables.get('fc2/kernel')!.dataSync().slice(0, 3))).toEqual([-0.5, 0.5, -0.5]);
    model.dispose();
  });

  it('syncToGraph writes values back and snaps quantized params to their grid', () => {
    const g = small();
    const b = g.params.get('fc1/bias')!;
    setQuant(b, { bits: 8, signed: true, scale: new Float32Array([0.1]), zeroPoint: new Int32Array([0]) });
    const model = compile(g);
    model.variables.get('fc1/bias')!.assign(tf.tensor1d([0.123, -0.26, 0, 0.04, 0.5]));
    model.variables.get('fc2/bias')!.assign(tf.tensor1d([1, 2, 3]));
    model.syncToGraph();
    expect(Array.from(g.params.get('fc2/bias')!.data)).toEqual([1, 2, 3]);
    expect(Array.from(b.data).map((x) => +x.toFixed(6))).toEqual([0.1, -0.3, 0, 0, 0.5]);
    // the compiled model computes with Param.data
    expect(Array.from(model.variables.get('fc1/bias')!.dataSync())).toEqual(Array.from(b.data));
    model.dispose();
  });

  it('syncFromGraph reloads values and follows graph surgery', () => {
    const g = small();
    const model = compile(g);
    g.params.get('fc2/bias')!.data.set([7, 8, 9]);
    model.syncFromGraph();
    expect(Array.from(model.variables.get('fc2/bias')!.dataSync())).toEqual([7, 8, 9]);
    // replace fc2 by a narrower layer
    g.params.set('fc2/kernel', { name: 'fc2/kernel', shape: [5, 2], data: new Float32Array(10) });
    g.params.set('fc2/bias', { name: 'fc2/bias', shape: [2], data: new Float32Array([1, 1]) });
    model.syncFromGraph();
    const x = tf.ones([1, 4]);
    const r = model.predict(x);
    expect(r.output.shape).toEqual([1, 2]);
    expect(model.outputShape).toEqual([2]);
    tf.dispose([x, r.output, r.logits!]);
    model.dispose();
    expect(() => model.predict(x)).toThrow(/disposed/);
  });

  it('dispose frees every tensor it created', () => {
    const before = tf.memory().numTensors;
    const g = small();
    setMask(g.params.get('fc1/kernel')!, new Uint8Array(20).fill(1));
    setCodebook(g.params.get('fc2/kernel')!, { centroids: new Float32Array([0, 1]), indices: new Uint16Array(15), bits: 1 });
    const model = compile(g);
    model.syncToGraph();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
