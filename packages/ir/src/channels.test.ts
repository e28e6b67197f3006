import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyQuant,
  channelGroups,
  cloneGraph,
  cost,
  gaussian,
  GraphBuilder,
  groupOf,
  param,
  registerOp,
  removeChannels,
  rng,
  runReference,
  setCodebook,
  setMask,
  setQuant,
  sizeOf,
  takeAlongAxis,
  validate,
  validateParam,
  vggSmall,
  type ChannelGroup,
  type Graph,
} from './index.js';

// --- fixtures --------------------------------------------------------------------------------

/** conv (1x1, 4) -> relu -> flatten -> dense 5 -> dense 2: channel c of [2,2,4] is feature c, c+4, c+8, c+12. */
function flattenNet(): Graph {
  return new GraphBuilder('flat', [2, 2, 3])
    .conv2d(4, 1, { name: 'c1' })
    .activation('relu', { name: 'a1' })
    .flatten({ name: 'f' })
    .dense(5, { name: 'd1', activation: 'relu' })
    .dense(2, { name: 'out' })
    .build();
}

/** a -> relu -> b; add(relu(a), b) -> c: a and b are coupled, and b also reads a's channels. */
function residualNet(): Graph {
  const b = new GraphBuilder('res', [4, 4, 2]);
  b.conv2d(3, 3, { name: 'a', padding: 'same' }).activation('relu', { name: 'ar' });
  b.conv2d(3, 3, { name: 'b', padding: 'same', activation: 'relu' }, 'ar');
  b.addValues(['ar', 'b'], { name: 's' });
  return b.conv2d(2, 1, { name: 'c', activation: 'relu' }).globalAvgPool2d({ name: 'gap' }).dense(2, { name: 'out' }).build();
}

/** Two producers concatenated, read by one consumer. */
function concatNet(): Graph {
  const b = new GraphBuilder('cat', [3, 3, 2]);
  b.conv2d(2, 1, { name: 'a', activation: 'relu' }, 'input');
  b.conv2d(3, 1, { name: 'b', activation: 'relu' }, 'input');
  b.concat(['a', 'b'], { name: 'cat' });
  return b.conv2d(2, 1, { name: 'c', activation: 'relu' }).flatten({ name: 'f' }).dense(2, { name: 'out' }).build();
}

/** concat(A, B) + C: one group over A, B and C (node order B, C, A). */
function concatAddNet(): Graph {
  const b = new GraphBuilder('catadd', [4]);
  b.dense(4, { name: 'B', activation: 'relu' }, 'input');
  b.dense(8, { name: 'C', activation: 'relu' }, 'input');
  b.dense(4, { name: 'A', activation: 'relu' }, 'input');
  b.concat(['A', 'B'], { name: 'cat' });
  b.addValues(['cat', 'C'], { name: 'sum' });
  return b.dense(2, { name: 'out' }).build();
}

/** p -> depthwise (x2) -> batchNorm -> relu -> maxPool -> zeroPad -> q -> avgPool -> globalAvgPool -> dense. */
function depthwiseNet(): Graph {
  return new GraphBuilder('dw', [6, 6, 2])
    .conv2d(3, 1, { name: 'p' })
    .depthwiseConv2d(3, { name: 'dw', padding: 'same', depthMultiplier: 2 })
    .batchNorm({ name: 'bn' })
    .activation('relu', { name: 'r' })
    .maxPool2d(2, { name: 'mp' })
    .zeroPad2d(1, { name: 'zp' })
    .conv2d(2, 3, { name: 'q', activation: 'relu' })
    .avgPool2d(2, { name: 'ap', padding: 'same', strides: 1 })
    .globalAvgPool2d({ name: 'gap' })
    .dense(2, { name: 'out' })
    .build();
}

/**
 * Squeeze-and-excitation: x = relu(conv p); gate = sigmoid(conv e(relu(conv r(gap(x))))), and a
 * Keras 3 hard-sigmoid gate (x + 3 -> relu6 -> x / 6) on a second block; multiply(x, gate) -> q.
 */
function seNet(): Graph {
  const b = new GraphBuilder('se', [4, 4, 3]);
  b.conv2d(4, 1, { name: 'p' }).activation('relu', { name: 'x' });
  b.add('globalAvgPool2d', ['x'], { keepDims: true }, {}, 'gap');
  b.conv2d(2, 1, { name: 'r', activation: 'relu' }).conv2d(4, 1, { name: 'e', activation: 'sigmoid' });
  b.add('multiply', ['x', 'e'], {}, {}, 'se');
  b.conv2d(3, 3, { name: 'q', padding: 'same', activation: 'relu' });
  b.add('globalAvgPool2d', ['q'], {}, {}, 'gap2');
  b.add('reshape', ['gap2'], { targetShape: [1, 1, 3] }, {}, 'rs');
  b.conv2d(2, 1, { name: 'r2', activation: 'relu' }).conv2d(3, 1, { name: 'e2' });
  b.add('rescaling', ['e2'], { scale: 1, offset: 3 }, {}, 'plus3');
  b.activation('relu6', { name: 'clip' });
  b.add('rescaling', ['clip'], { scale: 1 / 6, offset: 0 }, {}, 'div6');
  b.add('multiply', ['q', 'div6'], {}, {}, 'se2');
  return b.conv2d(2, 1, { name: 'c' }).flatten({ name: 'f' }).dense(2, { name: 'out' }).build();
}

/** p -> relu -> grouped conv g (2 groups) -> relu -> q: p's and g's channels are coupled by in-group position. */
function groupedNet(): Graph {
  const b = new GraphBuilder('grouped', [3, 3, 2]);
  b.conv2d(4, 1, { name: 'p', activation: 'relu' });
  b.add('conv2d', ['p'], { padding: 'same', groups: 2, activation: 'relu' }, { kernel: [[3, 3, 2, 6]], bias: [[6]] }, 'g');
  b.add('conv2d', ['g'], { groups: 2 }, { kernel: [[1, 1, 3, 4]], bias: [[4]] }, 'h');
  return b.conv2d(2, 1, { name: 'q' }).flatten({ name: 'f' }).dense(2, { name: 'out' }).build();
}

/**
 * Sequences: a Bidirectional LSTM (forward, and backward with aligned outputs, concatenated), a
 * Keras 3 GRU (resetAfter, [2, 3u] bias), a SimpleRNN, a dense head.
 */
function recurrentNet(): Graph {
  const b = new GraphBuilder('rnn', [5, 3]);
  const lstm = (units: number) => ({ kernel: [[3, 4 * units]], recurrentKernel: [[units, 4 * units]], bias: [[4 * units]] }) as Record<string, [number[]]>;
  b.add('lstm', ['input'], { returnSequences: true }, lstm(3), 'fwd');
  b.add('lstm', ['input'], { returnSequences: true, goBackwards: true, alignOutputs: true }, lstm(2), 'bwd');
  b.add('concat', ['fwd', 'bwd'], { axis: -1 }, {}, 'bi');
  b.add('gru', ['bi'], { returnSequences: true, resetAfter: true }, { kernel: [[5, 6]], recurrentKernel: [[2, 6]], bias: [[2, 6]] }, 'gru');
  b.add('simpleRnn', ['gru'], {}, { kernel: [[2, 3]], recurrentKernel: [[3, 3]], bias: [[3]] }, 'rnn');
  return b.dense(2, { name: 'out' }).build();
}

/** 1-D and 2-D transposed, pooling and resampling ops between producers. */
function sequenceConvNet(): Graph {
  const b = new GraphBuilder('conv1d', [9, 2]);
  b.add('conv1d', ['input'], { padding: 'causal', dilation: 2 }, { kernel: [[3, 2, 4]], bias: [[4]] }, 'c1');
  b.batchNorm({ name: 'bn' }).activation('gelu', { name: 'act' });
  b.add('maxPool1d', ['act'], { poolSize: 2 }, {}, 'mp');
  b.add('conv1d', ['mp'], { groups: 2, padding: 'same', strides: 2 }, { kernel: [[3, 2, 4]] }, 'c2');
  b.add('avgPool1d', ['c2'], { poolSize: 2, padding: 'same' }, {}, 'ap');
  b.add('globalMaxPool1d', ['ap'], {}, {}, 'gmp');
  b.add('repeatVector', ['gmp'], { n: 2 }, {}, 'rep');
  b.add('globalAvgPool1d', ['rep'], {}, {}, 'gap');
  return b.dense(2, { name: 'out' }).build();
}

function transposeNet(): Graph {
  const b = new GraphBuilder('transpose', [3, 3, 2]);
  b.add('conv2dTranspose', ['input'], { strides: [2, 2], padding: 'same', activation: 'relu' }, { kernel: [[3, 3, 4, 2]], bias: [[4]] }, 't');
  b.add('upSampling2d', ['t'], { size: [1, 2] }, {}, 'up');
  b.add(
    'cropping2d',
    ['up'],
    {
      cropping: [
        [1, 0],
        [0, 2],
      ],
    },
    {},
    'crop',
  );
  b.add('permute', ['crop'], { dims: [2, 1, 3] }, {}, 'perm');
  b.add('prelu', ['perm'], { sharedAxes: [1, 2] }, { alpha: [[1, 1, 4]] }, 'pr');
  b.add('conv2dTranspose', ['pr'], {}, { kernel: [[2, 2, 3, 4]] }, 't2');
  b.add('maximum', ['t2', 't2'], {}, {}, 'mx');
  b.add('globalMaxPool2d', ['mx'], {}, {}, 'gmp');
  return b.dense(2, { name: 'out' }).build();
}

const FIXTURES = { flattenNet, residualNet, concatNet, concatAddNet, depthwiseNet, seNet, groupedNet, recurrentNet, sequenceConvNet, transposeNet };

/** Param data[i] = i + 1: which values survive tells which positions were kept. */
function indexed(g: Graph): Graph {
  for (const p of g.params.values()) p.data = Float32Array.from({ length: p.data.length }, (_, i) => i + 1);
  return g;
}

/** Random weights and biases; batch-norm variances positive. */
function randomize(g: Graph, seed: number): Graph {
  const next = gaussian(rng(seed));
  for (const p of g.params.values()) {
    const variance = p.name.endsWith('movingVariance');
    p.data = Float32Array.from({ length: p.data.length }, () => (variance ? 0.5 + Math.abs(next()) : next()));
  }
  return g;
}

/** Flat indices of a `shape` tensor whose coordinate on `axis` is in `keep`, in row-major order. */
function keptIndices(shape: number[], axis: number, keep: number[]): number[] {
  const inner = sizeOf(shape.slice(axis + 1));
  const out: number[] = [];
  for (let i = 0; i < sizeOf(shape); i++) if (keep.includes(Math.floor(i / inner) % shape[axis])) out.push(i);
  return out;
}

/** After removal from an `indexed` graph: the listed params keep exactly these positions, all others are untouched. */
function expectKept(before: Graph, after: Graph, kept: Record<string, [axis: number, keep: number[]][]>) {
  for (const [name, p] of before.params) {
    const shape = [...p.shape];
    let values = [...p.data];
    for (const [axis, keep] of kept[name] ?? []) {
      values = keptIndices(shape, axis, keep).map((i) => values[i]);
      shape[axis] = keep.length;
    }
    const now = after.params.get(name)!;
    expect(now.shape, name).toEqual(shape);
    expect([...now.data], name).toEqual(values);
  }
}

const range = (n: number) => [...Array(n).keys()];
const byId = (groups: ChannelGroup[], id: string) => {
  const g = groups.find((x) => x.id === id);
  if (!g) throw new Error(`no group '${id}' in ${groups.map((x) => x.id).join(', ')}`);
  return g;
};

// --- structure ---------------------------------------------------------------------------------

describe('channel groups', () => {
  it('flatten: channel c of [H, W, C] owns dense rows c, c+C, c+2C, ...', () => {
    const g = flattenNet();
    const c1 = groupOf(g, 'c1');
    expect(c1).toMatchObject({ id: 'c1', producers: ['c1'], size: 4, consumers: ['d1'], prunable: true });
    const rows = c1.slices.find((s) => s.node === 'd1')!;
    expect(rows).toMatchObject({ role: 'kernel', axis: 0, dim: 16, kind: 'in' });
    expect(rows.positions).toEqual([
      [0, 4, 8, 12],
      [1, 5, 9, 13],
      [2, 6, 10, 14],
      [3, 7, 11, 15],
    ]);
    expect(c1.slices.map((s) => `${s.param}@${s.axis}:${s.kind}`)).toEqual(['c1/kernel@3:out', 'c1/bias@0:out', 'd1/kernel@0:in']);
  });

  it('removal through flatten keeps exactly the other channels’ rows', () => {
    const g = indexed(flattenNet());
    const before = cloneGraph(g);
    removeChannels(g, groupOf(g, 'c1'), [0, 2]);
    validate(g);
    expectKept(before, g, {
      'c1/kernel': [[3, [0, 2]]],
      'c1/bias': [[0, [0, 2]]],
      'd1/kernel': [[0, [0, 2, 4, 6, 8, 10, 12, 14]]],
    });
  });

  it('add couples producers into one group; a consumer inside the group loses rows and columns', () => {
    const g = indexed(residualNet());
    const groups = channelGroups(g);
    expect(groups.map((x) => x.id)).toEqual(['a+b', 'c', 'out']);
    const ab = byId(groups, 'a+b');
    expect(ab).toMatchObject({ producers: ['a', 'b'], size: 3, consumers: ['b', 'c'], prunable: true });
    const before = cloneGraph(g);
    removeChannels(g, ab, [0, 2]);
    validate(g);
    expectKept(before, g, {
      'a/kernel': [[3, [0, 2]]],
      'a/bias': [[0, [0, 2]]],
      'b/kernel': [
        [2, [0, 2]],
        [3, [0, 2]],
      ],
      'b/bias': [[0, [0, 2]]],
      'c/kernel': [[2, [0, 2]]],
    });
  });

  it('concat: each producer owns its offset range of the consumer', () => {
    const g = indexed(concatNet());
    const groups = channelGroups(g);
    expect(byId(groups, 'a').slices.find((s) => s.node === 'c')!.positions).toEqual([[0], [1]]);
    expect(byId(groups, 'b').slices.find((s) => s.node === 'c')!.positions).toEqual([[2], [3], [4]]);
    const before = cloneGraph(g);
    removeChannels(g, byId(groups, 'b'), [0, 2]);
    validate(g);
    expectKept(before, g, { 'b/kernel': [[3, [0, 2]]], 'b/bias': [[0, [0, 2]]], 'c/kernel': [[2, [0, 1, 2, 4]]] });
  });

  it('a stale group (the same param changed by another removal) throws; recomputed groups work', () => {
    const g = concatNet();
    const groups = channelGroups(g);
    removeChannels(g, byId(groups, 'b'), [1]);
    const snapshot = cloneGraph(g);
    expect(() => removeChannels(g, byId(groups, 'a'), [0])).toThrow(/group 'a' is stale: param 'c\/kernel' axis 2 is 3, was 5; recompute channelGroups/);
    expect(g).toEqual(snapshot);
    removeChannels(g, groupOf(g, 'a'), [0]);
    validate(g);
    expect(g.params.get('c/kernel')!.shape).toEqual([1, 1, 2, 2]);
  });

  it('concat + add: one group across all producers, numbered by first appearance', () => {
    const g = indexed(concatAddNet());
    const groups = channelGroups(g);
    expect(groups.map((x) => [x.id, x.size, x.prunable])).toEqual([
      ['B+C+A', 8, true],
      ['out', 2, false],
    ]);
    const grp = groups[0];
    const outOf = (node: string) => grp.slices.find((s) => s.node === node && s.role === 'kernel')!.positions;
    // group channels 0..3 are B's (coupled with C 4..7 through the concat offset), 4..7 are A's (C 0..3)
    expect(outOf('B')).toEqual([[0], [1], [2], [3], [], [], [], []]);
    expect(outOf('C')).toEqual([[4], [5], [6], [7], [0], [1], [2], [3]]);
    expect(outOf('A')).toEqual([[], [], [], [], [0], [1], [2], [3]]);
    const before = cloneGraph(g);
    removeChannels(g, grp, [1, 2, 3, 4, 6, 7]); // drop B0 (= C4) and A1 (= C1)
    validate(g);
    expectKept(before, g, {
      'B/kernel': [[1, [1, 2, 3]]],
      'B/bias': [[0, [1, 2, 3]]],
      'A/kernel': [[1, [0, 2, 3]]],
      'A/bias': [[0, [0, 2, 3]]],
      'C/kernel': [[1, [0, 2, 3, 5, 6, 7]]],
      'C/bias': [[0, [0, 2, 3, 5, 6, 7]]],
      'out/kernel': [[0, [0, 2, 3, 5, 6, 7]]],
    });
  });

  it('refuses a keep-set that would remove every channel of one producer, changing nothing', () => {
    const g = concatAddNet();
    const snapshot = cloneGraph(g);
    expect(() => removeChannels(g, channelGroups(g)[0], [0, 1, 2, 3])).toThrow(/would empty axis 1 of param 'A\/kernel'/);
    expect(g).toEqual(snapshot);
  });

  it('depthwise with multiplier 2, batchNorm, pooling, zeroPad, activations, globalAvgPool', () => {
    const g = indexed(depthwiseNet());
    const p = groupOf(g, 'p');
    expect(p).toMatchObject({ size: 3, consumers: ['q'], prunable: true });
    const pos = (node: string, role: string) => p.slices.find((s) => s.node === node && s.role === role)!.positions;
    expect(pos('dw', 'kernel')).toEqual([[0], [1], [2]]);
    expect(pos('dw', 'bias')).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(pos('bn', 'movingVariance')).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(pos('q', 'kernel')).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    const before = cloneGraph(g);
    removeChannels(g, p, [0, 2]);
    validate(g);
    const pairs: [number, number[]][] = [[0, [0, 1, 4, 5]]];
    expectKept(before, g, {
      'p/kernel': [[3, [0, 2]]],
      'p/bias': [[0, [0, 2]]],
      'dw/kernel': [[2, [0, 2]]],
      'dw/bias': pairs,
      'bn/gamma': pairs,
      'bn/beta': pairs,
      'bn/movingMean': pairs,
      'bn/movingVariance': pairs,
      'q/kernel': [[2, [0, 1, 4, 5]]],
    });
  });

  it('group-wise quantization keeps every row group’s scales of the kept channels, and refuses to regroup rows', () => {
    const p = param(
      'w',
      [4, 3],
      Float32Array.from({ length: 12 }, (_, i) => i / 10),
    );
    setQuant(p, {
      bits: 8,
      signed: true,
      axis: 1,
      group: { size: 2 },
      scale: Float32Array.from([1, 2, 3, 4, 5, 6], (v) => v / 100),
      zeroPoint: Int32Array.from([0, 1, 2, 3, 4, 5]),
    });
    const kept = takeAlongAxis(p, 1, [0, 2]);
    expect(kept.quant).toMatchObject({ axis: 1, group: { size: 2 } });
    expect([...kept.quant!.scale]).toEqual([0.01, 0.03, 0.04, 0.06].map(Math.fround));
    expect([...kept.quant!.zeroPoint]).toEqual([0, 2, 3, 5]);
    validateParam(kept);
    expect([...kept.data]).toEqual([0, 2, 3, 5, 6, 8, 9, 11].map((i) => p.data[i]));
    expect(() => takeAlongAxis(p, 0, [0, 1, 3])).toThrow(
      /param 'w': removing positions on axis 0 would regroup its group-wise quantization \(groups of 2 rows\)/,
    );
  });

  it('output groups and reshapes that change the last axis are unprunable, with a reason', () => {
    const out = byId(channelGroups(flattenNet()), 'out');
    expect(out).toMatchObject({ prunable: false, reason: "cannot remove channels: it is the graph output 'out'" });
    expect(() => removeChannels(flattenNet(), out, [0])).toThrow(/group 'out' is not prunable: cannot remove channels: it is the graph output 'out'/);
    const b = new GraphBuilder('r', [4]).dense(6, { name: 'd' });
    b.add('reshape', ['d'], { targetShape: [2, 3] }, {}, 'rs');
    const g = b.flatten().dense(2, { name: 'out' }).build();
    expect(groupOf(g, 'd')).toMatchObject({ prunable: false, reason: "cannot remove channels: reshape 'rs' maps 6 channels to 3, not 6" });
  });

  it('a reshape that keeps the last axis passes the channels (an SE gate [N, C] -> [N, 1, 1, C])', () => {
    const b = new GraphBuilder('r', [4]).dense(6, { name: 'd' });
    b.add('reshape', ['d'], { targetShape: [1, 1, 6] }, {}, 'rs');
    const g = b.conv2d(2, 1, { name: 'c' }).flatten().dense(2, { name: 'out' }).build();
    const group = groupOf(g, 'd');
    expect(group).toMatchObject({ prunable: true, consumers: ['c'] });
    const x = Float32Array.from({ length: 8 }, (_, i) => i / 4 - 1);
    // Channel 3 of 'd' cannot matter once its reader's weights are zero: removing it keeps the function.
    const k = g.params.get('c/kernel')!;
    for (let f = 0; f < 2; f++) k.data[3 * 2 + f] = 0;
    const before = runReference(g, x, 2);
    removeChannels(g, group, [0, 1, 2, 4, 5]);
    expect(Array.from(runReference(g, x, 2))).toEqual(Array.from(before));
    expect(g.nodes.find((n) => n.name === 'rs')?.attrs.targetShape).toEqual([1, 1, 5]);
  });

  it('a producer op that cannot slice its input keeps the upstream group whole', () => {
    registerOp({
      op: 'kronLike',
      arity: 1,
      params: { a: { kind: 'weight', shape: (ctx) => ctx.param('a')!.shape } },
      inferShape: (ctx) => [null, ctx.param('a')!.shape[1] * 2],
      channels: { kind: 'produce', in: [], out: [] },
    });
    const b = new GraphBuilder('k', [4]).dense(6, { name: 'd' });
    b.add('kronLike', ['d'], {}, { a: [[3, 2]] }, 'k');
    const g = b.dense(2, { name: 'out' }).build();
    const groups = channelGroups(g);
    expect(byId(groups, 'd')).toMatchObject({ prunable: false, reason: "cannot remove channels: kronLike 'k' cannot drop input channels" });
    expect(byId(groups, 'k')).toMatchObject({ prunable: false, reason: "cannot remove channels: kronLike 'k' cannot drop output channels" });
  });

  it('a removal that breaks an op the analysis could not see is rolled back', () => {
    // A per-channel op that forgot to declare its param axis: the analysis does not slice it.
    registerOp({
      op: 'undeclaredScale',
      arity: 1,
      params: { s: { kind: 'other', shape: (ctx) => [ctx.inputs[0].at(-1) as number] } },
      inferShape: (ctx) => ctx.inputs[0],
      channels: { kind: 'elementwise' },
    });
    const b = new GraphBuilder('u', [4]).dense(3, { name: 'd' });
    b.add('undeclaredScale', ['d'], {}, { s: [[3]] }, 'sc');
    const g = b.dense(2, { name: 'out' }).build();
    const snapshot = cloneGraph(g);
    expect(() => removeChannels(g, groupOf(g, 'd'), [0, 1])).toThrow(
      /group 'd': removal would leave the graph invalid, nothing was changed \(node 'sc': param 'sc\/s'/,
    );
    expect(g).toEqual(snapshot);
  });

  it('squeeze-and-excitation: the gate producer is coupled with the gated channels (multiply, through reshape and rescaling)', () => {
    const g = seNet();
    const groups = channelGroups(g);
    expect(groups.map((x) => [x.id, x.size, x.prunable])).toEqual([
      ['p+e', 4, true],
      ['r', 2, true],
      ['q+e2', 3, true],
      ['r2', 2, true],
      ['c', 2, true],
      ['out', 2, false],
    ]);
    const pe = byId(groups, 'p+e');
    expect(pe.consumers).toEqual(['r', 'q']);
    expect(pe.slices.map((x) => `${x.param}@${x.axis}:${x.kind}`)).toEqual([
      'p/kernel@3:out',
      'p/bias@0:out',
      'r/kernel@2:in',
      'e/kernel@3:out',
      'e/bias@0:out',
      'q/kernel@2:in',
    ]);
    removeChannels(g, pe, [0, 3]);
    removeChannels(g, groupOf(g, 'q'), [1]);
    validate(g);
    expect(g.nodes.find((n) => n.name === 'rs')?.attrs.targetShape).toEqual([1, 1, 1]);
    expect(g.params.get('e2/kernel')!.shape).toEqual([1, 1, 2, 1]);
  });

  it('grouped conv: channels at the same in-group position are coupled, on both sides', () => {
    const g = indexed(groupedNet());
    const p = groupOf(g, 'p');
    expect(p).toMatchObject({ size: 2, consumers: ['g'], prunable: true });
    const pos = (group: ChannelGroup, node: string) => group.slices.find((x) => x.node === node && x.role === 'kernel')!.positions;
    expect(pos(p, 'p')).toEqual([
      [0, 2],
      [1, 3],
    ]);
    expect(pos(p, 'g')).toEqual([[0], [1]]);
    const gg = groupOf(g, 'g');
    expect(gg).toMatchObject({ size: 3, consumers: ['h'] });
    expect(pos(gg, 'g')).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    const before = cloneGraph(g);
    removeChannels(g, gg, [0, 2]);
    validate(g);
    expectKept(before, g, { 'g/kernel': [[3, [0, 2, 3, 5]]], 'g/bias': [[0, [0, 2, 3, 5]]], 'h/kernel': [[2, [0, 2]]] });
  });

  it('recurrent layers: a unit owns its column of every gate, its recurrent row, and the next layer’s input row', () => {
    const g = indexed(recurrentNet());
    const groups = channelGroups(g);
    expect(groups.map((x) => [x.id, x.size, x.prunable])).toEqual([
      ['fwd', 3, true],
      ['bwd', 2, true],
      ['gru', 2, true],
      ['rnn', 3, true],
      ['out', 2, false],
    ]);
    const fwd = byId(groups, 'fwd');
    const at = (group: ChannelGroup, node: string, role: string, axis: number) =>
      group.slices.find((x) => x.node === node && x.role === role && x.axis === axis)!.positions;
    expect(at(fwd, 'fwd', 'kernel', 1)).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7, 10],
      [2, 5, 8, 11],
    ]);
    expect(at(fwd, 'fwd', 'recurrentKernel', 0)).toEqual([[0], [1], [2]]);
    expect(at(byId(groups, 'bwd'), 'gru', 'kernel', 0)).toEqual([[3], [4]]);
    expect(at(byId(groups, 'gru'), 'gru', 'bias', 1)).toEqual([
      [0, 2, 4],
      [1, 3, 5],
    ]);
    const before = cloneGraph(g);
    removeChannels(g, fwd, [0, 2]);
    validate(g);
    expectKept(before, g, {
      'fwd/kernel': [[1, [0, 2, 3, 5, 6, 8, 9, 11]]],
      'fwd/recurrentKernel': [
        [0, [0, 2]],
        [1, [0, 2, 3, 5, 6, 8, 9, 11]],
      ],
      'fwd/bias': [[0, [0, 2, 3, 5, 6, 8, 9, 11]]],
      'gru/kernel': [[0, [0, 2, 3, 4]]],
    });
  });

  it('an embedding produces its dimensions; the ids are not channels', () => {
    const b = new GraphBuilder('emb', [4]);
    b.add('embedding', ['input'], {}, { embeddings: [[10, 3], Float32Array.from({ length: 30 }, (_, i) => i / 10)] }, 'e');
    b.add(
      'lstm',
      ['e'],
      {},
      {
        kernel: [[3, 8], Float32Array.from({ length: 24 }, (_, i) => Math.sin(i))],
        recurrentKernel: [[2, 8], Float32Array.from({ length: 16 }, (_, i) => Math.cos(i))],
      },
      'l',
    );
    const g = b.dense(2, { name: 'out' }).build();
    const e = groupOf(g, 'e');
    expect(e).toMatchObject({ size: 3, consumers: ['l'], prunable: true });
    // Dimension 1 read by no weight of the LSTM is dead: removing it keeps the function.
    const k = g.params.get('l/kernel')!;
    for (let j = 0; j < 8; j++) k.data[1 * 8 + j] = 0;
    const ids = Float32Array.of(0, 3, 9, 2, 5, 5, 1, 0);
    const before = runReference(g, ids, 2);
    removeChannels(g, e, [0, 2]);
    expect(g.params.get('e/embeddings')!.shape).toEqual([10, 2]);
    expect(maxDiff(before, runReference(g, ids, 2))).toBe(0);
  });

  it('rejects out-of-range and empty keep-sets', () => {
    const g = flattenNet();
    const c1 = groupOf(g, 'c1');
    expect(() => removeChannels(g, c1, [0, 4])).toThrow(/group 'c1': channel 4 is out of range 0..3/);
    expect(() => removeChannels(g, c1, [])).toThrow(/cannot remove every channel/);
    expect(() => groupOf(g, 'f')).toThrow(/no channel group: 'f' does not produce channels/);
  });
});

describe('removal keeps annotations aligned', () => {
  it('masks, codebook indices and per-channel quantization follow the kept channels', () => {
    const g = randomize(flattenNet(), 3);
    const k = g.params.get('c1/kernel')!; // [1, 1, 3, 4]
    setMask(
      k,
      Uint8Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 0 : 1)),
    );
    const cb = g.params.get('d1/kernel')!; // [16, 5]
    setMask(
      cb,
      Uint8Array.from({ length: 80 }, (_, i) => (i % 7 === 0 ? 0 : 1)),
    );
    setCodebook(cb, { bits: 4, centroids: Float32Array.from(range(16), (i) => i / 4 - 2), indices: Uint16Array.from(range(80), (i) => (i * 5) % 16) });
    setQuant(k, { bits: 8, signed: true, axis: 3, scale: Float32Array.from([0.1, 0.2, 0.3, 0.4]), zeroPoint: Int32Array.from([1, 2, 3, 4]) });
    const bias = g.params.get('c1/bias')!;
    bias.float16 = true;
    bias.frozen = true;
    setQuant(g.params.get('d1/bias')!, { bits: 8, signed: false, scale: Float32Array.from([0.05]), zeroPoint: Int32Array.from([128]) });
    const before = cloneGraph(g);

    removeChannels(g, groupOf(g, 'c1'), [1, 3]);
    validate(g);
    const kNow = g.params.get('c1/kernel')!;
    const keptK = keptIndices([1, 1, 3, 4], 3, [1, 3]);
    expect([...kNow.mask!]).toEqual(keptK.map((i) => k.mask![i]));
    expect([...kNow.quant!.scale]).toEqual([...Float32Array.from([0.2, 0.4])]);
    expect([...kNow.quant!.zeroPoint]).toEqual([2, 4]);
    const snapped = kNow.data.slice();
    applyQuant(kNow); // data is still on the (sliced) grid
    expect(kNow.data).toEqual(snapped);

    const cbNow = g.params.get('d1/kernel')!;
    const keptRows = keptIndices([16, 5], 0, [1, 3, 5, 7, 9, 11, 13, 15]);
    expect([...cbNow.codebook!.indices]).toEqual(keptRows.map((i) => cb.codebook!.indices[i]));
    expect([...cbNow.mask!]).toEqual(keptRows.map((i) => cb.mask![i]));
    expect([...cbNow.data]).toEqual([...cbNow.codebook!.indices].map((c, i) => (cbNow.mask![i] ? cbNow.codebook!.centroids[c] : 0)).map(Math.fround));
    expect(cbNow.codebook!.centroids).toEqual(cb.codebook!.centroids);

    const bNow = g.params.get('c1/bias')!;
    expect(bNow).toMatchObject({ float16: true, frozen: true, shape: [2] });
    expect(g.params.get('d1/bias')!.quant).toEqual(before.params.get('d1/bias')!.quant); // untouched param
  });
});

// --- function ------------------------------------------------------------------------------------

/** Make the channels outside `keep` dead: zero their producer weights, biases and per-channel shifts. */
function killChannels(g: Graph, group: ChannelGroup, keep: number[]) {
  for (const s of group.slices) {
    if (s.kind === 'in' || s.role === 'movingVariance' || s.role === 'gamma') continue;
    const p = g.params.get(s.param)!;
    const removed = s.positions.filter((_, c) => !keep.includes(c)).flat();
    for (const i of keptIndices(p.shape, s.axis, removed)) p.data[i] = 0;
  }
}

const input = (g: Graph, batch: number, seed: number) => {
  const next = gaussian(rng(seed));
  const n = sizeOf(g.nodes[0].attrs.shape as number[]) * batch;
  return Float32Array.from({ length: n }, () => next());
};

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('removing dead channels preserves function', () => {
  for (const [name, make] of Object.entries(FIXTURES)) {
    it(`${name}: outputs equal within 1e-5 for random weights and keep-sets`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 1e6 }), fc.nat(), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (seed, pick, flags) => {
          const g = randomize(make(), seed);
          const prunable = channelGroups(g).filter((x) => x.prunable);
          const group = prunable[pick % prunable.length];
          const keep = range(group.size).filter((c) => flags[c % 8]);
          fc.pre(keep.length > 0 && keep.length < group.size && (name !== 'concatAddNet' || removable(group, keep)));
          killChannels(g, group, keep);
          const x = input(g, 2, seed + 1);
          const before = runReference(g, x, 2);
          removeChannels(g, group, keep);
          validate(g);
          expect(maxDiff(before, runReference(g, x, 2))).toBeLessThan(1e-5);
          expect(cost(g).totals.params).toBeLessThan(cost(randomize(make(), seed)).totals.params);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('control: removing live channels does change the outputs', () => {
    const g = randomize(residualNet(), 11);
    const x = input(g, 2, 5);
    const before = runReference(g, x, 2);
    removeChannels(g, groupOf(g, 'a'), [0]);
    expect(maxDiff(before, runReference(g, x, 2))).toBeGreaterThan(1e-3);
  });

  it('vggSmall with batch norm: halve every prunable group, one at a time', () => {
    const g = vggSmall(7, { batchNorm: true });
    const start = cost(g).totals;
    for (const id of ['conv1', 'conv2', 'conv3', 'conv4', 'fc1']) {
      const group = groupOf(g, id); // recomputed after each removal
      removeChannels(g, group, range(group.size / 2));
    }
    validate(g);
    expect(g.params.get('conv2_bn/gamma')!.shape).toEqual([16]);
    expect(g.params.get('fc1/kernel')!.shape).toEqual([7 * 7 * 32, 128]);
    expect(g.params.get('fc2/kernel')!.shape).toEqual([128, 10]);
    const end = cost(g).totals;
    expect(end.params).toBe(9 * 16 + 9 * 16 * 16 + 9 * 16 * 32 + 9 * 32 * 32 + 4 * 2 * (16 + 32) + 1568 * 128 + 128 + 1290);
    expect(end.macs).toBeLessThan(start.macs / 3);
  });
});

/** In the concat+add net, every producer must keep at least one channel. */
function removable(group: ChannelGroup, keep: number[]): boolean {
  return group.slices.filter((s) => s.kind === 'out').every((s) => keep.some((c) => s.positions[c].length > 0));
}
