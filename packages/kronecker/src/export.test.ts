import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACTIVATIONS, GraphBuilder, cost, runReference, type ActivationFn, type Graph } from '@condense/ir';
import { compile, fromArtifacts, toArtifacts } from '@condense/tfjs';
import { factorizeGraph } from './plugins.js';
import { materialize } from './factorize.js';
import { KroneckerDense } from './runtime.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function values(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

/** A small CNN + MLP with Kronecker layers: conv (GKPD) and two dense layers factorized. */
function factorized(): Graph {
  const g = new GraphBuilder('small', [8, 8, 2], 3)
    .conv2d(6, 3, { name: 'conv', activation: 'relu', padding: 'same' })
    .maxPool2d(2, { name: 'pool' })
    .flatten({ name: 'flatten' })
    .dense(12, { name: 'fc1', activation: 'relu' })
    .dense(4, { name: 'fc2', activation: 'softmax' })
    .build();
  factorizeGraph(g, { rank: { conv: 2, fc1: 3, fc2: 2 }, output: true, shapes: { conv: { a: [3, 1, 1, 2], b: [1, 3, 2, 3] } } });
  return g;
}

function predictGraph(g: Graph, x: tf.Tensor): Float32Array {
  const m = compile(g);
  const r = m.predict(x);
  const out = r.output.dataSync() as Float32Array;
  tf.dispose([r.output, ...r.outputs, r.logits]);
  m.dispose();
  return out;
}

async function load(artifacts: tf.io.ModelArtifacts): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts));
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('export and import', () => {
  it('round-trips through the KroneckerDense / KroneckerConv2D layers of the runtime', async () => {
    const g = factorized();
    expect(g.nodes.map((n) => n.op)).toEqual(['input', 'kronConv2d', 'maxPool2d', 'flatten', 'kronDense', 'kronDense']);
    const { artifacts } = toArtifacts(g);
    const topology = JSON.stringify(artifacts.modelTopology);
    expect(topology).toContain('"KroneckerDense"');
    expect(topology).toContain('"KroneckerConv2D"');
    expect(topology).not.toContain('"Dense"');
    const x = tf.tensor(values(5 * 8 * 8 * 2, 7), [5, 8, 8, 2]);
    const want = predictGraph(g, x);

    // Stock loader with the runtime imported.
    const model = await load(artifacts);
    expect(maxDiff((model.predict(x) as tf.Tensor).dataSync(), want)).toBeLessThan(1e-5);
    expect(model.countParams()).toBe(cost(g).totals.params);

    // Back into the IR: same ops, same function.
    const back = fromArtifacts(artifacts);
    expect(back.nodes.filter((n) => n.op.startsWith('kron')).map((n) => n.name)).toEqual(['conv', 'fc1', 'fc2']);
    expect(maxDiff(predictGraph(back, x), want)).toBeLessThan(1e-6);
    model.dispose();
    x.dispose();
  });

  it('every IR activation of a KroneckerDense survives export, the runtime layer and import', async () => {
    const cases: [ActivationFn, Record<string, unknown>][] = [
      ...ACTIVATIONS.map((fn): [ActivationFn, Record<string, unknown>] => [fn, {}]),
      ['elu', { alpha: 0.5 }],
      ['leakyRelu', { alpha: 0.1 }],
    ];
    const x = values(3 * 6, 9);
    for (const [fn, extra] of cases) {
      const g = new GraphBuilder('act', [6], 4).dense(4, { name: 'fc' }).build();
      factorizeGraph(g, { rank: { fc: 2 }, output: true });
      expect(g.nodes[1].op).toBe('kronDense');
      Object.assign(g.nodes[1].attrs, fn === 'linear' ? {} : { activation: fn }, extra);
      const want = runReference(g, x, 3);
      const { artifacts } = toArtifacts(g);
      const model = await load(artifacts);
      const got = (model.predict(tf.tensor(x, [3, 6])) as tf.Tensor).dataSync();
      expect(maxDiff(got, want), `${fn} ${JSON.stringify(extra)}`).toBeLessThan(1e-5);
      expect(fromArtifacts(artifacts).nodes[1].attrs).toEqual(g.nodes[1].attrs);
      model.dispose();
    }
  });

  it('materializes to plain Dense / Conv2D layers that stock loaders read without the runtime', async () => {
    const g = factorized();
    const x = tf.tensor(values(3 * 8 * 8 * 2, 8), [3, 8, 8, 2]);
    const want = predictGraph(g, x);
    expect(materialize(g)).toEqual(['conv', 'fc1', 'fc2']);
    const { artifacts } = toArtifacts(g);
    const topology = JSON.stringify(artifacts.modelTopology);
    expect(topology).not.toContain('Kronecker');
    const model = await load(artifacts);
    expect(maxDiff((model.predict(x) as tf.Tensor).dataSync(), want)).toBeLessThan(1e-5);
    model.dispose();
    x.dispose();
  });

  it('imports a model built and saved with the runtime layer in TF.js', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.flatten({ inputShape: [4, 3, 1] }),
        new KroneckerDense({ units: 6, rank: 2, aShape: [4, 2], bShape: [3, 3], activation: 'relu', name: 'kd' }),
        tfl.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(saved!.weightSpecs!.map((w) => w.name)).toContain('kd/a');
    const g = fromArtifacts(saved!);
    expect(g.nodes.find((n) => n.name === 'kd')!.op).toBe('kronDense');
    const x = tf.tensor(values(4 * 12, 4), [4, 4, 3, 1]);
    expect(maxDiff(predictGraph(g, x), (model.predict(x) as tf.Tensor).dataSync())).toBeLessThan(1e-6);
    model.dispose();
    x.dispose();
  });

  it('refuses layer configs that contradict the weights, naming the layer', () => {
    const g = factorized();
    const { artifacts } = toArtifacts(g);
    const topo = structuredClone(artifacts.modelTopology) as { config: { layers: { name?: string; config: Record<string, unknown> }[] } };
    const fc1 = topo.config.layers.find((l) => l.config.name === 'fc1' || l.name === 'fc1')!;
    fc1.config.a_shape = [7, 4];
    expect(() => fromArtifacts({ ...artifacts, modelTopology: topo })).toThrow(/fc1.*weight 'fc1\/a' has shape/);
  });
});
