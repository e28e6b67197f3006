/** Graph-model import and export: detection, non-float weights, shape constants after channel removal, and errors that name the node, op and file. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { groupOf, insertAfter, registerOp, removeChannels } from '@condense/ir';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromArtifacts } from '../io/import.js';
import { tf, useCpu } from '../io/test-helpers.js';
import { toGraphModelArtifacts } from './export.js';
import { isGraphModelJson } from './parse.js';
import { toGraphModel } from './run.js';
import { GRAPH_FIXTURES } from './testing.js';

/** A fixture's files as in-memory artifacts (model.json fields + weight specs and data). */
async function artifacts(name: string): Promise<tf.io.ModelArtifacts> {
  const dir = join(GRAPH_FIXTURES, name);
  const { weightsManifest, ...json } = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  const data = new Uint8Array(await readFile(join(dir, weightsManifest[0].paths[0])));
  return { ...json, weightSpecs: weightsManifest[0].weights, weightData: data.slice().buffer };
}

/** The weight data without one float32 weight's bytes. */
function withoutWeight(a: tf.io.ModelArtifacts, name: string): ArrayBuffer {
  const data = new Uint8Array(a.weightData as ArrayBuffer);
  let at = 0;
  const keep: number[] = [];
  for (const w of a.weightSpecs!) {
    const len = w.shape.reduce((x, y) => x * y, 1) * 4;
    if (w.name !== name) keep.push(...data.subarray(at, at + len));
    at += len;
  }
  return Uint8Array.from(keep).buffer;
}

const constNode = (name: string, dtype: string, dims: number[]) => ({
  name,
  op: 'Const',
  attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: dims.length ? { dim: dims.map((d) => ({ size: String(d) })) } : {} } } },
});

beforeAll(async () => {
  await useCpu();
});

describe('graph-model import', () => {
  it('tells a graph model from a layers model, with or without the format field', async () => {
    const a = await artifacts('no-format');
    expect(a.format).toBeUndefined();
    expect(isGraphModelJson(a as Record<string, unknown>)).toBe(true);
    expect(isGraphModelJson({ modelTopology: { class_name: 'Sequential', config: {} } })).toBe(false);
    expect(isGraphModelJson({ format: 'layers-model', modelTopology: { node: [] } })).toBe(false);
    expect(fromArtifacts(a).nodes.find((n) => n.name === 'StatefulPartitionedCall/dense/add')?.op).toBe('dense');
  });

  it('keeps int32, bool and string weights, writes their bytes back and runs them', async () => {
    const strings = ['héllo', '', 'tf'].map((s) => new TextEncoder().encode(s));
    const stringBytes = strings.flatMap((b) => [...new Uint8Array(Uint32Array.of(b.length).buffer), ...b]);
    const weightData = Uint8Array.from([...new Uint8Array(Int32Array.of(7, -3).buffer), 1, 0, 1, ...stringBytes]).buffer;
    const identity = (name: string, input: string, type: string) => ({ name, op: 'Identity', input: [input], attr: { T: { type } } });
    const a: tf.io.ModelArtifacts = {
      format: 'graph-model',
      modelTopology: {
        node: [
          constNode('ints', 'DT_INT32', [2]),
          constNode('flags', 'DT_BOOL', [3]),
          constNode('words', 'DT_STRING', [3]),
          identity('ints_out', 'ints', 'DT_INT32'),
          identity('flags_out', 'flags', 'DT_BOOL'),
          identity('words_out', 'words', 'DT_STRING'),
        ],
        versions: { producer: 1 },
      },
      weightSpecs: [
        { name: 'ints', shape: [2], dtype: 'int32' },
        { name: 'flags', shape: [3], dtype: 'bool' },
        { name: 'words', shape: [3], dtype: 'string' },
      ],
      weightData,
    };
    const graph = fromArtifacts(a);
    expect(graph.nodes.find((n) => n.name === 'ints')?.attrs).toMatchObject({ dtype: 'int32', shape: [2], values: [7, -3] });
    const out = toGraphModelArtifacts(graph).artifacts;
    expect(new Uint8Array(out.weightData as ArrayBuffer)).toEqual(new Uint8Array(weightData));
    expect(out.weightSpecs).toEqual(a.weightSpecs);
    const model = toGraphModel(graph);
    const [ints, flags, words] = model.execute({}, ['ints_out', 'flags_out', 'words_out']) as tf.Tensor[];
    expect(Array.from(ints.dataSync())).toEqual([7, -3]);
    expect(Array.from(flags.dataSync())).toEqual([1, 0, 1]);
    expect(words.dataSync() as unknown as string[]).toEqual(['héllo', '', 'tf']);
    model.dispose();
  });

  it('keeps the initializer graph and the weights of its Consts', async () => {
    const a = await artifacts('frozen-classifier');
    const data = new Uint8Array(a.weightData as ArrayBuffer);
    const withInit: tf.io.ModelArtifacts = {
      ...a,
      modelInitializer: {
        node: [constNode('init/size', 'DT_INT32', []), { name: 'init/out', op: 'Identity', input: ['init/size'], attr: { T: { type: 'DT_INT32' } } }],
        versions: {},
      },
      weightSpecs: [...a.weightSpecs!, { name: 'init/size', shape: [], dtype: 'int32' }],
      weightData: Uint8Array.from([...data, ...new Uint8Array(Int32Array.of(5).buffer)]).buffer,
    };
    const graph = fromArtifacts(withInit);
    const out = toGraphModelArtifacts(graph).artifacts;
    expect(out.modelInitializer).toEqual(withInit.modelInitializer);
    expect(out.weightSpecs).toEqual(withInit.weightSpecs);
    expect(new Uint8Array(out.weightData as ArrayBuffer)).toEqual(new Uint8Array(withInit.weightData as ArrayBuffer));
    const model = toGraphModel(graph);
    expect((model.predict(tf.zeros([1, 16, 16, 1])) as tf.Tensor).shape).toEqual([1, 10]);
    model.dispose();
  });

  it('a Placeholder without a batch dimension (scalar, or of unknown rank) is an opaque node that TF.js feeds', async () => {
    const a = await artifacts('nms');
    const topo = structuredClone(a.modelTopology) as { node: { name: string; op: string; input?: string[]; attr?: Record<string, unknown> }[] };
    // The NMS score threshold becomes a scalar input.
    const t = topo.node.find((n) => n.name === 'StatefulPartitionedCall/non_max_suppression/score_threshold')!;
    Object.assign(t, { op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: {} } } });
    const graph = fromArtifacts({
      ...a,
      modelTopology: topo,
      weightSpecs: a.weightSpecs!.filter((w) => w.name !== t.name),
      weightData: withoutWeight(a, t.name),
    });
    expect(graph.inputs).toEqual(['image']);
    expect(graph.nodes.find((n) => n.name === t.name)?.op).toBe('tfOp');
    const model = toGraphModel(graph);
    const keep = async (threshold: number) =>
      ((await model.executeAsync({ image: tf.zeros([1, 16, 16, 3]), [t.name]: tf.scalar(threshold) }, ['Identity_2'])) as tf.Tensor).shape[0];
    expect(await keep(2)).toBe(0); // no score is above 2
    expect(await keep(0)).toBeGreaterThan(0);
    model.dispose();
  });

  it('rewrites the shape constants a channel removal changes: a Reshape target after a pruned conv', async () => {
    const graph = fromArtifacts(await artifacts('frozen-classifier'));
    // Zero conv channel 3 first: removing it then cannot change the output (relu(0) = 0 feeds the dense).
    const kernel = graph.params.get('conv/Conv2D_weights')!;
    const bias = graph.params.get('conv/Conv2D_bn_offset')!;
    kernel.data.forEach((_, i) => i % 4 === 3 && (kernel.data[i] = 0));
    bias.data[3] = 0;
    const x = tf.randomUniform([2, 16, 16, 1], -1, 1, 'float32', 5);
    const before = toGraphModel(graph);
    const want = (before.predict(x) as tf.Tensor).dataSync();
    removeChannels(graph, groupOf(graph, 'Relu'), [0, 1, 2]);
    const out = toGraphModelArtifacts(graph);
    const shapeConst = [...out.sources].find(([name]) => name === 'Reshape/shape')![1];
    expect('values' in shapeConst && shapeConst.values.values).toEqual([-1, 192]);
    const after = toGraphModel(graph);
    const got = (after.predict(x) as tf.Tensor).dataSync();
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    before.dispose();
    after.dispose();
  });
});

describe('errors name the node, its op and the file', () => {
  it('a Const without a weight, an input that no node produces, a cycle', async () => {
    const a = await artifacts('frozen-classifier');
    const noWeight = { ...a, weightSpecs: a.weightSpecs!.filter((w) => w.name !== 'dense/bias') };
    expect(() => fromArtifacts(noWeight, 'm/model.json')).toThrow(
      /^m\/model\.json: Const node 'dense\/bias' has no weight of that name in the weights manifest$/,
    );

    type Topology = { node: { name: string; op: string; input?: string[]; attr?: Record<string, unknown> }[] };
    const dangling = structuredClone(a.modelTopology) as Topology;
    dangling.node.find((n) => n.name === 'Softmax')!.input = ['nowhere'];
    expect(() => fromArtifacts({ ...a, modelTopology: dangling }, 'm/model.json')).toThrow(
      /m\/model\.json: node 'Softmax' \(Softmax\) reads 'nowhere', which no node produces/,
    );

    const cycle = structuredClone(a.modelTopology) as Topology;
    cycle.node.find((n) => n.name === 'Reshape')!.input = ['Softmax', 'Reshape/shape'];
    expect(() => fromArtifacts({ ...a, modelTopology: cycle }, 'm/model.json')).toThrow(
      /m\/model\.json: the nodes form a cycle through '\w+' \(\w+\) that is not a loop's NextIteration -> Merge edge/,
    );
  });

  it('an op TF.js cannot run imports (opaque) and fails when the model is built; an IR op without a GraphModel form fails on export', async () => {
    const a = await artifacts('nms');
    const topo = structuredClone(a.modelTopology) as { node: { name: string; op: string }[] };
    topo.node.find((n) => n.name === 'StatefulPartitionedCall/Where')!.op = 'NoSuchOp';
    const graph = fromArtifacts({ ...a, modelTopology: topo }, 'nms/model.json');
    const model = toGraphModel(graph);
    const image = tf.zeros([1, 16, 16, 3]);
    await expect(model.executeAsync(image)).rejects.toThrow(/^nms\/model\.json: node 'StatefulPartitionedCall\/Where' \(NoSuchOp\): TF.js cannot run this op/);
    image.dispose();
    model.dispose();

    registerOp({ op: 'testScale', arity: 1, inferShape: (ctx) => ctx.inputs[0], channels: { kind: 'elementwise' } });
    const g = fromArtifacts(await artifacts('frozen-classifier'));
    insertAfter(g, 'Relu', { name: 'Relu/scale', op: 'testScale', attrs: {}, params: {} });
    expect(() => toGraphModelArtifacts(g)).toThrow(/^node 'Relu\/scale' \(testScale\): op 'testScale' has no GraphModel form \(ops that do: .*conv2d/);
  });
});
