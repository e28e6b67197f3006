import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { channelGroups, cost, groupOf, removeChannels, runReference, validate } from '@condense/ir';
import { compile, toArtifacts } from '@condense/tfjs';
import { SCALE_OP } from './scale-op.js';
import { findStructures, insertScales } from './structures.js';
import { cnn, inputs, mlp, randomize } from './test-models.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function withScales() {
  const g = randomize(cnn());
  insertScales(g, findStructures(g, undefined, {}, 'test'));
  for (const n of g.nodes.filter((x) => x.op === SCALE_OP)) {
    const p = g.params.get(n.params.scale)!;
    p.data.forEach((_, i) => (p.data[i] = 0.5 + 0.25 * (i % 4)));
  }
  return g;
}

describe('the scale op', () => {
  it('is inserted after the producer and its activation, initialised to 1, and counted by the cost model', () => {
    const g = randomize(mlp());
    const macs = cost(g).totals.macs;
    insertScales(g, findStructures(g, undefined, {}, 'test'));
    validate(g);
    expect(g.nodes.map((n) => n.name)).toEqual(['input', 'fc1', 'fc1_sss', 'fc2', 'fc2_sss', 'out']);
    expect(Array.from(g.params.get('fc1_sss/scale')!.data)).toEqual(new Array(8).fill(1));
    expect(cost(g).totals.macs).toBe(macs + 8 + 5);
  });

  it('executes like the reference interpreter', () => {
    const g = withScales();
    const x = inputs([6, 6, 2], 3);
    const ref = runReference(g, x, 3);
    const m = compile(g);
    const y = m.predict(tf.tensor(x, [3, 6, 6, 2]));
    const got = y.output.dataSync();
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - ref[i])))).toBeLessThan(1e-5);
    tf.dispose([y.output, ...y.outputs]);
    m.dispose();
  });

  it('belongs to its channel group: removing channels slices the scale too', () => {
    const g = withScales();
    const group = groupOf(g, 'conv2');
    expect(group.slices.some((s) => s.param === 'conv2_sss/scale')).toBe(true);
    removeChannels(g, group, [0, 2]);
    validate(g);
    expect(g.params.get('conv2_sss/scale')!.shape).toEqual([2]);
    expect(channelGroups(g).find((c) => c.id === 'conv2')!.size).toBe(2);
  });

  it('exports (when not finalised) as a BatchNormalization layer that stock tfjs-layers loads and runs identically', async () => {
    const g = withScales();
    const { artifacts } = toArtifacts(g);
    const model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    const x = tf.tensor(inputs([6, 6, 2], 3), [3, 6, 6, 2]);
    const stock = model.predict(x) as tf.Tensor;
    const m = compile(g);
    const ours = m.predict(x);
    const a = stock.dataSync();
    const b = ours.output.dataSync();
    expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-5);
    tf.dispose([x, stock, ours.output, ...ours.outputs]);
    m.dispose();
    model.dispose();
  });
});
