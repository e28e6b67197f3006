import { describe, expect, it } from 'vitest';
import { GraphBuilder, registerOp, runReference, referenceValues, type Attrs } from '../index.js';

const iota = (n: number, from = 1) => Float32Array.from({ length: n }, (_, i) => i + from);
const close = (got: ArrayLike<number>, want: number[], digits = 5) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));
};

/** input [h, w, c] -> one op with explicit params (role -> [shape, data]). */
function one(inputShape: number[], op: string, attrs: Attrs, params: Record<string, [number[], Float32Array?]> = {}) {
  const b = new GraphBuilder('t', inputShape);
  b.add(op, ['input'], attrs, params, 'op');
  return b.build();
}

describe('windowed ops follow TF semantics', () => {
  it("conv2d 'same', stride 2 on 4x4: pad 0 before, 1 after", () => {
    // x = 1..16 in a 4x4 grid, 3x3 kernel of ones
    const g = one([4, 4, 1], 'conv2d', { padding: 'same', strides: [2, 2] }, { kernel: [[3, 3, 1, 1], new Float32Array(9).fill(1)] });
    close(runReference(g, iota(16), 1), [1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 3 + 4 + 7 + 8 + 11 + 12, 9 + 10 + 11 + 13 + 14 + 15, 11 + 12 + 15 + 16]);
  });
  it("conv2d 'same' with an even kernel pads after", () => {
    const g = one([3, 3, 1], 'conv2d', { padding: 'same' }, { kernel: [[2, 2, 1, 1], new Float32Array(4).fill(1)] });
    // out[i][j] = x[i][j] + x[i][j+1] + x[i+1][j] + x[i+1][j+1], out of range = 0
    close(runReference(g, iota(9), 1), [12, 16, 9, 24, 28, 15, 15, 17, 9]);
  });
  it('conv2d with dilation, channels, bias and activation', () => {
    const g = one([5, 5, 1], 'conv2d', { dilation: 2 }, { kernel: [[3, 3, 1, 1], new Float32Array(9).fill(1)] });
    close(runReference(g, iota(25), 1), [1 + 3 + 5 + 11 + 13 + 15 + 21 + 23 + 25]);
    // 1x1 conv: out[f] = sum_c x[c] * k[c][f] + b[f], then relu
    const h = one(
      [1, 1, 2],
      'conv2d',
      { activation: 'relu' },
      { kernel: [[1, 1, 2, 3], Float32Array.from([1, 2, 3, -4, -5, -6])], bias: [[3], Float32Array.from([0.5, 0, 100])] },
    );
    close(runReference(h, Float32Array.from([1, 2]), 1), [0 /* relu(1 - 8 + 0.5) */, 0 /* relu(2 - 10) */, 3 - 12 + 100]);
  });
  it('depthwiseConv2d with multiplier 2: output channel c*2+j uses input channel c', () => {
    // 1x1 kernel [1, 1, 2, 2] = [[10, 20], [30, 40]]
    const g = one(
      [1, 2, 2],
      'depthwiseConv2d',
      { depthMultiplier: 2 },
      { kernel: [[1, 1, 2, 2], Float32Array.from([10, 20, 30, 40])], bias: [[4], Float32Array.from([1, 2, 3, 4])] },
    );
    close(runReference(g, Float32Array.from([1, 2, 3, 4]), 1), [11, 22, 63, 84, 31, 62, 123, 164]);
  });
  it("pools: 'same' max ignores padding, 'same' average divides by real taps", () => {
    const max = one([3, 3, 1], 'maxPool2d', { poolSize: [2, 2], strides: [2, 2], padding: 'same' });
    close(runReference(max, iota(9, -4), 1), [0, 1, 3, 4]); // values -4..4; windows are clipped at the bottom/right
    const avg = one([3, 3, 1], 'avgPool2d', { poolSize: [2, 2], strides: [2, 2], padding: 'same' });
    close(runReference(avg, iota(9), 1), [(1 + 2 + 4 + 5) / 4, (3 + 6) / 2, (7 + 8) / 2, 9]);
    const valid = one([4, 4, 1], 'maxPool2d', {});
    close(runReference(valid, iota(16), 1), [6, 8, 14, 16]);
  });
  it('globalAvgPool2d averages each channel, batch by batch', () => {
    const g = one([2, 2, 2], 'globalAvgPool2d', {});
    close(runReference(g, iota(16), 2), [4, 5, 12, 13]);
  });
});

describe('other builtin ops', () => {
  it('dense on rank 3 applies to every position', () => {
    const g = one([2, 2], 'dense', {}, { kernel: [[2, 1], Float32Array.from([1, 10])], bias: [[1], Float32Array.from([0.5])] });
    close(runReference(g, Float32Array.from([1, 2, 3, 4]), 1), [21.5, 43.5]);
  });
  it('batchNorm uses moving statistics and epsilon', () => {
    const g = one(
      [2],
      'batchNorm',
      { epsilon: 0.01 },
      {
        gamma: [[2], Float32Array.from([2, 1])],
        beta: [[2], Float32Array.from([1, 0])],
        movingMean: [[2], Float32Array.from([1, -1])],
        movingVariance: [[2], Float32Array.from([3.99, 0.99])],
      },
    );
    close(runReference(g, Float32Array.from([3, 1]), 1), [2 * (2 / 2) + 1, 2 / 1]);
  });
  it('zeroPad2d with asymmetric padding places the input at (top, left)', () => {
    const g = one([1, 2, 1], 'zeroPad2d', {
      padding: [
        [1, 0],
        [0, 2],
      ],
    });
    close(runReference(g, Float32Array.from([7, 8]), 1), [0, 0, 0, 0, 7, 8, 0, 0]);
  });
  it('concat, add, flatten, reshape, dropout', () => {
    const b = new GraphBuilder('t', [2]);
    b.add('dropout', ['input'], { rate: 0.5 }, {}, 'drop');
    b.concat(['input', 'drop'], { name: 'cat' });
    b.addValues(['cat', 'cat'], { name: 'sum' });
    b.add('reshape', ['sum'], { targetShape: [2, 2] }, {}, 'r');
    b.flatten({ name: 'f' });
    close(runReference(b.build(), Float32Array.from([1, 2, 3, 4]), 2), [2, 4, 2, 4, 6, 8, 6, 8]);
  });
  it('activations at known points', () => {
    const at = (fn: string, x: number[], attrs: Attrs = {}) => runReference(one([x.length], 'activation', { fn, ...attrs }), Float32Array.from(x), 1);
    close(at('relu', [-1, 2]), [0, 2]);
    close(at('relu6', [-1, 7, 3]), [0, 6, 3]);
    close(at('sigmoid', [0]), [0.5]);
    close(at('tanh', [1]), [Math.tanh(1)]);
    close(at('softmax', [1, 2, 3]), [0.09003057, 0.24472847, 0.66524096]);
    close(at('elu', [-1, 1]), [Math.expm1(-1), 1]);
    close(at('elu', [-1], { alpha: 2 }), [2 * Math.expm1(-1)]);
    close(at('leakyRelu', [-1, 1]), [-0.3, 1]);
    close(at('swish', [1]), [1 / (1 + Math.exp(-1))]);
    close(at('hardSigmoid', [-3, 0, 1, 3]), [0, 0.5, 0.7, 1]);
    close(at('softplus', [0, 100]), [Math.LN2, 100]);
    close(at('selu', [-1, 1]), [-1.1113307378125625, 1.0507009873554805]);
    close(at('gelu', [1, -0.5, 4]), [0.8413447460685429, -0.15426876936299344, 3.999873318740984], 6);
    close(at('linear', [-3]), [-3]);
  });
});

describe('plugin ops', () => {
  it('run through OpDef.reference, and ops without one are reported', () => {
    registerOp({
      op: 'refTestScale',
      arity: 1,
      params: { scale: { kind: 'other', shape: (ctx) => [ctx.inputs[0].at(-1) as number] } },
      inferShape: (ctx) => ctx.inputs[0],
      channels: { kind: 'elementwise', params: [{ role: 'scale', axis: 0 }] },
      reference: ([x], ctx) => {
        const s = ctx.param('scale')!.data;
        return { shape: x.shape, data: x.data.map((v, i) => v * s[i % s.length]) };
      },
    });
    const g = one([2], 'refTestScale', {}, { scale: [[2], Float32Array.from([10, -1])] });
    close(runReference(g, Float32Array.from([1, 2, 3, 4]), 2), [10, -2, 30, -4]);
    registerOp({ op: 'refTestOpaque', arity: 1, inferShape: (ctx) => ctx.inputs[0], channels: { kind: 'opaque' } });
    expect(() => runReference(one([2], 'refTestOpaque', {}), new Float32Array(2), 1)).toThrow(
      /node 'op': reference: op 'refTestOpaque' has no reference implementation/,
    );
  });
  it('checks the input size and exposes every value', () => {
    const g = one([2], 'activation', { fn: 'relu' });
    expect(() => runReference(g, new Float32Array(3), 2)).toThrow(/node 'input': reference: input has 3 values, shape \[2, 2\] needs 4/);
    const values = referenceValues(g, Float32Array.from([-1, 1]), 1);
    expect(values.get('input')!.shape).toEqual([1, 2]);
    expect([...values.get('op')!.data]).toEqual([0, 1]);
  });
});
