import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfd from '@tensorflow/tfjs-data';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { finetune, pipeline, type DataInput, type PipelineData, type PipelineResult, type TaskSpec } from '@condense/core';
import { FASHION_MNIST_EMBEDDED_DIR, loadDataPath, loadFashionMnist } from '@condense/datasets';
import { GraphBuilder, rng, type Graph } from '@condense/ir';
import { magnitudePrune } from '@condense/prune';
import { selectBackend, tfjsRuntime } from '@condense/tfjs';

// The same pipeline code on every kind of data: Fashion-MNIST from IDX, a folder of PNG/JPEG
// images, a tf.data.Dataset, an async generator larger than the memory it may use, and a model
// with two inputs and two outputs (classification + regression).

beforeAll(async () => {
  await selectBackend('cpu');
});

/** Prune half the weights, then fine-tune one epoch: with targets when the data has them, else label-free. */
function compress(graph: Graph, data: PipelineData, task?: TaskSpec): Promise<PipelineResult> {
  return pipeline([magnitudePrune({ sparsity: 0.5 }), finetune({ epochs: 1, batchSize: 32, learningRate: 2e-3 })]).run(graph, {
    data,
    runtime: tfjsRuntime(),
    seed: 3,
    task,
    agreement: 64,
  });
}

const mlp = (shape: number[], seed = 1) =>
  new GraphBuilder('mlp', shape, seed).flatten().dense(32, { name: 'fc1', activation: 'relu' }).dense(10, { name: 'out', activation: 'softmax' }).build();

const fm = loadFashionMnist({ dir: FASHION_MNIST_EMBEDDED_DIR, limit: { train: 600, test: 200 } });

/** The model after pretraining on Fashion-MNIST, so that label-free recovery has a teacher worth following. */
async function pretrained(): Promise<Graph> {
  const g = mlp([28, 28, 1]);
  await pipeline([finetune({ epochs: 3, batchSize: 32, learningRate: 3e-3 })])
    .run(g, { data: { train: fm.train }, runtime: tfjsRuntime() })
    .then((r) => g.params.forEach((p, k) => p.data.set(r.graph.params.get(k)!.data)));
  return g;
}

function expectRecorded(r: PipelineResult, o: { labelFree: boolean; evaluated: boolean }) {
  expect(r.stages[1].finetunes).toHaveLength(1);
  expect(Boolean(r.stages[1].finetunes[0].labelFree)).toBe(o.labelFree);
  for (const s of r.snapshots.slice(1)) {
    expect(s.agreement?.examples).toBeGreaterThan(0);
    expect(s.agreement?.maxAbsDiff).toBeGreaterThanOrEqual(s.agreement?.meanAbsDiff ?? Infinity);
  }
  if (o.evaluated) expect(r.snapshots.every((s) => s.metrics && s.metrics.accuracy >= 0)).toBe(true);
  else expect(r.snapshots.every((s) => s.metrics === undefined)).toBe(true);
}

describe('one pipeline, any data', () => {
  let teacher: Graph;
  beforeAll(async () => {
    teacher = await pretrained();
  });

  it('Fashion-MNIST from IDX files, with labels', async () => {
    const d = await loadDataPath(FASHION_MNIST_EMBEDDED_DIR, { limit: 300 });
    const r = await compress(teacher, { train: d.source, test: d.test });
    expectRecorded(r, { labelFree: false, evaluated: true });
    expect(r.snapshots[2].accuracy).toBeGreaterThan(0.5);
  });

  it('a folder of PNG and JPEG images written from the dataset: class folders give labels, a flat folder recovers label-free', async () => {
    const root = await mkdtemp(join(tmpdir(), 'condense-images-'));
    const flat = join(root, 'unlabeled');
    await mkdir(flat);
    for (let i = 0; i < 60; i++) {
      const pixels = Buffer.from(Uint8Array.from(fm.train.images.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255)));
      const img = sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } });
      const bytes = await (i % 2 ? img.jpeg({ quality: 95 }) : img.png()).toBuffer();
      const ext = i % 2 ? 'jpg' : 'png';
      await mkdir(join(root, 'classes', `class-${fm.train.labels[i]}`), { recursive: true });
      await writeFile(join(root, 'classes', `class-${fm.train.labels[i]}`, `${i}.${ext}`), bytes);
      await writeFile(join(flat, `${i}.${ext}`), bytes);
    }
    const labelled = await loadDataPath(join(root, 'classes'), { example: [28, 28, 1] });
    expect(labelled.classes?.length).toBeGreaterThan(5);
    expectRecorded(await compress(teacher, { train: labelled.source }), { labelFree: false, evaluated: false });
    const unlabeled = await loadDataPath(flat, { example: [28, 28, 1] });
    const r = await compress(teacher, { train: unlabeled.source });
    expectRecorded(r, { labelFree: true, evaluated: false });
    // Recovering against the teacher brings the pruned model's outputs back towards it.
    expect(r.snapshots[2].agreement!.meanAbsDiff).toBeLessThan(r.snapshots[1].agreement!.meanAbsDiff);
  });

  it('a tf.data.Dataset of batches', async () => {
    const n = 200;
    const ds = tfd
      .zip({
        xs: tfd.array(Array.from({ length: n }, (_, i) => tf.tensor3d(fm.train.images.subarray(i * 784, (i + 1) * 784), [28, 28, 1]))),
        ys: tfd.array(Array.from(fm.train.labels.subarray(0, n))),
      })
      .batch(25);
    const r = await compress(teacher, { train: ds as unknown as DataInput, test: fm.test });
    expectRecorded(r, { labelFree: false, evaluated: true });
    expect(r.stages[1].finetunes[0].epochs).toBe(1);
  });

  it('an async generator streaming far more data than the memory it may use: peak RSS stays bounded', async () => {
    const features = 1024;
    const batch = 64;
    const batches = 1000; // 1000 x 64 x 1024 float32 = 262 MB streamed
    const streamed = batches * batch * features * 4;
    async function* stream() {
      const r = rng(5);
      for (let b = 0; b < batches; b++) {
        const x = new Float32Array(batch * features);
        for (let i = 0; i < x.length; i++) x[i] = r();
        yield { inputs: { values: x, shape: [batch, features] } };
      }
    }
    const small = new GraphBuilder('wide', [features], 2)
      .dense(8, { name: 'fc1', activation: 'relu' })
      .dense(4, { name: 'out', activation: 'softmax' })
      .build();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      // Label-free (no targets) with the teacher cache off: the memory is the batch and the shuffle buffer (512 x 4 KB).
      const r = await pipeline([finetune({ epochs: 1, batchSize: batch, shuffleBuffer: 512 })]).run(small, {
        data: { train: stream },
        runtime: tfjsRuntime(),
        labelFree: { cacheBytes: 0 },
        agreement: false,
      });
      expect(r.stages[0].finetunes[0]).toMatchObject({ epochs: 1, labelFree: true });
    } finally {
      clearInterval(sample);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const grew = peak - before;
    console.log(`streamed ${(streamed / 2 ** 20).toFixed(0)} MiB; peak RSS grew by ${(grew / 2 ** 20).toFixed(1)} MiB`);
    expect(grew).toBeLessThan(160 * 2 ** 20);
    expect(grew).toBeLessThan(streamed / 4);
  }, 240_000);

  it('a model with two inputs and two outputs: a classification head and a regression head', async () => {
    const b = new GraphBuilder('two-heads', [4, 4, 1], 4);
    b.flatten({ name: 'flat' });
    b.graph.inputs.push(b.add('input', [], { shape: [3] }, {}, 'meta'));
    b.concat(['flat', 'meta'], { name: 'joined' }).dense(16, { name: 'hidden', activation: 'relu' });
    b.dense(3, { name: 'cls', activation: 'softmax' }, 'hidden');
    b.dense(2, { name: 'box' }, 'hidden');
    const graph = b.build(['cls', 'box']);
    const n = 96;
    const r = rng(8);
    const image = Float32Array.from({ length: n * 16 }, () => r());
    const meta = Float32Array.from({ length: n * 3 }, () => r());
    const cls = Int32Array.from({ length: n }, (_, i) => (image[i * 16] > 0.5 ? 1 : 0) + (meta[i * 3] > 0.5 ? 1 : 0));
    const box = Float32Array.from({ length: n * 2 }, (_, k) => image[Math.floor(k / 2) * 16 + (k % 2)] * 2 - meta[Math.floor(k / 2) * 3]);
    const labelled = {
      inputs: { meta: { values: meta, shape: [n, 3] }, input: { values: image, shape: [n, 4, 4, 1] } },
      targets: { cls: { values: cls, shape: [n] }, box: { values: box, shape: [n, 2] } },
    };
    const withTargets = await compress(graph, { train: labelled, test: labelled }, { lossWeights: { cls: 1, box: 2 } });
    expect(Object.keys(withTargets.snapshots[0].metrics!).sort()).toEqual(['box/mae', 'cls/accuracy']);
    expect(withTargets.stages[1].finetunes[0].labelFree).toBeUndefined();
    // Inputs only: both heads recover against the original (KL on the softmax head, MSE on the linear one).
    const inputsOnly = await compress(graph, { train: { inputs: labelled.inputs } });
    expectRecorded(inputsOnly, { labelFree: true, evaluated: false });
    expect(inputsOnly.snapshots[2].agreement!.meanAbsDiff).toBeLessThan(inputsOnly.snapshots[1].agreement!.meanAbsDiff);
  });
});
