// End to end on a real model: LeNet-5 briefly trained on the embedded Fashion-MNIST subset, its
// layer inputs computed by TF.js (a dev dependency only: the package itself never runs a model).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST_EMBEDDED_DIR, loadFashionMnist, type Split } from '@condense/datasets';
import { cloneGraph, lenet5, validateParam, type Graph, type Node } from '@condense/ir';
import { compile, predict, selectBackend, train } from '@condense/tfjs';
import { gptqLayer } from './layer.js';
import { layerSpec } from './layout.js';
import { kernelLayers, sequential, type LayerInput } from './sequential.js';
import { createStats } from './stats.js';

const CALIBRATION = 128;
let data: { train: Split; test: Split };
let float: Graph;

beforeAll(async () => {
  await selectBackend('wasm');
  data = loadFashionMnist({ dir: FASHION_MNIST_EMBEDDED_DIR, limit: { train: 2000, test: 1000 } });
  float = lenet5(3);
  await train(float, data.train, { epochs: 2, batchSize: 64, learningRate: 2e-3, seed: 3 });
}, 120_000);

/** The input of `node` over the first CALIBRATION training images, on the graph as it is now. */
function* layerInputs(graph: Graph, node: Node): Generator<LayerInput> {
  const model = compile(graph);
  const x = data.train.images.subarray(0, CALIBRATION * 784);
  try {
    const tap = tf.tidy(() => model.predict(tf.tensor(x, [CALIBRATION, 28, 28, 1]), { taps: [node.inputs[0]] }).taps[node.inputs[0]]);
    yield { data: tap.dataSync(), shape: tap.shape };
    tap.dispose();
  } finally {
    model.dispose();
  }
}

/** Test-set probabilities, accuracy and the labels predicted. */
function evaluate(graph: Graph): { probs: Float32Array; labels: Int32Array; accuracy: number } {
  const out = predict(graph, data.test.images);
  const probs = out.dataSync() as Float32Array;
  const labels = tf.tidy(() => tf.argMax(out, 1).dataSync() as Int32Array);
  out.dispose();
  const correct = labels.reduce((a, l, i) => a + (l === data.test.labels[i] ? 1 : 0), 0);
  return { probs, labels, accuracy: correct / labels.length };
}

describe('GPTQ on a trained LeNet-5', () => {
  it('4-bit: closer to the float model than round-to-nearest (accuracy, agreement, outputs)', async () => {
    const gptq = cloneGraph(float);
    const steps = await sequential(gptq, kernelLayers(gptq), layerInputs, (stats) => gptqLayer(gptq, stats, { bits: 4 }));
    expect(steps.map((s) => s.layer)).toEqual(['conv1', 'conv2', 'fc1', 'fc2']);
    for (const s of steps) expect(s.result.error.after).toBeLessThan(s.result.error.before);
    expect(steps[1].stats).toMatchObject({ size: 500, rows: CALIBRATION * 64, examples: CALIBRATION });
    // Round-to-nearest reads no statistics: empty ones do.
    const rtn = cloneGraph(float);
    for (const layer of kernelLayers(rtn)) gptqLayer(rtn, createStats(layerSpec(rtn, layer)), { bits: 4, compensate: false });
    for (const g of [gptq, rtn]) for (const layer of kernelLayers(g)) validateParam(g.params.get(`${layer}/kernel`)!);

    const [f, q, r] = [evaluate(float), evaluate(gptq), evaluate(rtn)];
    const agreement = (e: typeof q) => e.labels.reduce((a, label, i) => a + (label === f.labels[i] ? 1 : 0), 0) / e.labels.length;
    const mse = (e: typeof q) => e.probs.reduce((a, p, i) => a + (p - f.probs[i]) ** 2, 0) / e.probs.length;
    expect(f.accuracy).toBeGreaterThan(0.6);
    expect(Math.abs(f.accuracy - q.accuracy)).toBeLessThanOrEqual(Math.abs(f.accuracy - r.accuracy));
    expect(agreement(q)).toBeGreaterThan(agreement(r));
    expect(mse(q)).toBeLessThan(mse(r));
  });
});
