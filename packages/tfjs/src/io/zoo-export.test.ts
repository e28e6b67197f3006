// The model zoo's residual networks leave condense as Keras layers-model files that stock
// tf.loadLayersModel loads and that compute what condense computes.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mobilenetV2Small, resnet20, rng, type Graph } from '@condense/ir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../exec/index.js';
import { saveModel } from './index.js';
import { loadStock, maxAbsDiff, predict, tempDir, tf, useCpu } from './test-helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  await useCpu();
  tmp = await tempDir();
});
afterAll(() => tmp.done());

/**
 * Batch norms as after training: gamma and beta away from 1 and 0, moving statistics of real
 * activations (one training-mode pass over `x` with momentum 0). Identity statistics would leave
 * the net's output almost independent of its input, which would hide a wrong layer.
 */
function trainLikeBatchNorms(g: Graph, x: tf.Tensor, seed: number): void {
  const r = rng(seed);
  const norms = g.nodes.filter((n) => n.op === 'batchNorm');
  for (const n of norms) {
    for (const [role, lo, hi] of [
      ['gamma', 0.7, 1.3],
      ['beta', -0.1, 0.1],
    ] as const) {
      const p = g.params.get(n.params[role]) as { data: Float32Array };
      p.data = p.data.map(() => lo + (hi - lo) * r());
    }
    n.attrs.momentum = 0;
  }
  const model = compile(g);
  tf.dispose(model.predict(x, { training: true }).output);
  model.syncToGraph();
  model.dispose();
  for (const n of norms) delete n.attrs.momentum;
}

describe.each([
  ['resnet20', () => resnet20(3), ['Conv2D', 'BatchNormalization', 'Activation', 'Add', 'GlobalAveragePooling2D', 'Dense']],
  ['mobilenetV2Small', () => mobilenetV2Small(3), ['Conv2D', 'BatchNormalization', 'Activation', 'DepthwiseConv2D', 'Add', 'GlobalAveragePooling2D', 'Dense']],
] as const)('%s exports to Keras', (name, make, classes) => {
  it('stock tf.loadLayersModel loads it and predicts what condense predicts', async () => {
    const graph = make();
    // Two unlike images (uniform noise; bright horizontal stripes): random images alone all look alike to an untrained net.
    const r = rng(11);
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 784 }, (_, i) => (i < 784 ? r() : Math.floor((i - 784) / 28) % 6 < 3 ? 1 : 0)),
      [2, 28, 28, 1],
    );
    trainLikeBatchNorms(graph, x, 5);
    const dir = join(tmp.dir, name);
    const saved = await saveModel(graph, dir);
    expect(saved.notes).toEqual([]);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(json.modelTopology.class_name).toBe('Model');
    const layerClasses = new Set(json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name));
    for (const c of classes) expect(layerClasses).toContain(c);

    const stock = await loadStock(dir);
    expect(stock.countParams()).toBe([...graph.params.values()].reduce((a, p) => a + p.data.length, 0));
    const model = compile(graph);
    try {
      const ours = tf.tidy(() => model.predict(x).output.dataSync() as Float32Array);
      const theirs = predict(stock, x);
      expect(maxAbsDiff(theirs, ours)).toBeLessThan(1e-5);
      // Not a constant: the two images get different class distributions.
      expect(maxAbsDiff(ours.subarray(0, 10), ours.subarray(10))).toBeGreaterThan(1e-3);
    } finally {
      model.dispose();
      x.dispose();
      stock.dispose();
    }
  }, 60_000);
});
