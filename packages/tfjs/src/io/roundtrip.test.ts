import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getNode, type Graph } from '@condense/ir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromArtifacts, loadModel, saveModel, toArtifacts } from './index.js';
import { artifactsOf, loadStock, maxAbsDiff, predict, randomInput, randomizeWeights, tempDir, tf, tfl, useCpu, writeModelFiles } from './test-helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  await useCpu();
  tmp = await tempDir();
});
afterAll(() => tmp.done());

/** model -> files (small shards) -> loadModel -> saveModel -> stock tf.loadLayersModel; predictions must agree. */
async function roundTrip(
  model: tfl.LayersModel,
  name: string,
  topology?: (t: unknown) => unknown,
): Promise<{ graph: Graph; exported: tfl.LayersModel; json: { modelTopology: { class_name: string; config: { layers: { class_name: string }[] } } } }> {
  randomizeWeights(model);
  const a = await artifactsOf(model);
  const src = join(tmp.dir, `${name}-src`);
  await writeModelFiles(src, a, 1000, topology ? topology(structuredClone(a.modelTopology)) : a.modelTopology);
  const graph = await loadModel(src);
  const out = join(tmp.dir, `${name}-out`);
  const saved = await saveModel(graph, out, { shardBytes: 2048 });
  expect(saved.notes).toEqual([]);
  const exported = await loadStock(out);
  const x = randomInput(model);
  expect(maxAbsDiff(predict(exported, x), predict(model, x))).toBeLessThan(1e-5);
  const json = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
  return { graph, exported, json };
}

describe('loadModel / saveModel round trip through stock tf.loadLayersModel', () => {
  it('a Sequential CNN with most layer kinds', async () => {
    const m = tfl.sequential();
    m.add(
      tfl.layers.zeroPadding2d({
        inputShape: [10, 10, 3],
        padding: [
          [1, 0],
          [2, 1],
        ],
      }),
    );
    m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', strides: 1 }));
    m.add(tfl.layers.batchNormalization({ epsilon: 0.01 }));
    m.add(tfl.layers.reLU({ maxValue: 6 }));
    m.add(tfl.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: 'same', depthMultiplier: 2 }));
    m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tfl.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }));
    m.add(tfl.layers.activation({ activation: 'tanh' }));
    m.add(tfl.layers.dropout({ rate: 0.3 }));
    m.add(tfl.layers.flatten());
    m.add(tfl.layers.dense({ units: 12, activation: 'sigmoid' }));
    m.add(tfl.layers.leakyReLU({ alpha: 0.1 }));
    m.add(tfl.layers.reshape({ targetShape: [3, 4] }));
    m.add(tfl.layers.dense({ units: 4, useBias: false }));
    m.add(tfl.layers.flatten());
    m.add(tfl.layers.dense({ units: 5 }));
    m.add(tfl.layers.softmax());
    const { graph, json } = await roundTrip(m, 'seq');
    expect(json.modelTopology.class_name).toBe('Sequential');
    expect(json.modelTopology.config.layers.map((l) => l.class_name)).toEqual(m.layers.map((l) => l.getClassName()));
    // IR attrs are the IR's own: fused activation, relu6, leakyRelu alpha, split separable conv.
    const ops = graph.nodes.map((n) => n.op);
    expect(ops).toEqual([
      'input',
      'zeroPad2d',
      'conv2d',
      'batchNorm',
      'activation',
      'depthwiseConv2d',
      'conv2d',
      'maxPool2d',
      'avgPool2d',
      'activation',
      'dropout',
      'flatten',
      'dense',
      'activation',
      'reshape',
      'dense',
      'flatten',
      'dense',
      'activation',
    ]);
    expect(graph.nodes[2].attrs).toEqual({ padding: 'valid', activation: 'relu' });
    expect(graph.nodes[4].attrs).toEqual({ fn: 'relu6' });
    expect(graph.nodes[5].attrs).toMatchObject({ padding: 'same', depthMultiplier: 2 });
    expect(graph.nodes[13].attrs).toEqual({ fn: 'leakyRelu', alpha: 0.1 });
    expect(graph.nodes[0].attrs).toEqual({ shape: [10, 10, 3] });
  });

  it('a MobileNet-style residual block (functional)', async () => {
    const inp = tfl.input({ shape: [12, 12, 8] });
    let x = tfl.layers.zeroPadding2d({ padding: 1 }).apply(inp) as tfl.SymbolicTensor;
    x = tfl.layers.depthwiseConv2d({ kernelSize: 3, useBias: false }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization().apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.reLU({ maxValue: 6 }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ center: false }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.add().apply([inp, x]) as tfl.SymbolicTensor;
    x = tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, depthMultiplier: 2, padding: 'same', activation: 'relu6' }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 4, activation: 'softmax' }).apply(x) as tfl.SymbolicTensor;
    const { graph, json } = await roundTrip(tfl.model({ inputs: inp, outputs: out }), 'mobilenet');
    expect(json.modelTopology.class_name).toBe('Model');
    const add = graph.nodes.find((n) => n.op === 'add')!;
    expect(add.inputs[0]).toBe(graph.inputs[0]);
    const bn = graph.nodes.filter((n) => n.op === 'batchNorm');
    expect(Object.keys(bn[1].params).sort()).toEqual(['gamma', 'movingMean', 'movingVariance']);
  });

  it('an Inception-style block: parallel branches and a concatenation', async () => {
    const inp = tfl.input({ shape: [9, 9, 4] });
    const b1 = tfl.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'relu' }).apply(inp) as tfl.SymbolicTensor;
    let b2 = tfl.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu' }).apply(inp) as tfl.SymbolicTensor;
    b2 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(b2) as tfl.SymbolicTensor;
    let b3 = tfl.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }).apply(inp) as tfl.SymbolicTensor;
    b3 = tfl.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(b3) as tfl.SymbolicTensor;
    const b4 = tfl.layers.separableConv2d({ filters: 3, kernelSize: 3, padding: 'same', dilationRate: 2 }).apply(inp) as tfl.SymbolicTensor;
    let x = tfl.layers.concatenate({ axis: -1 }).apply([b1, b2, b3, b4]) as tfl.SymbolicTensor;
    x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 3 }).apply(x) as tfl.SymbolicTensor;
    const { graph, json } = await roundTrip(tfl.model({ inputs: inp, outputs: out }), 'inception');
    const concat = graph.nodes.find((n) => n.op === 'concat')!;
    expect(concat.inputs).toHaveLength(4);
    expect(json.modelTopology.config.layers.filter((l) => l.class_name === 'SeparableConv2D')).toHaveLength(1);
  });

  it('a SeparableConv2D whose depthwise half was changed is written as two layers', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.separableConv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, strides: 2, activation: 'relu' }));
    m.add(tfl.layers.flatten());
    randomizeWeights(m);
    const graph = fromArtifacts(await artifactsOf(m));
    const [dw] = graph.nodes.filter((n) => n.op === 'depthwiseConv2d');
    expect(dw.attrs).toMatchObject({ strides: [2, 2], padding: 'valid' });
    // Give the depthwise half a (zero) bias: no SeparableConv2D has that, so it becomes DepthwiseConv2D + Conv2D.
    graph.params.set(`${dw.name}/bias`, { name: `${dw.name}/bias`, shape: [3], data: new Float32Array(3) });
    dw.params.bias = `${dw.name}/bias`;
    const { artifacts } = toArtifacts(graph);
    const layers = (artifacts.modelTopology as { config: { layers: { class_name: string }[] } }).config.layers;
    expect(layers.map((l) => l.class_name)).toEqual(['DepthwiseConv2D', 'Conv2D', 'Flatten']);
    const exported = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    const x = randomInput(m);
    expect(maxAbsDiff(predict(exported, x), predict(m, x))).toBeLessThan(1e-5);
  });

  it('keeps names, initializers, frozen layers and the model class', async () => {
    const m = tfl.sequential({ name: 'tiny' });
    m.add(tfl.layers.dense({ inputShape: [4], units: 3, name: 'fc1', kernelInitializer: 'heNormal', trainable: false }));
    m.add(tfl.layers.dense({ units: 2, name: 'fc2' }));
    const graph = fromArtifacts(await artifactsOf(m));
    expect(graph.inputs).toEqual(['fc1_input']);
    expect(getNode(graph, 'fc1').params).toEqual({ kernel: 'fc1/kernel', bias: 'fc1/bias' });
    expect(graph.params.get('fc1/kernel')!.frozen).toBe(true);
    expect(graph.params.get('fc2/kernel')!.frozen).toBeUndefined();
    const { artifacts } = toArtifacts(graph);
    const topo = artifacts.modelTopology as { class_name: string; config: { name: string; layers: { config: Record<string, unknown> }[] } };
    expect(topo.class_name).toBe('Sequential');
    expect(topo.config.name).toBe('tiny');
    expect(topo.config.layers[0].config).toMatchObject({
      name: 'fc1',
      trainable: false,
      batch_input_shape: [null, 4],
      kernel_initializer: { class_name: 'VarianceScaling' },
    });
    const back = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    expect(back.layers[0].trainable).toBe(false);
    expect(back.layers.map((l) => l.name)).toEqual(['fc1', 'fc2']);
  });

  it('activations: gelu, ELU, and a fused leaky relu (split into two layers on export)', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.dense({ inputShape: [6], units: 5, activation: 'gelu' }));
    m.add(tfl.layers.activation({ activation: 'gelu' }));
    m.add(tfl.layers.elu({}));
    m.add(tfl.layers.dense({ units: 4, name: 'pre' }));
    m.add(tfl.layers.leakyReLU({ alpha: 0.1, name: 'leaky' }));
    m.add(tfl.layers.dense({ units: 2 }));
    const { graph } = await roundTrip(m, 'acts');
    expect(graph.nodes[1].attrs).toEqual({ activation: 'gelu' });
    expect(graph.nodes[2].attrs).toEqual({ fn: 'gelu' });
    expect(graph.nodes[3].attrs).toEqual({ fn: 'elu' });
    // Fuse the leaky relu into the dense before it: tfjs-layers has no fused leaky relu, so export splits it again.
    getNode(graph, 'pre').attrs = { activation: 'leakyRelu', alpha: 0.1 };
    graph.nodes = graph.nodes.filter((n) => n.name !== 'leaky');
    for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === 'leaky' ? 'pre' : i));
    const { artifacts } = toArtifacts(graph);
    const layers = (artifacts.modelTopology as { config: { layers: { class_name: string; config: { name: string } }[] } }).config.layers;
    expect(layers.map((l) => l.class_name)).toEqual(['Dense', 'Activation', 'ELU', 'Dense', 'LeakyReLU', 'Dense']);
    expect(layers.slice(3, 5).map((l) => l.config.name)).toEqual(['pre_preact', 'pre']);
    const exported = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    const x = randomInput(m);
    expect(maxAbsDiff(predict(exported, x), predict(m, x))).toBeLessThan(1e-5);
    // tfjs-layers' ELU rejects alpha != 1 and it cannot load 'gelu_new': export says so instead of writing a model TF.js cannot load.
    graph.nodes[3].attrs.alpha = 0.5;
    expect(() => toArtifacts(graph)).toThrow(/node 'elu_ELU\d+' \(op 'activation'\): activation \{"fn":"elu","alpha":0.5\} has no TF.js layer/);
    graph.nodes[3].attrs = { fn: 'elu' };
    graph.nodes[1].attrs.approximate = true;
    expect(() => toArtifacts(graph)).toThrow(/op 'dense'\): activation \{"fn":"gelu","approximate":true\} has no TF.js layer/);
  });

  it('writes keepDims global pooling (no tfjs-layers equivalent) as pooling + reshape', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3 }));
    m.add(tfl.layers.globalAveragePooling2d({}));
    randomizeWeights(m);
    const graph = fromArtifacts(await artifactsOf(m));
    const pool = graph.nodes.find((n) => n.op === 'globalAvgPool2d')!;
    pool.attrs.keepDims = true;
    const { artifacts } = toArtifacts(graph);
    const exported = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    expect(exported.outputs[0].shape).toEqual([null, 1, 1, 3]);
    const x = randomInput(m);
    expect(maxAbsDiff(predict(exported, x), predict(m, x))).toBeLessThan(1e-5);
  });
});
