/**
 * Keras exports: model.json files as the Keras -> TF.js converter writes them (Keras 2: nested
 * model_config, class 'Functional', keras-style names and configs; Keras 3: inbound_nodes
 * objects with keras_history, batch_shape, DTypePolicy). Derived from tfjs-layers models so the
 * predictions can be checked against the original.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from './index.js';
import { artifactsOf, loadStock, maxAbsDiff, predict, randomInput, randomizeWeights, tempDir, tf, tfl, useCpu, writeModelFiles } from './test-helpers.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  await useCpu();
  tmp = await tempDir();
});
afterAll(() => tmp.done());

function functionalModel(): tfl.LayersModel {
  const inp = tfl.input({ shape: [8, 8, 3] });
  const c = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(inp) as tfl.SymbolicTensor;
  const b = tfl.layers.batchNormalization().apply(c) as tfl.SymbolicTensor;
  const r = tfl.layers.reLU({ maxValue: 6 }).apply(b) as tfl.SymbolicTensor;
  const side = tfl.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(inp) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([r, side]) as tfl.SymbolicTensor;
  const cat = tfl.layers.concatenate().apply([sum, side]) as tfl.SymbolicTensor;
  const g = tfl.layers.globalAveragePooling2d({}).apply(cat) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, activation: 'softmax' }).apply(g) as tfl.SymbolicTensor;
  const m = tfl.model({ inputs: inp, outputs: out });
  randomizeWeights(m);
  return m;
}

/** Keras-style layer names (conv2d, conv2d_1, ...) for the tfjs ones, applied to the topology and the weights. */
function kerasNames(layers: Obj[]): Map<string, string> {
  const counts = new Map<string, number>();
  const names = new Map<string, string>();
  for (const l of layers) {
    const base = l.class_name === 'InputLayer' ? 'input' : l.class_name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    names.set(l.config.name, n === 0 ? base : `${base}_${n}`);
  }
  return names;
}

const renameWeights = (a: tf.io.ModelArtifacts, names: Map<string, string>, prefix = '') => ({
  ...a,
  weightSpecs: a.weightSpecs!.map((w) => ({ ...w, name: prefix + w.name.replace(/^[^/]+/, (l) => names.get(l) ?? l) })),
});

/** tfjs-layers functional topology -> what the converter writes for a tf.keras 2.x Functional model. */
function keras2Functional(topo: Obj): { topology: Obj; names: Map<string, string> } {
  const cfg = topo.config;
  const names = kerasNames(cfg.layers);
  const ref = (r: Obj[]) => [names.get(r[0] as unknown as string), ...r.slice(1)];
  for (const l of cfg.layers) {
    l.name = names.get(l.name);
    l.config.name = l.name;
    l.config.dtype = 'float32';
    if (l.class_name === 'Conv2D') l.config.groups = 1;
    if (l.config.kernel_initializer) l.config.kernel_initializer = { class_name: 'GlorotUniform', config: { seed: null } };
    if (l.class_name === 'InputLayer') l.config.ragged = false;
    l.inbound_nodes = l.inbound_nodes.map((node: Obj[][]) => node.map(ref));
  }
  cfg.input_layers = cfg.input_layers.map(ref);
  cfg.output_layers = cfg.output_layers.map(ref);
  return {
    names,
    topology: {
      keras_version: '2.15.0',
      backend: 'tensorflow',
      model_config: { class_name: 'Functional', config: cfg },
      training_config: {
        loss: 'categorical_crossentropy',
        metrics: [['accuracy']],
        optimizer_config: { class_name: 'Adam', config: { learning_rate: 0.001 } },
      },
    },
  };
}

/** The same topology in Keras 3 form: inbound_nodes as {args, kwargs} with __keras_tensor__ keras_history. */
function keras3Functional(topo: Obj): Obj {
  const cfg = topo.config;
  const tensor = (r: Obj[]) => ({ class_name: '__keras_tensor__', config: { shape: [null], dtype: 'float32', keras_history: [r[0], r[1], r[2]] } });
  for (const l of cfg.layers) {
    const merge = l.class_name === 'Add' || l.class_name === 'Concatenate';
    l.inbound_nodes = l.inbound_nodes.map((node: Obj[][]) => ({
      args: merge ? [node.map(tensor)] : node.map(tensor),
      kwargs: l.class_name === 'BatchNormalization' ? { training: false, mask: null } : {},
    }));
    l.module = 'keras.layers';
    l.registered_name = null;
    l.config.dtype = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
    if (l.class_name === 'InputLayer') {
      l.config.batch_shape = l.config.batch_input_shape;
      delete l.config.batch_input_shape;
      l.config.dtype = 'float32';
    }
  }
  cfg.input_layers = cfg.input_layers[0];
  return { keras_version: '3.3.3', backend: 'tensorflow', model_config: { class_name: 'Functional', config: cfg } };
}

async function importExportCompare(model: tfl.LayersModel, a: tf.io.ModelArtifacts, topology: Obj, name: string) {
  const src = join(tmp.dir, `${name}-src`);
  await writeModelFiles(src, a, 4096, topology);
  const graph = await loadModel(src);
  const out = join(tmp.dir, `${name}-out`);
  await saveModel(graph, out);
  const exported = await loadStock(out);
  const x = randomInput(model);
  expect(maxAbsDiff(predict(exported, x), predict(model, x))).toBeLessThan(1e-5);
  const json = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
  return { graph, exported, json };
}

describe('Keras exports', () => {
  it('imports a Keras 2.x Functional model.json (nested model_config, [[name, 0, 0, {}]] inbound nodes)', async () => {
    const m = functionalModel();
    const a = await artifactsOf(m);
    const { topology, names } = keras2Functional(structuredClone(a.modelTopology) as Obj);
    const { graph, exported, json } = await importExportCompare(m, renameWeights(a, names), topology, 'keras2');
    expect(graph.nodes.map((n) => n.name)).toContain('conv2d_1');
    expect(graph.params.has('conv2d/kernel')).toBe(true);
    expect((graph.meta.keras as Obj).kerasVersion).toBe('2.15.0');
    expect(exported.layers.map((l) => l.name)).toContain('re_lu');
    const conv = json.modelTopology.config.layers.find((l: Obj) => l.name === 'conv2d');
    expect(conv.config.kernel_initializer).toEqual({ class_name: 'GlorotUniform', config: { seed: null } });
    expect(conv.config.groups).toBeUndefined();
  });

  it('imports a Keras 2.x Sequential with an explicit InputLayer and scoped weight names', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: 'relu' }));
    m.add(tfl.layers.flatten());
    m.add(tfl.layers.dense({ units: 2 }));
    randomizeWeights(m);
    const a = await artifactsOf(m);
    const topo = structuredClone(a.modelTopology) as Obj;
    const first = topo.config.layers[0].config;
    topo.config.layers.unshift({
      class_name: 'InputLayer',
      config: { batch_input_shape: first.batch_input_shape, dtype: 'float32', sparse: false, ragged: false, name: 'conv2d_input' },
    });
    delete first.batch_input_shape;
    const topology = { keras_version: '2.12.0', backend: 'tensorflow', model_config: topo };
    const { graph } = await importExportCompare(m, renameWeights(a, new Map(), 'sequential/'), topology, 'keras2seq');
    expect(graph.inputs).toEqual(['conv2d_input']);
  });

  it('imports the Keras 3 form of inbound_nodes ({args, kwargs} with keras_history)', async () => {
    const m = functionalModel();
    const a = await artifactsOf(m);
    const { graph } = await importExportCompare(m, a, keras3Functional(structuredClone(a.modelTopology) as Obj), 'keras3');
    const add = graph.nodes.find((n) => n.op === 'add')!;
    expect(add.inputs).toHaveLength(2);
  });
});
