/** The ops graph-model import adds: shapes, channel flow through them, reference values. */
import { describe, expect, it } from 'vitest';
import {
  channelGroups,
  createGraph,
  groupOf,
  inferShapes,
  param,
  referenceValues,
  removeChannels,
  validate,
  GraphBuilder,
  type Attrs,
  type Graph,
} from '../index.js';

/** input [shape] -> op(params) as 'op'; params role -> [shape, values?]. */
function single(op: string, shape: (number | null)[], attrs: Attrs = {}, params: Record<string, [number[], number[]?]> = {}): Graph {
  const b = new GraphBuilder('t', shape as number[]);
  b.add(op, ['input'], attrs, Object.fromEntries(Object.entries(params).map(([r, [s, v]]) => [r, [s, v && Float32Array.from(v)]])), 'op');
  return b.build();
}
const shapeOf = (g: Graph) => inferShapes(g).get('op');
const refOut = (g: Graph, x: number[]) => Array.from(referenceValues(g, Float32Array.from(x), 1).get('op')!.data);

/** conv a (1x1, 4) -> op -> conv b (1x1, 2) -> flatten: is a's group prunable through op, and what does removal do? */
function between(op: string, attrs: Attrs, params: Record<string, number[]>): Graph {
  const b = new GraphBuilder('mid', [2, 2, 3]);
  b.conv2d(4, 1, { name: 'a' });
  b.add(
    op,
    ['a'],
    attrs,
    Object.fromEntries(Object.entries(params).map(([r, s]) => [r, [s, Float32Array.from({ length: s.reduce((x, y) => x * y, 1) }, (_, i) => i + 1)]])),
    'op',
  );
  return b.conv2d(2, 1, { name: 'b' }).flatten({ name: 'f' }).build();
}

describe('constant', () => {
  it('takes its shape from its param, or from attrs for non-float values', () => {
    const g = createGraph('c');
    g.params.set('w', param('w', [2, 3]));
    g.nodes.push({ name: 'w', op: 'constant', inputs: [], attrs: {}, params: { weight: 'w' } });
    g.nodes.push({ name: 'k', op: 'constant', inputs: [], attrs: { dtype: 'int32', shape: [2], values: [1, 2] }, params: {} });
    g.outputs.push('w', 'k');
    validate(g);
    expect(inferShapes(g).get('w')).toEqual([2, 3]);
    expect(inferShapes(g).get('k')).toEqual([2]);
  });
});

describe('prelu', () => {
  it('accepts alpha [C], [1, 1, C] and [H, W, C], not a shape that does not broadcast', () => {
    expect(shapeOf(single('prelu', [2, 2, 3], {}, { alpha: [[3]] }))).toEqual([null, 2, 2, 3]);
    expect(shapeOf(single('prelu', [2, 2, 3], {}, { alpha: [[1, 1, 3]] }))).toEqual([null, 2, 2, 3]);
    expect(shapeOf(single('prelu', [2, 2, 3], {}, { alpha: [[2, 2, 3]] }))).toEqual([null, 2, 2, 3]);
    expect(() => shapeOf(single('prelu', [2, 2, 3], {}, { alpha: [[2, 3, 3]] }))).toThrow(
      /node 'op': param 'op\/alpha' \(role 'alpha'\) of shape \[2, 3, 3\] does not broadcast/,
    );
  });
  it('computes x or alpha * x, and a [1, 1, C] alpha is sliced on its last axis', () => {
    expect(
      refOut(
        single(
          'prelu',
          [1, 1, 2],
          {},
          {
            alpha: [
              [1, 1, 2],
              [0.5, 0.25],
            ],
          },
        ),
        [-2, -2],
      ),
    ).toEqual([-1, -0.5]);
    const g = between('prelu', {}, { alpha: [1, 1, 4] });
    removeChannels(g, groupOf(g, 'a'), [1, 3]);
    expect(Array.from(g.params.get('op/alpha')!.data)).toEqual([2, 4]);
    expect(g.params.get('op/alpha')!.shape).toEqual([1, 1, 2]);
  });
});

describe('biasAdd and binaryConst', () => {
  it('biasAdd adds one bias per channel and is sliced with them', () => {
    expect(refOut(single('biasAdd', [1, 2], {}, { bias: [[2], [10, 20]] }), [1, 2])).toEqual([11, 22]);
    const g = between('biasAdd', {}, { bias: [4] });
    removeChannels(g, groupOf(g, 'a'), [0, 2]);
    expect(Array.from(g.params.get('op/bias')!.data)).toEqual([1, 3]);
  });
  it('binaryConst computes f(x, c) or f(c, x), broadcasting the operand', () => {
    expect(refOut(single('binaryConst', [2], { fn: 'sub' }, { operand: [[], [1]] }), [5, 7])).toEqual([4, 6]);
    expect(refOut(single('binaryConst', [2], { fn: 'sub', constFirst: true }, { operand: [[], [1]] }), [5, 7])).toEqual([-4, -6]);
    expect(refOut(single('binaryConst', [2], { fn: 'div' }, { operand: [[2], [2, 4]] }), [8, 8])).toEqual([4, 2]);
    expect(refOut(single('binaryConst', [2], { fn: 'maximum' }, { operand: [[1], [6]] }), [5, 7])).toEqual([6, 7]);
    expect(() => shapeOf(single('binaryConst', [2], { fn: 'pow' }, { operand: [[], [1]] }))).toThrow(
      /binaryConst needs attrs.fn, one of add, sub, mul, div, maximum, minimum; got "pow"/,
    );
  });
  it('a scalar operand lets channels through unsliced; a per-channel one is sliced', () => {
    const scalar = between('binaryConst', { fn: 'mul' }, { operand: [] });
    expect(groupOf(scalar, 'a').prunable).toBe(true);
    removeChannels(scalar, groupOf(scalar, 'a'), [0]);
    expect(scalar.params.get('op/operand')!.shape).toEqual([]);
    const per = between('binaryConst', { fn: 'mul' }, { operand: [1, 1, 4] });
    removeChannels(per, groupOf(per, 'a'), [3]);
    expect(Array.from(per.params.get('op/operand')!.data)).toEqual([4]);
  });
});

describe('spatial ops', () => {
  it('pad2d grows H and W, keeps unknown sizes unknown, and bounds mirror padding', () => {
    expect(
      shapeOf(
        single('pad2d', [3, 4, 2], {
          padding: [
            [1, 0],
            [2, 2],
          ],
          mode: 'reflect',
        }),
      ),
    ).toEqual([null, 4, 8, 2]);
    expect(shapeOf(single('pad2d', [null, null, 2], { padding: 1, mode: 'symmetric' }))).toEqual([null, null, null, 2]);
    expect(() => shapeOf(single('pad2d', [2, 2, 1], { padding: 2, mode: 'reflect' }))).toThrow(/reflect padding \[\[2, 2\], \[2, 2\]\] is too large for 2x2/);
  });
  it('resize2d takes a fixed size, or a size tensor that leaves H and W unknown', () => {
    expect(shapeOf(single('resize2d', [3, 4, 2], { method: 'bilinear', size: [6, 8] }))).toEqual([null, 6, 8, 2]);
    const g = new GraphBuilder('r', [3, 4, 2]);
    g.graph.nodes.push({ name: 'size', op: 'constant', inputs: [], attrs: { dtype: 'int32', shape: [2], values: [5, 5] }, params: {} });
    g.add('resize2d', ['input', 'size'], { method: 'nearest' }, {}, 'op');
    expect(shapeOf(g.build())).toEqual([null, null, null, 2]);
  });
  it('depthToSpace moves channels into space and blocks channel groups', () => {
    expect(shapeOf(single('depthToSpace', [2, 3, 8], { blockSize: 2 }))).toEqual([null, 4, 6, 2]);
    expect(() => shapeOf(single('depthToSpace', [2, 3, 6], { blockSize: 2 }))).toThrow(/6 channels are not a multiple of blockSize\^2 = 4/);
    const b = new GraphBuilder('d2s', [2, 2, 3]);
    b.conv2d(8, 1, { name: 'a' });
    b.add('depthToSpace', ['a'], { blockSize: 2 }, {}, 'op');
    const g = b.conv2d(2, 1, { name: 'c' }).flatten({ name: 'f' }).build();
    expect(groupOf(g, 'a').prunable).toBe(false);
  });
  it('conv2dTranspose: TF output sizes, a kernel [h, w, out, in] that produces channels', () => {
    expect(shapeOf(single('conv2dTranspose', [3, 4, 5], { strides: 2, padding: 'same' }, { kernel: [[3, 3, 2, 5]] }))).toEqual([null, 6, 8, 2]);
    expect(shapeOf(single('conv2dTranspose', [3, 4, 5], { strides: 2, padding: 'valid' }, { kernel: [[3, 3, 2, 5]] }))).toEqual([null, 7, 9, 2]);
    expect(shapeOf(single('conv2dTranspose', [3, 4, 5], { strides: 2, outputShape: [5, 8] }, { kernel: [[3, 3, 2, 5]] }))).toEqual([null, 5, 8, 2]);
    const b = new GraphBuilder('ct', [2, 2, 3]);
    b.conv2d(4, 1, { name: 'a' });
    b.add('conv2dTranspose', ['a'], { strides: 2, padding: 'same' }, { kernel: [[2, 2, 5, 4]], bias: [[5]] }, 'op');
    const g = b.conv2d(2, 1, { name: 'c' }).flatten({ name: 'f' }).build();
    removeChannels(g, groupOf(g, 'a'), [0, 1]);
    expect(g.params.get('op/kernel')!.shape).toEqual([2, 2, 5, 2]);
    removeChannels(g, groupOf(g, 'op'), [4]);
    expect(g.params.get('op/kernel')!.shape).toEqual([2, 2, 1, 2]);
    expect(g.params.get('c/kernel')!.shape).toEqual([1, 1, 1, 2]);
  });
  it('convolutions and pools over unknown spatial sizes give unknown sizes', () => {
    const g = new GraphBuilder('dyn', [null, null, 3] as unknown as number[])
      .conv2d(4, 3, { name: 'c', padding: 'same', strides: 2 })
      .maxPool2d(2, { name: 'op' })
      .build();
    expect(shapeOf(g)).toEqual([null, null, null, 4]);
  });
});

describe('channel groups and shared params', () => {
  it('a kernel also read by another node keeps its group whole', () => {
    const b = new GraphBuilder('shared', [2, 2, 3]);
    b.conv2d(4, 1, { name: 'a' });
    const g = b.conv2d(2, 1, { name: 'c' }).flatten({ name: 'f' }).build();
    g.nodes.push({ name: 'k', op: 'constant', inputs: [], attrs: {}, params: { weight: 'a/kernel' } });
    g.outputs.push('k');
    const group = channelGroups(g).find((x) => x.producers.includes('a'))!;
    expect(group.prunable).toBe(false);
    expect(group.reason).toMatch(/param 'a\/kernel' is also used by node 'k' \(role 'weight'\)/);
  });
});
