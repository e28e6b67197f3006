import { describe, expect, it } from 'vitest';
import { cloneGraph, cost, GraphBuilder, inferShapes, registerOp, rng, runReference, setCodebook, validate, type Graph } from '@condense/ir';
import { finalize } from './finalize.js';
import { SCALE_OP } from './scale-op.js';
import { findStructures, insertScales } from './structures.js';
import { cnn, inputs, mlp, randomize, resnet } from './test-models.js';

/** Give each scale node factors in [0.2, 2], with the listed channels at exactly 0. */
function setScales(g: Graph, zeros: Record<string, number[]>, seed = 11) {
  const r = rng(seed);
  for (const n of g.nodes.filter((x) => x.op === SCALE_OP)) {
    const p = g.params.get(n.params.scale)!;
    const tied = n.attrs.structure === 'block';
    const v = 0.2 + 1.8 * r();
    for (let i = 0; i < p.data.length; i++) p.data[i] = tied ? v : 0.2 + 1.8 * r();
    for (const c of zeros[n.name] ?? []) p.data[c] = 0;
    if (tied && (zeros[n.name]?.length ?? 0) > 0) p.data.fill(0);
  }
}

/** Max |difference| of the reference outputs before and after `edit`. */
function outputChange(g: Graph, inputShape: number[], edit: () => void): number {
  const x = inputs(inputShape, 4);
  const before = runReference(g, x, 4);
  edit();
  validate(g);
  const after = runReference(g, x, 4);
  expect(after.length).toBe(before.length);
  return Math.max(...before.map((v, i) => Math.abs(v - after[i])));
}

const shapeOf = (g: Graph, name: string) => g.params.get(name)!.shape;
const hasScales = (g: Graph) => g.nodes.some((n) => n.op === SCALE_OP);

describe('finalize: folding preserves outputs, zeroed structures disappear', () => {
  it('MLP: neuron scales fold into the producing dense layers; zeroed neurons are removed', () => {
    const g = randomize(mlp());
    insertScales(g, findStructures(g, undefined, {}, 'test'));
    setScales(g, { fc1_sss: [1, 4, 6], fc2_sss: [0] });
    const macs = cost(g).totals.macs;
    let report!: ReturnType<typeof finalize>;
    expect(outputChange(g, [6], () => (report = finalize(g)))).toBeLessThan(1e-5);
    expect(hasScales(g)).toBe(false);
    expect(report.folded.sort()).toEqual(['fc1_sss', 'fc2_sss']);
    expect(shapeOf(g, 'fc1/kernel')).toEqual([6, 5]);
    expect(shapeOf(g, 'fc2/kernel')).toEqual([5, 4]);
    expect(shapeOf(g, 'out/kernel')).toEqual([4, 3]);
    expect(report.channelsRemoved).toBe(4);
    expect(report.approximate).toBe(0);
    expect(cost(g).totals.macs).toBeLessThan(macs);
  });

  it('a layer whose every neuron is zeroed keeps one, and the outputs stay', () => {
    const g = randomize(mlp());
    insertScales(g, findStructures(g, undefined, {}, 'test'));
    setScales(g, { fc2_sss: [0, 1, 2, 3, 4] });
    let report!: ReturnType<typeof finalize>;
    expect(outputChange(g, [6], () => (report = finalize(g)))).toBeLessThan(1e-5);
    // fc2's one neuron left is a constant: every fc1 neuron then feeds zero weights, so fc1 keeps one too.
    expect(shapeOf(g, 'fc1/kernel')).toEqual([6, 1]);
    expect(shapeOf(g, 'fc2/kernel')).toEqual([1, 1]);
    expect(report.layers).toEqual([
      { node: 'fc1', before: 8, after: 1, approximate: 0 },
      { node: 'fc2', before: 5, after: 1, approximate: 0 },
    ]);
  });

  it('CNN: channel scales fold into conv kernels; removal goes through pooling and flatten into the dense rows', () => {
    const g = randomize(cnn());
    insertScales(g, findStructures(g, ['channel', 'neuron'], {}, 'test'));
    setScales(g, { conv1_sss: [0, 2], conv2_sss: [1, 3, 4], fc1_sss: [5] });
    expect(outputChange(g, [6, 6, 2], () => finalize(g))).toBeLessThan(1e-5);
    expect(shapeOf(g, 'conv1/kernel')).toEqual([3, 3, 2, 2]);
    expect(shapeOf(g, 'conv2/kernel')).toEqual([3, 3, 2, 2]);
    // 3 x 3 positions x 2 channels after flatten.
    expect(shapeOf(g, 'fc1/kernel')).toEqual([18, 5]);
    expect(inferShapes(g).get('flatten')).toEqual([null, 18]);
  });

  it('CNN with batchNorm: scales after conv -> bn -> relu fold into gamma and beta', () => {
    const g = randomize(cnn(2, { batchNorm: true }));
    insertScales(g, findStructures(g, ['channel'], {}, 'test'));
    expect(g.nodes.find((n) => n.name === 'conv1_sss')!.inputs).toEqual(['conv1_relu']);
    setScales(g, { conv1_sss: [3], conv2_sss: [0, 1] });
    expect(outputChange(g, [6, 6, 2], () => finalize(g))).toBeLessThan(1e-5);
    expect(shapeOf(g, 'conv1_bn/gamma')).toEqual([3]);
    expect(shapeOf(g, 'conv2/kernel')).toEqual([3, 3, 3, 3]);
  });

  it('residual: a zeroed block factor removes the whole branch and the add; the shortcut stays', () => {
    const g = randomize(resnet());
    const structures = findStructures(g, undefined, {}, 'test');
    expect(structures.map((s) => s.kind).sort()).toEqual(['block', 'channel']);
    insertScales(g, structures);
    setScales(g, { block_add_sss_block_conv2: [0] });
    let report!: ReturnType<typeof finalize>;
    expect(outputChange(g, [5, 5, 3], () => (report = finalize(g)))).toBeLessThan(1e-5);
    expect(report.blocksRemoved).toEqual(['block_add <- block_conv2']);
    const names = g.nodes.map((n) => n.name);
    expect(names).not.toContain('block_conv1');
    expect(names).not.toContain('block_conv2');
    expect(names).not.toContain('block_add');
    expect(g.nodes.find((n) => n.name === 'block_relu')!.inputs).toEqual(['stem']);
    expect([...g.params.keys()].some((k) => k.startsWith('block_conv'))).toBe(false);
  });

  it('residual: channels inside a block are removed and a non-zero block factor folds into the branch', () => {
    const g = randomize(resnet(3));
    insertScales(g, findStructures(g, undefined, {}, 'test'));
    setScales(g, { block_conv1_sss: [0, 2, 5] });
    let report!: ReturnType<typeof finalize>;
    expect(outputChange(g, [5, 5, 3], () => (report = finalize(g)))).toBeLessThan(1e-5);
    expect(report.blocksRemoved).toEqual([]);
    expect(hasScales(g)).toBe(false);
    expect(shapeOf(g, 'block_conv1/kernel')).toEqual([3, 3, 4, 3]);
    expect(shapeOf(g, 'block_conv2/kernel')).toEqual([3, 3, 3, 4]);
    expect(g.nodes.find((n) => n.name === 'block_add')!.inputs).toEqual(['stem', 'block_conv2']);
  });

  it('residual: a channel that every producer of an add-coupled group zeroes is removed through the add', () => {
    const g = randomize(resnet(5));
    const zeroColumn = (name: string, c: number) => {
      const k = g.params.get(`${name}/kernel`)!;
      for (let i = c; i < k.data.length; i += k.shape[3]) k.data[i] = 0;
      g.params.get(`${name}/bias`)!.data[c] = 0;
    };
    zeroColumn('stem', 1);
    zeroColumn('block_conv2', 1);
    let report!: ReturnType<typeof finalize>;
    expect(outputChange(g, [5, 5, 3], () => (report = finalize(g)))).toBeLessThan(1e-5);
    expect(report.layers).toEqual([{ node: 'stem+block_conv2', before: 4, after: 3, approximate: 0 }]);
    expect(shapeOf(g, 'stem/kernel')).toEqual([3, 3, 3, 3]);
    expect(shapeOf(g, 'block_conv1/kernel')).toEqual([3, 3, 3, 6]);
    expect(shapeOf(g, 'block_conv2/kernel')).toEqual([3, 3, 6, 3]);
    expect(shapeOf(g, 'out/kernel')).toEqual([75, 3]);
  });

  it('residual: a channel zeroed by only one producer of an add stays', () => {
    const g = randomize(resnet(5));
    const k = g.params.get('block_conv2/kernel')!;
    for (let i = 1; i < k.data.length; i += 4) k.data[i] = 0;
    g.params.get('block_conv2/bias')!.data[1] = 0;
    expect(finalize(g).channelsRemoved).toBe(0);
  });

  it('a scale after a non-homogeneous activation folds forward into the consumer rows', () => {
    const g = randomize(new GraphBuilder('sig', [5], 2).dense(6, { name: 'fc1', activation: 'sigmoid' }).dense(3, { name: 'out' }).build());
    insertScales(g, findStructures(g, undefined, {}, 'test'));
    setScales(g, { fc1_sss: [2] });
    let report!: ReturnType<typeof finalize>;
    expect(outputChange(g, [5], () => (report = finalize(g)))).toBeLessThan(1e-5);
    expect(report.folded).toEqual(['fc1_sss']);
    expect(shapeOf(g, 'fc1/kernel')).toEqual([5, 5]);
  });

  it('a zero batchNorm gamma leaves a constant channel: removed, its value moved into the next bias (exact for valid convs and dense)', () => {
    const g = randomize(cnn(4, { batchNorm: true, padding: 'valid' }));
    g.params.get('conv1_bn/gamma')!.data[1] = 0;
    g.params.get('conv1_bn/beta')!.data[1] = 0.4; // relu(0.4) = 0.4 reaches conv2 everywhere
    g.params.get('conv2_bn/gamma')!.data[0] = 0;
    g.params.get('conv2_bn/beta')!.data[0] = 0.3;
    expect(g.nodes.find((n) => n.name === 'conv2')!.params.bias).toBeUndefined();
    let report!: ReturnType<typeof finalize>;
    expect(outputChange(g, [6, 6, 2], () => (report = finalize(g)))).toBeLessThan(1e-5);
    expect(report.channelsRemoved).toBe(2);
    expect(report.approximate).toBe(0);
    expect(shapeOf(g, 'conv2/kernel')).toEqual([3, 3, 3, 4]);
    expect(shapeOf(g, 'conv2/bias')).toEqual([4]);
  });

  it("flags constants moved into a 'same'-padded conv as approximate", () => {
    const g = randomize(cnn(4, { batchNorm: true }));
    g.params.get('conv1_bn/gamma')!.data[1] = 0;
    g.params.get('conv1_bn/beta')!.data[1] = 0.4;
    expect(finalize(g).approximate).toBe(1);
  });

  it('a neuron whose outgoing weights are all zero (L1, masks) is removed', () => {
    const g = randomize(mlp());
    const k = g.params.get('fc2/kernel')!; // [8, 5]: row 3 is fc1's neuron 3
    for (let o = 0; o < 5; o++) k.data[3 * 5 + o] = 0;
    expect(outputChange(g, [6], () => finalize(g))).toBeLessThan(1e-5);
    expect(shapeOf(g, 'fc1/kernel')).toEqual([6, 7]);
  });

  it('leaves a graph with nothing to remove unchanged', () => {
    const g = randomize(cnn());
    const before = cloneGraph(g);
    const r = finalize(g);
    expect(r.channelsRemoved + r.folded.length + r.blocksRemoved.length).toBe(0);
    expect([...g.params.keys()]).toEqual([...before.params.keys()]);
    expect(g.nodes.map((n) => n.name)).toEqual(before.nodes.map((n) => n.name));
  });

  it('refuses to fold into a codebook param and leaves the graph as it was', () => {
    const g = randomize(mlp());
    insertScales(g, findStructures(g, undefined, {}, 'test'));
    const k = g.params.get('fc1/kernel')!;
    setCodebook(k, { centroids: Float32Array.of(-0.1, 0.1), indices: Uint16Array.from(k.data, (v) => (v > 0 ? 1 : 0)), bits: 1 });
    const nodes = g.nodes.map((n) => n.name);
    expect(() => finalize(g)).toThrow(/fc1\/kernel.*codebook/);
    expect(g.nodes.map((n) => n.name)).toEqual(nodes);
  });
});

describe('finalize reads per-op facts from the op definitions', () => {
  /** input -> scale -> `mid` -> dense: the scale cannot fold backward into the input, only forward through `mid`. */
  function scaleThen(mid: (b: GraphBuilder) => void, factors: number[]): Graph {
    const b = new GraphBuilder('fwd', [3], 5);
    b.add(SCALE_OP, ['input'], { structure: 'neuron' }, { scale: [[3], Float32Array.from(factors)] }, 's');
    mid(b);
    b.dense(2, { name: 'fc' });
    const g = randomize(b.build());
    g.params.get('s/scale')!.data.set(factors);
    return g;
  }

  it('folds forward through an activation that passes the factors (relu: non-negative ones only)', () => {
    const g = scaleThen((b) => b.activation('relu', { name: 'act' }), [0.5, 2, 1.5]);
    let report!: ReturnType<typeof finalize>;
    expect(outputChange(g, [3], () => (report = finalize(g)))).toBeLessThan(1e-6);
    expect(report.folded).toEqual(['s']);
    const negative = scaleThen((b) => b.activation('relu', { name: 'act' }), [0.5, -2, 1.5]);
    expect(finalize(negative).kept).toEqual(['s']);
    const tanh = scaleThen((b) => b.activation('tanh', { name: 'act' }), [0.5, 2, 1.5]);
    expect(finalize(tanh).kept).toEqual(['s']);
  });

  it('a plugin op joins by stating channelValues, without an edit here', () => {
    registerOp({
      op: 'testNegate',
      arity: 1,
      inferShape: (ctx) => ctx.inputs[0],
      channels: { kind: 'elementwise' },
      reference: ([x]) => ({ shape: x.shape, data: x.data.map((v) => -v) }),
      channelValues: () => ({ scale: 'any', constant: (k) => (k === undefined ? undefined : -k) }),
    });
    const g = scaleThen((b) => void b.add('testNegate', [b.current], {}, {}, 'neg'), [0.5, -2, 1.5]);
    let report!: ReturnType<typeof finalize>;
    expect(outputChange(g, [3], () => (report = finalize(g)))).toBeLessThan(1e-6);
    expect(report.folded).toEqual(['s']);
  });
});
