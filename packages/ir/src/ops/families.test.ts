/** Shapes, MACs and reference values of the op families beyond the builtin set (issue 21's Keras-application layers). */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../builder.js';
import { cost } from '../cost.js';
import { inferShapes } from '../graph.js';
import { runReference } from '../testing/reference.js';
import type { Attrs, Graph } from '../types.js';

type Params = Record<string, [number[], Float32Array?]>;
const f32 = (...v: number[]) => Float32Array.from(v);
const iota = (n: number, from = 1) => Float32Array.from({ length: n }, (_, i) => i + from);

/** input `shape` -> one op named 'op'. */
function one(shape: number[], op: string, attrs: Attrs, params: Params = {}): Graph {
  const b = new GraphBuilder('t', shape);
  b.add(op, ['input'], attrs, params, 'op');
  return b.build();
}

const run = (g: Graph, x: Float32Array | Float32Array[], batch = 1) => Array.from(runReference(g, x, batch));
const shape = (g: Graph) => inferShapes(g).get('op');
const macs = (g: Graph) => cost(g).layers.find((l) => l.node === 'op')?.macs;
const close = (got: number[], want: number[], digits = 6) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));
};

describe('conv1d', () => {
  const ones = (k: number): Params => ({ kernel: [[k, 1, 1], new Float32Array(k).fill(1)] });
  it("pads 'same' (the smaller half before), 'valid' and 'causal' (all before)", () => {
    expect(run(one([5, 1], 'conv1d', { padding: 'valid' }, ones(3)), iota(5))).toEqual([6, 9, 12]);
    expect(run(one([5, 1], 'conv1d', { padding: 'same' }, ones(3)), iota(5))).toEqual([3, 6, 9, 12, 9]);
    expect(run(one([5, 1], 'conv1d', { padding: 'causal' }, ones(3)), iota(5))).toEqual([1, 3, 6, 9, 12]);
    expect(run(one([5, 1], 'conv1d', { padding: 'same', strides: 2 }, ones(3)), iota(5))).toEqual([3, 9, 9]);
    expect(run(one([5, 1], 'conv1d', { dilation: 2 }, ones(3)), iota(5))).toEqual([9]);
    expect(run(one([5, 1], 'conv1d', { padding: 'causal', dilation: 2 }, ones(2)), iota(5))).toEqual([1, 2, 4, 6, 8]);
  });

  it('groups: each output reads its own group of inputs; MACs count one group per output', () => {
    const g = one([1, 4], 'conv1d', { groups: 2 }, { kernel: [[1, 2, 2], f32(1, 10, 100, 1000)], bias: [[2], f32(0.5, -0.5)] });
    expect(run(g, f32(1, 2, 3, 4))).toEqual([1 + 2 * 100 + 0.5, 3 * 10 + 4 * 1000 - 0.5]);
    expect(macs(g)).toBe(4);
    expect(() => one([1, 4], 'conv1d', { groups: 3 }, { kernel: [[1, 2, 3]] })).toThrow(
      /groups = 3 must be a positive integer dividing the 4 input and 3 output channels/,
    );
  });

  it('shapes and MACs', () => {
    const g = one([9, 3], 'conv1d', { strides: 2, padding: 'same' }, { kernel: [[3, 3, 4]] });
    expect(shape(g)).toEqual([null, 5, 4]);
    expect(macs(g)).toBe(5 * 3 * 3 * 4);
    expect(() => one([9, 3], 'conv1d', { padding: 'full' }, { kernel: [[3, 3, 4]] })).toThrow(/padding must be 'same', 'valid' or 'causal'/);
  });
});

describe('conv2d groups and conv2dTranspose', () => {
  it('a grouped conv2d reads each group of inputs and counts its MACs', () => {
    // 1x1, 4 inputs in 2 groups, 4 outputs: out f reads inputs of group floor(f / 2).
    const k = Float32Array.from({ length: 8 }, (_, i) => i + 1); // [ci][f] for ci in 0..1
    const g = one([1, 1, 4], 'conv2d', { groups: 2 }, { kernel: [[1, 1, 2, 4], k] });
    const x = f32(1, 2, 3, 4);
    // f = 0, 1 from x0, x1; f = 2, 3 from x2, x3; kernel[ci][f] = k[ci * 4 + f].
    expect(run(g, x)).toEqual([1 * 1 + 2 * 5, 1 * 2 + 2 * 6, 3 * 3 + 4 * 7, 3 * 4 + 4 * 8]);
    expect(macs(g)).toBe(8);
  });

  it("conv2dTranspose: stride 2 'valid' with a 2x2 kernel scatters each input into its own block", () => {
    const g = one([2, 2, 1], 'conv2dTranspose', { strides: [2, 2], padding: 'valid' }, { kernel: [[2, 2, 1, 1], f32(1, 2, 3, 4)] });
    expect(shape(g)).toEqual([null, 4, 4, 1]);
    expect(run(g, f32(1, 10, 100, 1000))).toEqual([1, 2, 10, 20, 3, 4, 30, 40, 100, 200, 1000, 2000, 300, 400, 3000, 4000]);
    expect(macs(g)).toBe(2 * 2 * 2 * 2);
  });

  it("conv2dTranspose 'same' and 'valid' output sizes (Keras' deconv_output_length)", () => {
    expect(shape(one([3, 5, 2], 'conv2dTranspose', { strides: [2, 1], padding: 'same' }, { kernel: [[3, 3, 4, 2]] }))).toEqual([null, 6, 5, 4]);
    expect(shape(one([3, 5, 2], 'conv2dTranspose', { strides: [2, 1], padding: 'valid' }, { kernel: [[3, 3, 4, 2]] }))).toEqual([null, 7, 7, 4]);
    // 3x3 kernel, stride 1, valid: a full correlation; out[1][1] of a 1x1 input is kernel centre.
    const g = one([1, 1, 1], 'conv2dTranspose', {}, { kernel: [[3, 3, 1, 1], iota(9)] });
    expect(run(g, f32(2))).toEqual(Array.from(iota(9), (v) => 2 * v));
  });
});

describe('pooling', () => {
  it('1-D max and average pooling', () => {
    expect(run(one([5, 1], 'maxPool1d', { poolSize: 2 }), f32(1, 3, 2, 5, 4))).toEqual([3, 5]);
    expect(run(one([5, 1], 'avgPool1d', { poolSize: 2, strides: 2, padding: 'same' }), f32(1, 3, 2, 5, 4))).toEqual([2, 3.5, 4]);
  });

  it('global max and average pooling, keepDims', () => {
    const x = f32(1, -1, 5, -2, 3, 0);
    expect(run(one([3, 2], 'globalMaxPool1d', {}), x)).toEqual([5, 0]);
    expect(run(one([3, 2], 'globalAvgPool1d', {}), x)).toEqual([3, -1]);
    expect(shape(one([3, 2], 'globalAvgPool1d', { keepDims: true }))).toEqual([null, 1, 2]);
    expect(run(one([1, 3, 2], 'globalMaxPool2d', { keepDims: true }), x)).toEqual([5, 0]);
    expect(shape(one([1, 3, 2], 'globalMaxPool2d', { keepDims: true }))).toEqual([null, 1, 1, 2]);
  });
});

describe('reshaping', () => {
  it('upSampling2d repeats rows and columns; only nearest', () => {
    expect(run(one([1, 2, 1], 'upSampling2d', { size: [2, 1] }), f32(1, 2))).toEqual([1, 2, 1, 2]);
    expect(run(one([1, 2, 1], 'upSampling2d', { size: 2 }), f32(1, 2))).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
    expect(() => one([1, 2, 1], 'upSampling2d', { interpolation: 'bilinear' })).toThrow(/interpolation 'bilinear' is not supported/);
  });

  it('cropping2d removes rows and columns from each side', () => {
    const g = one([3, 3, 1], 'cropping2d', {
      cropping: [
        [1, 0],
        [0, 1],
      ],
    });
    expect(shape(g)).toEqual([null, 2, 2, 1]);
    expect(run(g, iota(9))).toEqual([4, 5, 7, 8]);
    expect(() => one([3, 3, 1], 'cropping2d', { cropping: 2 })).toThrow(/leaves nothing/);
  });

  it('permute moves axes (numbered from 1, as Keras); repeatVector repeats a vector', () => {
    const g = one([2, 3], 'permute', { dims: [2, 1] });
    expect(shape(g)).toEqual([null, 3, 2]);
    expect(run(g, iota(6))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(() => one([2, 3], 'permute', { dims: [1, 1] })).toThrow(/must order the 2 non-batch axes/);
    expect(run(one([2], 'repeatVector', { n: 3 }), f32(1, 2))).toEqual([1, 2, 1, 2, 1, 2]);
  });
});

describe('merges', () => {
  /** Two inputs: the graph input and a 1x1 depthwise of it to make a second value of another shape. */
  function two(op: string, a: number[], gate: number[]): Graph {
    const b = new GraphBuilder('m', a);
    b.add('globalAvgPool2d', ['input'], gate.length === 3 ? { keepDims: true } : {}, {}, 'gap');
    b.add(op, ['input', 'gap'], {}, {}, 'op');
    return b.build();
  }

  it('multiply broadcasts a squeeze-and-excitation gate [N, 1, 1, C] over [N, H, W, C]', () => {
    const g = two('multiply', [1, 2, 2], [1, 1, 2]);
    expect(shape(g)).toEqual([null, 1, 2, 2]);
    // gap = [(1 + 3) / 2, (2 + 4) / 2] = [2, 3]
    expect(run(g, f32(1, 2, 3, 4))).toEqual([2, 6, 6, 12]);
  });

  it('subtract, average, maximum and minimum', () => {
    const x = f32(1, 2, 3, 4);
    expect(run(two('subtract', [1, 2, 2], [1, 1, 2]), x)).toEqual([-1, -1, 1, 1]);
    expect(run(two('average', [1, 2, 2], [1, 1, 2]), x)).toEqual([1.5, 2.5, 2.5, 3.5]);
    expect(run(two('maximum', [1, 2, 2], [1, 1, 2]), x)).toEqual([2, 3, 3, 4]);
    expect(run(two('minimum', [1, 2, 2], [1, 1, 2]), x)).toEqual([1, 2, 2, 3]);
  });

  it('inputs must broadcast', () => {
    expect(() => two('multiply', [1, 2, 2], [2])).toThrow(/inputs have different ranks/);
    const b = new GraphBuilder('m', [4]);
    b.dense(3, { name: 'd' });
    b.add('multiply', ['input', 'd'], {}, {}, 'op');
    expect(() => b.build()).toThrow(/inputs do not broadcast: \[null, 4\] vs \[null, 3\]/);
  });
});

describe('normalization and parametric activations', () => {
  it('layerNorm normalizes each position over its channels', () => {
    const g = one([2, 3], 'layerNorm', { epsilon: 0 }, { gamma: [[3], f32(1, 2, 1)], beta: [[3], f32(0, 0, 1)] });
    const s = Math.sqrt(2 / 3);
    close(run(g, f32(1, 2, 3, 0, 0, 6)), [-1 / s, 0, 1 + 1 / s, -2 / Math.sqrt(8), -2 * (2 / Math.sqrt(8)), 1 + 4 / Math.sqrt(8)]);
  });

  it('rescaling: x * scale + offset, numbers or one per channel', () => {
    expect(run(one([2], 'rescaling', { scale: 2, offset: 1 }), f32(1, -1))).toEqual([3, -1]);
    expect(run(one([2], 'rescaling', { scale: [1, 10], offset: [0, 1] }), f32(1, 2))).toEqual([1, 21]);
    expect(() => one([2], 'rescaling', { scale: [1, 2, 3] })).toThrow(/scale must be a finite number or one per channel \(2\)/);
  });

  it('prelu: alpha per position and channel, shared along sharedAxes', () => {
    const g = one([2, 2], 'prelu', { sharedAxes: [1] }, { alpha: [[1, 2], f32(0.5, 2)] });
    expect(run(g, f32(-2, -2, 3, -1))).toEqual([-1, -4, 3, -2]);
    expect(() => one([2, 2], 'prelu', { sharedAxes: [1] }, { alpha: [[2, 2]] })).toThrow(/expected \[1, 2\]/);
  });
});

describe('embedding and notEqual', () => {
  it('embedding gathers rows by id; notEqual masks a padding id', () => {
    const g = one([3], 'embedding', {}, { embeddings: [[4, 2], iota(8)] });
    expect(shape(g)).toEqual([null, 3, 2]);
    expect(run(g, f32(0, 3, 1))).toEqual([1, 2, 7, 8, 3, 4]);
    expect(() => run(g, f32(0, 4, 1))).toThrow(/id 4 is outside the vocabulary 0..3/);
    expect(run(one([3], 'notEqual', { value: 0 }), f32(0, 3, 1))).toEqual([0, 1, 1]);
    expect(macs(g)).toBe(0);
  });
});

describe('recurrent layers (Keras semantics)', () => {
  // One unit, one feature: h_t = tanh(w x_t + u h_{t-1} + b).
  const rnn: Params = { kernel: [[1, 1], f32(0.5)], recurrentKernel: [[1, 1], f32(-1)], bias: [[1], f32(0.1)] };
  const h = (steps: number[]) => {
    const out: number[] = [];
    for (const x of steps) out.push(Math.tanh(0.5 * x - (out.at(-1) ?? 0) + 0.1));
    return out;
  };

  it('simpleRnn: the last state, or every step with returnSequences', () => {
    close(run(one([3, 1], 'simpleRnn', {}, rnn), f32(1, 2, 3)), [h([1, 2, 3])[2]]);
    close(run(one([3, 1], 'simpleRnn', { returnSequences: true }, rnn), f32(1, 2, 3)), h([1, 2, 3]));
  });

  it('goBackwards reads from the end; sequences come in reading order unless alignOutputs', () => {
    const back = h([3, 2, 1]);
    close(run(one([3, 1], 'simpleRnn', { goBackwards: true }, rnn), f32(1, 2, 3)), [back[2]]);
    close(run(one([3, 1], 'simpleRnn', { goBackwards: true, returnSequences: true }, rnn), f32(1, 2, 3)), back);
    close(run(one([3, 1], 'simpleRnn', { goBackwards: true, returnSequences: true, alignOutputs: true }, rnn), f32(1, 2, 3)), [...back].reverse());
  });

  it('a mask skips steps: the state carries over, the output repeats (or is 0 with zeroMaskedOutputs)', () => {
    const b = new GraphBuilder('m', [3, 1]);
    b.add('input', [], { shape: [3] }, {}, 'mask');
    b.graph.inputs.push('mask');
    b.add('simpleRnn', ['input', 'mask'], { returnSequences: true }, rnn, 'op');
    const g = b.build();
    const kept = h([1, 3]);
    close(run(g, [f32(1, 2, 3), f32(1, 0, 1)]), [kept[0], kept[0], kept[1]]);
    g.nodes[2].attrs.zeroMaskedOutputs = true;
    close(run(g, [f32(1, 2, 3), f32(1, 0, 1)]), [kept[0], 0, kept[1]]);
  });

  it('lstm gates [i, f, c, o]: one step from zero state', () => {
    // kernel columns [i, f, c, o] = [1, 2, 3, 4] x, no recurrence in one step from 0.
    const g = one([1, 1], 'lstm', {}, { kernel: [[1, 4], f32(1, 2, 3, 4)], recurrentKernel: [[1, 4], f32(9, 9, 9, 9)], bias: [[4], f32(0, 0, 0, 0)] });
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const c = sig(0.5) * Math.tanh(1.5);
    close(run(g, f32(0.5)), [sig(2) * Math.tanh(c)]);
    expect(macs(g)).toBe(1 * (1 + 1) * 4);
  });

  it('gru: reset before (Keras 2) or after (Keras 3, [2, 3u] bias) the recurrent product', () => {
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    // Two steps with one unit: z, r, h columns.
    const params = (resetAfter: boolean): Params => ({
      kernel: [[1, 3], f32(0.3, -0.2, 0.5)],
      recurrentKernel: [[1, 3], f32(0.4, 0.6, -0.7)],
      bias: resetAfter ? [[2, 3], f32(0.1, 0.2, 0.3, -0.1, 0.05, 0.2)] : [[3], f32(0.1, 0.2, 0.3)],
    });
    const step = (x: number, hp: number, after: boolean) => {
      const z = sig(0.3 * x + 0.1 + 0.4 * hp + (after ? -0.1 : 0));
      const r = sig(-0.2 * x + 0.2 + 0.6 * hp + (after ? 0.05 : 0));
      const cand = after ? Math.tanh(0.5 * x + 0.3 + r * (-0.7 * hp + 0.2)) : Math.tanh(0.5 * x + 0.3 + -0.7 * (r * hp));
      return z * hp + (1 - z) * cand;
    };
    for (const after of [false, true]) {
      const g = one([2, 1], 'gru', after ? { resetAfter: true } : {}, params(after));
      close(run(g, f32(1, -2)), [step(-2, step(1, 0, after), after)]);
    }
    expect(() => one([2, 1], 'gru', { resetAfter: true }, params(false))).toThrow(/expected \[2, 3\]/);
  });

  it('shapes and errors', () => {
    expect(shape(one([5, 3], 'lstm', { returnSequences: true }, { kernel: [[3, 8]], recurrentKernel: [[2, 8]] }))).toEqual([null, 5, 2]);
    expect(() => one([5, 3], 'lstm', { activation: 'softmax' }, { kernel: [[3, 8]], recurrentKernel: [[2, 8]] })).toThrow(
      /activation 'softmax' is not an elementwise activation/,
    );
    expect(() => one([5, 3], 'simpleRnn', {}, { kernel: [[3, 8]], recurrentKernel: [[2, 8]] })).toThrow(/expected \[3, 2\]/);
  });
});
