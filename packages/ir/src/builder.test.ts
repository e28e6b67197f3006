import { describe, expect, it } from 'vitest';
import {
  channelGroups,
  cost,
  getNode,
  GraphBuilder,
  inferShapes,
  lenet300100,
  lenet5,
  makeDivisible,
  mobilenetV2Small,
  resnet20,
  validate,
  vggSmall,
} from './index.js';

describe('reference models', () => {
  it.each([
    ['lenet300100', () => lenet300100(), [null, 10]],
    ['lenet5', () => lenet5(), [null, 10]],
    ['vggSmall', () => vggSmall(), [null, 10]],
    ['vggSmall + batchNorm', () => vggSmall(1, { batchNorm: true }), [null, 10]],
    ['resnet20', () => resnet20(), [null, 10]],
    ['mobilenetV2Small', () => mobilenetV2Small(), [null, 10]],
    ['mobilenetV2Small width 1, 32x32x3, 100 classes', () => mobilenetV2Small(1, { width: 1, inputShape: [32, 32, 3], classes: 100 }), [null, 100]],
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
    expect(
      lenet300100()
        .params.get('fc1/bias')!
        .data.every((v) => v === 0),
    ).toBe(true);
  });

  it('vggSmall with batchNorm has conv, bn, relu per block and no conv bias', () => {
    const g = vggSmall(1, { batchNorm: true });
    expect(getNode(g, 'conv1').params).toEqual({ kernel: 'conv1/kernel' });
    expect(getNode(g, 'conv1_bn').inputs).toEqual(['conv1']);
    expect(getNode(g, 'conv1_relu')).toMatchObject({ op: 'activation', attrs: { fn: 'relu' }, inputs: ['conv1_bn'] });
    expect(g.params.get('conv1_bn/movingVariance')!.data.every((v) => v === 1)).toBe(true);
  });
});

describe('ResNet-20', () => {
  const g = resnet20();
  const ops = (op: string) => g.nodes.filter((n) => n.op === op);

  it('has 3 stages of 3 basic blocks on 28, 14, 7 pixels, projections only where the width changes', () => {
    const shapes = inferShapes(g);
    expect(ops('conv2d')).toHaveLength(1 + 18 + 2);
    expect(ops('batchNorm')).toHaveLength(21);
    expect(ops('add')).toHaveLength(9);
    expect(
      ops('conv2d')
        .filter((n) => n.name.endsWith('_proj'))
        .map((n) => n.name),
    ).toEqual(['s2b1_proj', 's3b1_proj']);
    expect([shapes.get('s1b3_relu'), shapes.get('s2b3_relu'), shapes.get('s3b3_relu')]).toEqual([
      [null, 28, 28, 16],
      [null, 14, 14, 32],
      [null, 7, 7, 64],
    ]);
    expect(getNode(g, 's1b1_add').inputs).toEqual(['s1b1_conv2_bn', 'stem_relu']); // identity shortcut
    expect(getNode(g, 's2b1_add').inputs).toEqual(['s2b1_conv2_bn', 's2b1_proj_bn']);
    expect(getNode(g, 's2b1_proj').attrs).toMatchObject({ strides: [2, 2] });
    for (const n of ops('conv2d')) expect(n.params.bias).toBeUndefined(); // BN follows every conv
  });

  it('273,754 params and 31,021,952 MACs (hand-computed)', () => {
    const conv = (k: number, cin: number, cout: number) => k * k * cin * cout;
    const s1 = 6 * conv(3, 16, 16);
    const s2 = conv(3, 16, 32) + 5 * conv(3, 32, 32) + conv(1, 16, 32);
    const s3 = conv(3, 32, 64) + 5 * conv(3, 64, 64) + conv(1, 32, 64);
    const bnChannels = 16 + 6 * 16 + 7 * 32 + 7 * 64;
    const t = cost(g).totals;
    expect(t.params).toBe(conv(3, 1, 16) + s1 + s2 + s3 + 4 * bnChannels + 64 * 10 + 10);
    expect(t.params).toBe(273_754);
    expect(t.macs).toBe(28 * 28 * (conv(3, 1, 16) + s1) + 14 * 14 * s2 + 7 * 7 * s3 + 640);
  });

  it('channel groups: one per stage residual stream and one per block inner conv, all prunable but the output', () => {
    const groups = channelGroups(g);
    const prunable = groups.filter((x) => x.prunable);
    expect(prunable).toHaveLength(3 + 9);
    const stream = (conv: string) => groups.find((x) => x.producers.includes(conv))!;
    expect(stream('stem').producers).toEqual(['stem', 's1b1_conv2', 's1b2_conv2', 's1b3_conv2']);
    expect(stream('s2b1_proj').producers).toEqual(['s2b1_conv2', 's2b1_proj', 's2b2_conv2', 's2b3_conv2']);
    expect(stream('s2b2_conv1').producers).toEqual(['s2b2_conv1']);
    expect(groups.filter((x) => !x.prunable).map((x) => x.id)).toEqual(['fc']);
  });
});

describe('MobileNetV2', () => {
  it('Keras channel rounding: multiples of 8, never 10% below', () => {
    expect([
      makeDivisible(32 * 0.5),
      makeDivisible(16 * 0.5),
      makeDivisible(24 * 0.5),
      makeDivisible(96 * 0.5),
      makeDivisible(320 * 0.35),
      makeDivisible(11.2),
    ]).toEqual([16, 8, 16, 48, 112, 16]);
  });

  it('width 0.5: 17 inverted residual blocks, 10 residual adds, depthwise 3x3, relu6, linear projections, 28 -> 14 -> 7 -> 4', () => {
    const g = mobilenetV2Small();
    const shapes = inferShapes(g);
    const ops = (op: string) => g.nodes.filter((n) => n.op === op);
    expect(ops('depthwiseConv2d')).toHaveLength(17);
    expect(ops('add').map((n) => n.name)).toEqual([2, 4, 5, 7, 8, 9, 11, 12, 14, 15].map((i) => `block_${i}_add`));
    expect(getNode(g, 'block_0_depthwise').inputs).toEqual(['stem_relu6']); // no expansion in the first block
    expect(shapes.get('block_1_expand')).toEqual([null, 28, 28, 48]); // 8 channels x 6
    expect(getNode(g, 'block_1_project_bn').op).toBe('batchNorm');
    expect(g.nodes.some((n) => n.name === 'block_1_project_relu6')).toBe(false); // linear bottleneck
    expect(ops('activation').every((n) => n.attrs.fn === 'relu6')).toBe(true);
    expect(getNode(g, 'block_3_depthwise').attrs).toMatchObject({ strides: [2, 2], padding: 'same' });
    expect([shapes.get('block_2_add'), shapes.get('block_5_add'), shapes.get('block_9_add'), shapes.get('block_15_add'), shapes.get('head_relu6')]).toEqual([
      [null, 28, 28, 16],
      [null, 14, 14, 16],
      [null, 7, 7, 32],
      [null, 4, 4, 80],
      [null, 4, 4, 1280],
    ]);
    const t = cost(g).totals;
    expect([t.params, t.macs]).toEqual([718_746, 23_111_712]);
    // every expansion, every residual stream and the head are prunable groups
    const groups = channelGroups(g);
    expect(groups.filter((x) => x.prunable)).toHaveLength(16 + 7 + 1 + 1);
    expect(groups.find((x) => x.producers.includes('block_4_expand'))!.producers).toEqual(['block_4_expand']);
    expect(groups.find((x) => x.producers.includes('block_3_project'))!.producers).toEqual(['block_3_project', 'block_4_project', 'block_5_project']);
    expect(() => mobilenetV2Small(1, { width: 0 })).toThrow(/mobilenetV2Small: width must be a positive number, got 0/);
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
      .zeroPad2d(
        [
          [1, 0],
          [0, 1],
        ],
        { name: 'z' },
      )
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
