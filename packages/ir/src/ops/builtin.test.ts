import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cost, createGraph, inferShapes, param, windowOut, zeroPadding, type Attrs, type Graph, type Shape } from '../index.js';

/** A graph `input(s) -> op`, with params given as role -> shape. */
function single(op: string, inputShapes: number[][], attrs: Attrs = {}, params: Record<string, number[]> = {}): Graph {
  const g = createGraph('t');
  inputShapes.forEach((shape, i) => {
    g.nodes.push({ name: `in${i}`, op: 'input', inputs: [], attrs: { shape }, params: {} });
    g.inputs.push(`in${i}`);
  });
  const bound: Record<string, string> = {};
  for (const [role, shape] of Object.entries(params)) {
    g.params.set(`p/${role}`, param(`p/${role}`, shape));
    bound[role] = `p/${role}`;
  }
  g.nodes.push({ name: 'op', op, inputs: inputShapes.map((_, i) => `in${i}`), attrs, params: bound });
  g.outputs.push('op');
  return g;
}

const shapeOf = (...args: Parameters<typeof single>): Shape => inferShapes(single(...args)).get('op') as Shape;
const macsOf = (...args: Parameters<typeof single>): number => cost(single(...args)).totals.macs;

describe('dense', () => {
  it('maps the last axis, rank 2 and rank 3', () => {
    expect(shapeOf('dense', [[5]], {}, { kernel: [5, 3], bias: [3] })).toEqual([null, 3]);
    expect(shapeOf('dense', [[7, 5]], {}, { kernel: [5, 3] })).toEqual([null, 7, 3]);
  });
  it('counts MACs per position', () => {
    expect(macsOf('dense', [[5]], {}, { kernel: [5, 3] })).toBe(15);
    expect(macsOf('dense', [[7, 5]], {}, { kernel: [5, 3] })).toBe(7 * 15);
  });
  it('rejects a kernel of the wrong rank and an unknown activation', () => {
    expect(() => shapeOf('dense', [[5]], {}, { kernel: [5] })).toThrow(/node 'op': param 'p\/kernel' \(role 'kernel'\) must be rank 2, got shape \[5\]/);
    expect(() => shapeOf('dense', [[5]], { activation: 'nope' }, { kernel: [5, 3] })).toThrow(/unknown activation 'nope'/);
  });
});

describe('conv2d (TF output sizes)', () => {
  const conv = (hw: [number, number], k: [number, number], attrs: Attrs) => shapeOf('conv2d', [[...hw, 3]], attrs, { kernel: [...k, 3, 8] });
  it.each([
    // [input, kernel, attrs, expected HxW] computed by hand: valid = floor((n - eff) / s) + 1, same = ceil(n / s)
    [[10, 10], [3, 3], { padding: 'valid' }, [8, 8]],
    [[10, 10], [3, 3], { padding: 'same' }, [10, 10]],
    [[10, 10], [3, 3], { padding: 'valid', strides: 2 }, [4, 4]],
    [[10, 10], [3, 3], { padding: 'same', strides: [2, 2] }, [5, 5]],
    [[11, 11], [3, 3], { padding: 'same', strides: 2 }, [6, 6]],
    [[11, 13], [3, 5], { padding: 'valid', strides: [2, 3] }, [5, 3]],
    [[10, 10], [3, 3], { padding: 'valid', dilation: 2 }, [6, 6]],
    [[10, 10], [3, 3], { padding: 'same', dilation: 2 }, [10, 10]],
    [[9, 9], [2, 2], {}, [8, 8]], // padding defaults to valid
  ] as const)('%j with kernel %j and %j gives %j', (hw, k, attrs, want) => {
    expect(conv(hw as [number, number], k as [number, number], attrs)).toEqual([null, ...want, 8]);
  });
  it('counts MACs as Ho*Wo*Kh*Kw*Cin*Cout', () => {
    expect(macsOf('conv2d', [[10, 10, 3]], { padding: 'valid' }, { kernel: [3, 3, 3, 8] })).toBe(8 * 8 * 9 * 3 * 8);
  });
  it('rejects windows that do not fit, bad padding, bad strides', () => {
    expect(() => conv([4, 4], [5, 5], { padding: 'valid' })).toThrow(/node 'op': window 5x5 does not fit the 4x4 input/);
    expect(() => conv([4, 4], [3, 3], { padding: 'full' })).toThrow(/padding must be 'same' or 'valid'/);
    expect(() => conv([4, 4], [3, 3], { strides: 0 })).toThrow(/strides must be positive integers/);
    expect(() => shapeOf('conv2d', [[5, 3]], {}, { kernel: [1, 1, 3, 2] })).toThrow(/expects a rank-4 input/);
  });
  it('windowOut matches the TF formulas for all small sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        (n, k, s, d) => {
          const eff = (k - 1) * d + 1;
          expect(windowOut(n, k, s, d, 'same')).toBe(Math.floor((n - 1) / s) + 1);
          if (n >= eff) expect(windowOut(n, k, s, d, 'valid')).toBe(Math.floor((n - eff) / s) + 1);
          else expect(windowOut(n, k, s, d, 'valid')).toBeLessThan(1);
        },
      ),
    );
  });
});

describe('depthwiseConv2d', () => {
  it('multiplies channels by depthMultiplier', () => {
    const attrs = { padding: 'same', depthMultiplier: 2 };
    expect(shapeOf('depthwiseConv2d', [[8, 8, 3]], attrs, { kernel: [3, 3, 3, 2], bias: [6] })).toEqual([null, 8, 8, 6]);
    expect(macsOf('depthwiseConv2d', [[8, 8, 3]], attrs, { kernel: [3, 3, 3, 2] })).toBe(8 * 8 * 9 * 3 * 2);
    expect(shapeOf('depthwiseConv2d', [[8, 8, 3]], { strides: 2 }, { kernel: [3, 3, 3, 1] })).toEqual([null, 3, 3, 3]);
  });
  it('rejects a kernel whose multiplier disagrees with the attribute, and a bias of the wrong size', () => {
    expect(() => shapeOf('depthwiseConv2d', [[8, 8, 3]], { depthMultiplier: 2 }, { kernel: [3, 3, 3, 1] })).toThrow(
      /has shape \[3, 3, 3, 1\], expected \[3, 3, 3, 2\]/,
    );
    expect(() => shapeOf('depthwiseConv2d', [[8, 8, 3]], { depthMultiplier: 2 }, { kernel: [3, 3, 3, 2], bias: [3] })).toThrow(
      /role 'bias'\) has shape \[3\], expected \[6\]/,
    );
  });
});

describe('pooling', () => {
  it.each([
    ['maxPool2d', [28, 28], {}, [14, 14]], // pool 2, strides default to the pool size
    ['maxPool2d', [7, 7], { poolSize: 3, strides: 2 }, [3, 3]],
    ['maxPool2d', [7, 7], { poolSize: 3, strides: 2, padding: 'same' }, [4, 4]],
    ['avgPool2d', [5, 6], { poolSize: [2, 3], padding: 'same' }, [3, 2]],
    ['avgPool2d', [5, 6], { poolSize: [2, 3] }, [2, 2]],
  ] as const)('%s on %j with %j gives %j', (op, hw, attrs, want) => {
    expect(shapeOf(op, [[...hw, 4]], attrs)).toEqual([null, ...want, 4]);
  });
  it('has no MACs and rejects bad pool sizes', () => {
    expect(macsOf('maxPool2d', [[4, 4, 2]], {})).toBe(0);
    expect(() => shapeOf('maxPool2d', [[4, 4, 2]], { poolSize: 0 })).toThrow(/poolSize must be positive integers/);
  });
  it('globalAvgPool2d drops (or keeps) the spatial axes', () => {
    expect(shapeOf('globalAvgPool2d', [[7, 5, 9]])).toEqual([null, 9]);
    expect(shapeOf('globalAvgPool2d', [[7, 5, 9]], { keepDims: true })).toEqual([null, 1, 1, 9]);
    expect(() => shapeOf('globalAvgPool2d', [[9]])).toThrow(/expects a rank-4 input/);
  });
});

describe('shape-only ops', () => {
  it('flatten multiplies the non-batch axes', () => {
    expect(shapeOf('flatten', [[4, 4, 50]])).toEqual([null, 800]);
    expect(shapeOf('flatten', [[6]])).toEqual([null, 6]);
  });
  it('reshape resolves one -1 and rejects impossible targets', () => {
    expect(shapeOf('reshape', [[800]], { targetShape: [4, -1, 50] })).toEqual([null, 4, 4, 50]);
    expect(shapeOf('reshape', [[2, 3, 4]], { targetShape: [24] })).toEqual([null, 24]);
    expect(() => shapeOf('reshape', [[10]], { targetShape: [3, -1] })).toThrow(/node 'op': cannot reshape \[null, 10\] to \[3, -1\]/);
    expect(() => shapeOf('reshape', [[10]], { targetShape: [-1, -1] })).toThrow(/at most one -1/);
    expect(() => shapeOf('reshape', [[6]], { targetShape: [-2, -3] })).toThrow(/positive integers/);
    expect(() => shapeOf('reshape', [[6]], {})).toThrow(/needs attrs.targetShape/);
  });
  it('add needs equal shapes', () => {
    expect(
      shapeOf('add', [
        [4, 4, 3],
        [4, 4, 3],
        [4, 4, 3],
      ]),
    ).toEqual([null, 4, 4, 3]);
    expect(() =>
      shapeOf('add', [
        [4, 4, 3],
        [4, 4, 2],
      ]),
    ).toThrow(/node 'op': inputs have different shapes: \[null, 4, 4, 3\] vs \[null, 4, 4, 2\]/);
    expect(() => shapeOf('add', [[3]])).toThrow(/add needs at least 2 inputs/);
  });
  it('concat sums the channel axis and checks the others', () => {
    expect(
      shapeOf(
        'concat',
        [
          [4, 4, 3],
          [4, 4, 5],
        ],
        { axis: -1 },
      ),
    ).toEqual([null, 4, 4, 8]);
    expect(
      shapeOf(
        'concat',
        [
          [4, 4, 3],
          [4, 4, 5],
        ],
        { axis: 3 },
      ),
    ).toEqual([null, 4, 4, 8]);
    expect(shapeOf('concat', [[3], [2], [1]])).toEqual([null, 6]);
    expect(() =>
      shapeOf('concat', [
        [4, 4, 3],
        [4, 5, 3],
      ]),
    ).toThrow(/inputs do not match outside the concat axis/);
    expect(() =>
      shapeOf(
        'concat',
        [
          [4, 4, 3],
          [4, 4, 3],
        ],
        { axis: 1 },
      ),
    ).toThrow(/only concatenation along the channel \(last\) axis/);
  });
  it('dropout keeps the shape and checks the rate', () => {
    expect(shapeOf('dropout', [[4, 3]], { rate: 0.5 })).toEqual([null, 4, 3]);
    expect(() => shapeOf('dropout', [[4]], { rate: 1 })).toThrow(/dropout rate must be in \[0, 1\), got 1/);
  });
  it('activation keeps the shape and needs a known fn', () => {
    expect(shapeOf('activation', [[4, 3]], { fn: 'gelu' })).toEqual([null, 4, 3]);
    expect(() => shapeOf('activation', [[4]], {})).toThrow(/activation needs attrs.fn/);
    expect(() => shapeOf('activation', [[4]], { fn: 'mish' })).toThrow(/unknown activation 'mish'/);
  });
  it('batchNorm keeps the shape; its params are per channel', () => {
    const bn = { gamma: [3], beta: [3], movingMean: [3], movingVariance: [3] };
    expect(shapeOf('batchNorm', [[4, 4, 3]], {}, bn)).toEqual([null, 4, 4, 3]);
    expect(shapeOf('batchNorm', [[3]], {}, { movingMean: [3], movingVariance: [3] })).toEqual([null, 3]);
    expect(() => shapeOf('batchNorm', [[4, 4, 3]], {}, { ...bn, beta: [4] })).toThrow(/param 'p\/beta' \(role 'beta'\) has shape \[4\], expected \[3\]/);
  });
  it('input needs a shape of positive integers', () => {
    const g = createGraph();
    g.nodes.push({ name: 'x', op: 'input', inputs: [], attrs: { shape: [3, 0] }, params: {} });
    expect(() => inferShapes(g)).toThrow(/node 'x': input needs attrs.shape/);
  });
});

describe('zeroPad2d forms', () => {
  it.each([
    [undefined, [6, 7]], // Keras default: 1 on every side
    [2, [8, 9]],
    [
      [1, 2],
      [6, 9],
    ], // [h, w]: symmetric per axis
    [
      [
        [1, 2],
        [3, 4],
      ],
      [7, 12],
    ], // [[top, bottom], [left, right]]
  ] as const)('padding %j on 4x5 gives %j', (padding, want) => {
    expect(shapeOf('zeroPad2d', [[4, 5, 2]], padding === undefined ? {} : { padding })).toEqual([null, ...want, 2]);
  });
  it('normalises every form and rejects negative padding', () => {
    expect(
      zeroPadding([
        [1, 2],
        [3, 4],
      ]),
    ).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(zeroPadding([1, 2])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(() => shapeOf('zeroPad2d', [[4, 5, 2]], { padding: -1 })).toThrow(/non-negative integers/);
  });
});
