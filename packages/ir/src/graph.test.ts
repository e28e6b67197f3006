import { describe, expect, it } from 'vitest';
import {
  cloneGraph,
  consumers,
  getNode,
  GraphBuilder,
  GraphError,
  inferShapes,
  lenet300100,
  lenet5,
  nodeParam,
  param,
  paramUses,
  setMask,
  sortNodes,
  topoSort,
  validate,
  weightParams,
  type Graph,
} from './index.js';

const master = lenet300100();

/** A fresh LeNet-300-100 after `edit`; validate must throw a GraphError matching `message`. */
function expectInvalid(edit: (g: Graph) => void, message: RegExp, node?: string) {
  const g = cloneGraph(master);
  edit(g);
  let error: unknown;
  try {
    validate(g);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(GraphError);
  expect((error as Error).message).toMatch(message);
  if (node !== undefined) expect((error as GraphError).node).toBe(node);
}

describe('validate names the node and the problem', () => {
  it('accepts the reference models', () => {
    expect(() => validate(master)).not.toThrow();
    expect(() => validate(lenet5())).not.toThrow();
  });
  it('unknown op', () => {
    expectInvalid((g) => (getNode(g, 'fc2').op = 'fancy'), /^node 'fc2': unknown op 'fancy' \(registered: .*dense.*\)/, 'fc2');
  });
  it('dangling input', () => {
    expectInvalid((g) => (getNode(g, 'fc2').inputs = ['nowhere']), /^node 'fc2': input 'nowhere' is not produced by any node/, 'fc2');
  });
  it('cycle, with its path', () => {
    expectInvalid((g) => (getNode(g, 'fc1').inputs = ['fc2']), /cycle: fc1 -> fc2 -> fc1|cycle: fc2 -> fc1 -> fc2/);
    expectInvalid((g) => (getNode(g, 'fc1').inputs = ['fc1']), /^node 'fc1': cycle: fc1 -> fc1/, 'fc1');
  });
  it('add of different shapes', () => {
    expectInvalid(
      (g) => g.nodes.push({ name: 'sum', op: 'add', inputs: ['fc1', 'fc2'], attrs: {}, params: {} }),
      /^node 'sum': inputs have different shapes: \[null, 300\] vs \[null, 100\]/,
      'sum',
    );
  });
  it('dense kernel that does not fit its input', () => {
    expectInvalid(
      (g) => g.params.set('fc2/kernel', param('fc2/kernel', [299, 100])),
      /^node 'fc2': param 'fc2\/kernel' \(role 'kernel'\) has shape \[299, 100\], expected \[300, 100\]/,
      'fc2',
    );
  });
  it('param shape that does not fit the op (bias)', () => {
    expectInvalid(
      (g) => g.params.set('fc1/bias', param('fc1/bias', [301])),
      /^node 'fc1': param 'fc1\/bias' \(role 'bias'\) has shape \[301\], expected \[300\]/,
      'fc1',
    );
  });
  it('param data that does not fill its shape', () => {
    expectInvalid((g) => (g.params.get('fc3/bias')!.data = new Float32Array(9)), /^node 'fc3': param 'fc3\/bias' has 9 values for shape \[10\]/, 'fc3');
  });
  it('missing required param', () => {
    expectInvalid((g) => delete getNode(g, 'fc1').params.kernel, /^node 'fc1': missing param role 'kernel'/, 'fc1');
  });
  it('param bound to a name that does not exist', () => {
    expectInvalid((g) => g.params.delete('fc1/bias'), /^node 'fc1': param 'fc1\/bias' \(role 'bias'\) does not exist/, 'fc1');
  });
  it('unknown param role, including inherited object keys', () => {
    expectInvalid((g) => (getNode(g, 'fc1').params.gamma = 'fc1/bias'), /^node 'fc1': op 'dense' has no param role 'gamma'/, 'fc1');
    const inherited: string = 'constructor';
    expectInvalid((g) => (getNode(g, 'fc1').params[inherited] = 'fc1/bias'), /op 'dense' has no param role 'constructor'/);
  });
  it('duplicate node name', () => {
    expectInvalid((g) => g.nodes.push({ ...getNode(g, 'fc3'), inputs: ['fc1'] }), /^node 'fc3': duplicate node name/, 'fc3');
  });
  it('no outputs, unknown output, input problems, mislabelled param', () => {
    expectInvalid((g) => (g.outputs = []), /graph 'lenet-300-100' has no outputs/);
    expectInvalid((g) => (g.outputs = ['fc9']), /graph output 'fc9' is not a node/);
    expectInvalid((g) => (g.inputs = ['fc1']), /^node 'fc1': graph input is a 'dense' node, not 'input'/);
    expectInvalid((g) => (g.inputs = []), /^node 'input': input node is not listed in graph.inputs/);
    expectInvalid((g) => g.params.set('alias', g.params.get('fc1/bias')!), /param stored under 'alias' is named 'fc1\/bias'/);
  });
  it('annotations that do not fit their param', () => {
    expectInvalid((g) => (g.params.get('fc3/bias')!.mask = new Uint8Array(3)), /param 'fc3\/bias': mask has 3 entries, param has 10/);
    expectInvalid(
      (g) => (g.params.get('fc3/bias')!.codebook = { bits: 1, centroids: new Float32Array(2), indices: new Uint16Array(10).fill(2) }),
      /param 'fc3\/bias': codebook index 2 at 0 is out of range/,
    );
    const quant = { bits: 8, signed: true, axis: 1, scale: new Float32Array(3), zeroPoint: new Int32Array(3) };
    expectInvalid((g) => (g.params.get('fc3/kernel')!.quant = quant), /param 'fc3\/kernel': quantization needs 10 scale\/zero-point entries, got 3\/3/);
  });
  it('wrong arity', () => {
    expectInvalid((g) => getNode(g, 'fc2').inputs.push('fc1'), /^node 'fc2': op 'dense' takes 1 input\(s\), got 2/);
  });
});

describe('graph utilities', () => {
  it('topoSort orders readers after producers and is stable on sorted graphs', () => {
    const g = lenet5();
    const names = g.nodes.map((n) => n.name);
    expect(topoSort(g).map((n) => n.name)).toEqual(names);
    g.nodes.reverse();
    sortNodes(g);
    expect(g.nodes.map((n) => n.name)).toEqual(names);
  });
  it('topoSort handles graphs deeper than the call stack', () => {
    const g = lenet300100();
    const last = 'fc3';
    for (let i = 0; i < 20_000; i++) g.nodes.push({ name: `a${i}`, op: 'dropout', inputs: [i === 0 ? last : `a${i - 1}`], attrs: {}, params: {} });
    g.outputs = ['a19999'];
    g.nodes.reverse();
    expect(topoSort(g).at(-1)!.name).toBe('a19999');
    expect(inferShapes(g).get('a19999')).toEqual([null, 10]);
  });
  it('consumers and param uses', () => {
    const g = lenet300100();
    expect(
      consumers(g)
        .get('fc1')!
        .map((n) => n.name),
    ).toEqual(['fc2']);
    expect(consumers(g).get('fc3')).toEqual([]);
    expect(paramUses(g).map((u) => `${u.node.name}.${u.role}`)).toEqual(['fc1.kernel', 'fc1.bias', 'fc2.kernel', 'fc2.bias', 'fc3.kernel', 'fc3.bias']);
    expect(weightParams(g).map((u) => u.param.name)).toEqual(['fc1/kernel', 'fc2/kernel', 'fc3/kernel']);
    expect(nodeParam(g, getNode(g, 'fc1'), 'gamma')).toBeUndefined();
  });
  it('cloneGraph is deep: editing the copy leaves the original alone', () => {
    const g = new GraphBuilder('tiny', [4]).dense(3, { name: 'fc1', activation: 'relu' }).dense(2, { name: 'fc2' }).build();
    const k = g.params.get('fc1/kernel')!;
    setMask(k, new Uint8Array(k.data.length).fill(1));
    k.quant = { bits: 8, signed: true, scale: new Float32Array([0.1]), zeroPoint: new Int32Array([0]) };
    const c = cloneGraph(g);
    expect(c).toEqual(g);
    const ck = c.params.get('fc1/kernel')!;
    ck.data[0] = 42;
    ck.mask![0] = 0;
    ck.quant!.scale[0] = 7;
    getNode(c, 'fc1').attrs.activation = 'tanh';
    c.meta.x = 1;
    expect(k.data[0]).not.toBe(42);
    expect(k.mask![0]).toBe(1);
    expect(k.quant.scale[0]).toBeCloseTo(0.1);
    expect(getNode(g, 'fc1').attrs.activation).toBe('relu');
    expect(g.meta.x).toBeUndefined();
    expect('codebook' in ck).toBe(false); // no undefined keys appear
  });
  it('param checks its data length', () => {
    expect(() => param('w', [2, 3], new Float32Array(5))).toThrow(/param 'w': data has 5 values, shape \[2, 3\] needs 6/);
    expect(param('w', [2, 3]).data).toEqual(new Float32Array(6));
  });
});
