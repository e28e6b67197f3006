import { describe, expect, it } from 'vitest';
import { getNode, GraphBuilder, inferShapes, lenet300100, lenet5, validate, vggSmall } from './index.js';

describe('reference models', () => {
  it.each([
    ['lenet300100', () => lenet300100(), [null, 10]],
    ['lenet5', () => lenet5(), [null, 10]],
    ['vggSmall', () => vggSmall(), [null, 10]],
    ['vggSmall + batchNorm', () => vggSmall(1, { batchNorm: true }), [null, 10]],
  ] as const)('%s validates and ends in 10 classes', (_, make, out) => {
    const g = make();
    expect(() => validate(g)).not.toThrow();
    expect(inferShapes(g).get(g.outputs[0])).toEqual(out);
    expect(g.inputs).toEqual(['input']);
  });

  it('seeds give deterministic weights; different seeds differ', () => {
    const a = lenet5(3).params.get('conv2/kernel')!.data;
    const b = lenet5(3).params.get('conv2/kernel')!.data;
    const c = lenet5(4).params.get('conv2/kernel')!.data;
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it('Glorot-uniform kernels within the limit, zero biases', () => {
    const k = lenet300100().params.get('fc1/kernel')!.data;
    const limit = Math.sqrt(6 / (784 + 300));
    const maxAbs = k.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbs).toBeLessThanOrEqual(limit);
    expect(maxAbs).toBeGreaterThan(limit * 0.99);
    const mean = k.reduce((a, v) => a + v, 0) / k.length;
    expect(Math.abs(mean)).toBeLessThan(limit / 50);
    expect(lenet300100().params.get('fc1/bias')!.data.every((v) => v === 0)).toBe(true);
  });

  it('vggSmall with batchNorm has conv, bn, relu per block and no conv bias', () => {
    const g = vggSmall(1, { batchNorm: true });
    expect(getNode(g, 'conv1').params).toEqual({ kernel: 'conv1/kernel' });
    expect(getNode(g, 'conv1_bn').inputs).toEqual(['conv1']);
    expect(getNode(g, 'conv1_relu')).toMatchObject({ op: 'activation', attrs: { fn: 'relu' }, inputs: ['conv1_bn'] });
    expect(g.params.get('conv1_bn/movingVariance')!.data.every((v) => v === 1)).toBe(true);
  });
});

describe('GraphBuilder', () => {
  it('names nodes uniquely, even around explicit names', () => {
    const b = new GraphBuilder('t', [4]);
    b.dense(3, { name: 'dense_2' }).dense(3).dense(3).dense(3);
    expect(b.graph.nodes.map((n) => n.name)).toEqual(['input', 'dense_2', 'dense_1', 'dense_3', 'dense_4']);
    expect(() => b.dense(3, { name: 'dense_1' })).toThrow(/node 'dense_1': duplicate node name/);
    expect(() => b.build()).not.toThrow();
  });

  it('records Keras-style attrs and params', () => {
    const g = new GraphBuilder('t', [8, 8, 3])
      .conv2d(4, [3, 5], { name: 'c', strides: 2, dilation: [1, 1], padding: 'same', activation: 'relu6' })
      .depthwiseConv2d(3, { name: 'dw', depthMultiplier: 2, bias: false })
      .maxPool2d(2, { name: 'mp', strides: 1, padding: 'same' })
      .dropout(0.25, { name: 'd' })
      .zeroPad2d([[1, 0], [0, 1]], { name: 'z' })
      .activation('leakyRelu', { name: 'lr', alpha: 0.1 })
      .globalAvgPool2d({ name: 'g' })
      .build();
    expect(getNode(g, 'c').attrs).toEqual({ padding: 'same', strides: [2, 2], dilation: [1, 1], activation: 'relu6' });
    expect(g.params.get('c/kernel')!.shape).toEqual([3, 5, 3, 4]);
    expect(getNode(g, 'dw')).toMatchObject({ attrs: { padding: 'valid', depthMultiplier: 2 }, params: { kernel: 'dw/kernel' } });
    expect(g.params.get('dw/kernel')!.shape).toEqual([3, 3, 4, 2]);
    expect(getNode(g, 'mp').attrs).toEqual({ poolSize: [2, 2], strides: [1, 1], padding: 'same' });
    expect(getNode(g, 'lr').attrs).toEqual({ fn: 'leakyRelu', alpha: 0.1 });
    expect(inferShapes(g).get('g')).toEqual([null, 8]);
  });

  it('build validates the whole graph (outputs included)', () => {
    const b = new GraphBuilder('t', [4]).dense(2);
    expect(() => b.build(['nope'])).toThrow(/graph output 'nope' is not a node/);
  });
});
