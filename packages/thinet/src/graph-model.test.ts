/** ThiNet on a GraphModel (the MobileNetV2-style tfjs-converter fixture): channels removed through fused and depthwise convs, pads and residual adds, the result still a graph model TF.js runs. */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { LayerPass } from '@condense/core';
import { cost, validate } from '@condense/ir';
import { loadModel, selectBackend, tfjsRuntime, toGraphModel } from '@condense/tfjs';
import { beforeAll, expect, it } from 'vitest';
import { pruneChannels } from './prune.js';
import { PASS_BATCH, type PassFactory } from './sampling.js';

const FIXTURE = fileURLToPath(new URL('../../tfjs/src/io/fixtures/graph/mobilenet-v2', import.meta.url));

beforeAll(async () => {
  await selectBackend('cpu');
});

it('thinet prunes a graph model and it still runs in TF.js as a graph model', async () => {
  const graph = await loadModel(FIXTURE);
  const count = 20;
  const images = tf.randomUniform([count, 32, 32, 3], -1, 1, 'float32', 3).dataSync() as Float32Array;
  const calibration = { images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10), count, shape: [count, 32, 32, 3] };
  const before = cost(graph).totals.macs;
  // The layer passes run the graph model's nodes (fused and opaque ones included) through the TF.js runtime's forward.
  const pass: PassFactory = (g, x, o) => new LayerPass(tfjsRuntime().forward!, g, x, { batchSize: PASS_BATCH, ...o });
  const report = await pruneChannels(graph, { ratio: 0.25, imagesPerClass: 2 }, { calibration, pass });
  validate(graph);
  expect(report.layers.length).toBeGreaterThan(3);
  expect(cost(graph).totals.macs).toBeLessThan(before);
  const model = toGraphModel(graph);
  const out = model.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor;
  expect(out.shape).toEqual([2, 10]);
  tf.dispose(out);
  model.dispose();
});
