/**
 * `condense compress` on a GraphModel (the MobileNetV2-style fixture): weight-level methods on
 * its Const weights and L1 filter pruning through its channel groups, each written back as a
 * graph model that stock `tf.loadGraphModel` loads and that still agrees with the original;
 * GPTQ from calibration data, layer by layer through the runtime's forward.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCondenseGraphModel } from '@condense/codec/graph-loader';
import { rng } from '@condense/ir';
import { main } from './main.js';

const FIXTURE = fileURLToPath(new URL('../../tfjs/src/io/fixtures/graph/mobilenet-v2', import.meta.url));

/** An fs IOHandler for stock loadGraphModel. */
const handler = (dir: string): tf.io.IOHandler => ({
  load: async () => {
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
    return tf.io.getModelArtifactsForJSON(json, async (m) => {
      const bufs = await Promise.all(m.flatMap((g) => g.paths).map(async (p) => new Uint8Array(await readFile(join(dir, p))).slice().buffer));
      return [m.flatMap((g) => g.weights), tf.io.concatenateArrayBuffers(bufs)];
    });
  },
});

interface Sample {
  samples: { inputs: { image: { shape: number[]; values: number[] } } }[];
}

let tmp: string;
let original: GraphModel;
let image: tf.Tensor;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'condense-cli-graph-'));
  original = await loadGraphModel(handler(FIXTURE));
  const s = (JSON.parse(await readFile(join(FIXTURE, 'sample.json'), 'utf8')) as Sample).samples[0].inputs.image;
  image = tf.tensor(s.values, s.shape);
});
afterAll(async () => {
  original.dispose();
  image.dispose();
  await rm(tmp, { recursive: true, force: true });
});

async function compress(name: string, stages: unknown[], args: string[] = []): Promise<{ dir: string; out: string }> {
  const recipe = join(tmp, `${name}.json`);
  await writeFile(recipe, JSON.stringify({ name, stages }));
  const dir = join(tmp, name);
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    ['compress', '--recipe', recipe, '--model', FIXTURE, '--out', dir, '--backend', 'cpu', '--quiet', ...args],
    (s) => out.push(s),
    (s) => err.push(s),
  );
  expect(code, err.join('\n')).toBe(0);
  return { dir, out: out.join('\n') };
}

/** Stock TF.js runs the written model; its probabilities against the original's. */
async function agreement(dir: string): Promise<{ maxDiff: number; top1: number }> {
  const model = await loadGraphModel(handler(dir));
  try {
    return tf.tidy(() => {
      const a = original.predict(image) as tf.Tensor;
      const b = model.predict(image) as tf.Tensor;
      const top1 = tf.mean(tf.cast(tf.equal(tf.argMax(a, 1), tf.argMax(b, 1)), 'float32')).dataSync()[0];
      return { maxDiff: tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], top1 };
    });
  } finally {
    model.dispose();
  }
}

const manifest = async (dir: string) =>
  JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')).weightsManifest[0].weights as { name: string; dtype: string; quantization?: { dtype: string } }[];

describe('condense compress on a graph model', () => {
  it('runs a data-free recipe, and magnitude pruning zeroes conv and dense kernels', async () => {
    const { dir, out } = await compress('magnitude', [{ 'prune.magnitude': { sparsity: 0.5 } }]);
    expect(out).toMatch(/no data \(data-free recipe\)/);
    const model = await loadGraphModel(handler(dir));
    const kernel = model.weights['StatefulPartitionedCall/block2/expand/Conv2D_weights'][0];
    const zeros = tf.tidy(() => tf.sum(tf.cast(tf.equal(kernel, 0), 'float32')).dataSync()[0]);
    expect(zeros / kernel.size).toBeGreaterThanOrEqual(0.49);
    model.dispose();
    expect((await agreement(dir)).maxDiff).toBeLessThan(0.5);
  });

  it('per-tensor int8 writes uint8 manifests; float16 writes float16 ones; per-channel is written as float32 values; k-means shares at most 16 values', async () => {
    const int8 = await compress('int8', [{ 'quantize.affine': { dtype: 'int8' } }]);
    const m8 = await manifest(int8.dir);
    expect(m8.find((w) => w.name === 'StatefulPartitionedCall/stem/Conv2D_weights')?.quantization?.dtype).toBe('uint8');
    expect(m8.filter((w) => w.dtype === 'int32').length).toBe(3);
    expect((await agreement(int8.dir)).maxDiff).toBeLessThan(0.05);

    const half = await compress('half', [{ 'quantize.float16': {} }]);
    expect((await manifest(half.dir)).filter((w) => w.dtype === 'float32').every((w) => w.quantization?.dtype === 'float16')).toBe(true);
    expect((await agreement(half.dir)).maxDiff).toBeLessThan(1e-3);

    const perChannel = await compress('per-channel', [{ 'quantize.affine': { dtype: 'int8', perChannel: true } }]);
    expect((await agreement(perChannel.dir)).maxDiff).toBeLessThan(0.05);

    const kmeans = await compress('kmeans', [{ 'quantize.kmeans': { bits: 4 } }]);
    const model = await loadGraphModel(handler(kmeans.dir));
    const w = model.weights['StatefulPartitionedCall/block3/expand/Conv2D_weights'][0];
    expect(new Set(w.dataSync()).size).toBeLessThanOrEqual(16);
    model.dispose();
    expect((await agreement(kmeans.dir)).top1).toBeGreaterThanOrEqual(0.5);
  });

  it("k-means + the Deep Compression container: smaller than the converter's uint8 files, and the graph loader runs it", async () => {
    const { dir } = await compress('kmeans-cdz', [{ 'quantize.kmeans': { bits: 4 } }, { 'codec.deepCompression': {} }]);
    const cdz = await readFile(join(dir, 'model.cdz'));
    const uint8 = fileURLToPath(new URL('../../tfjs/src/io/fixtures/graph/mobilenet-v2-uint8', import.meta.url));
    const converterBytes = (await readFile(join(uint8, 'model.json'))).byteLength + (await readFile(join(uint8, 'group1-shard1of1.bin'))).byteLength;
    expect(cdz.byteLength).toBeLessThan(converterBytes);
    const model = await loadCondenseGraphModel(new Uint8Array(cdz));
    const written = await loadGraphModel(handler(dir));
    const [a, b] = [model.predict(image) as tf.Tensor, written.predict(image) as tf.Tensor];
    // model.json may store a shared weight on a uint8 grid within its tolerance (an eighth of the gap to the next centroid); the container stores the centroids exactly.
    const [pa, pb] = [a.dataSync(), b.dataSync()];
    expect(Math.max(...pa.map((v, i) => Math.abs(v - pb[i])))).toBeLessThan(0.01);
    const top = (t: tf.Tensor) => tf.tidy(() => Array.from(tf.argMax(t, -1).dataSync()));
    expect(top(a)).toEqual(top(b));
    tf.dispose([a, b]);
    model.dispose();
    written.dispose();
  });

  it('L1 filter pruning removes channels through fused convs, depthwise convs, pads and residual adds', async () => {
    const { dir } = await compress('l1', [{ 'prune.l1Filter': { ratio: 0.5 } }]);
    const m = await manifest(dir);
    const shape = (name: string) => JSON.parse(JSON.stringify(m.find((w) => w.name === name))).shape as number[];
    expect(shape('StatefulPartitionedCall/block2/expand/Conv2D_weights')).toEqual([1, 1, 4, 12]);
    expect(shape('StatefulPartitionedCall/block2/depthwise/DepthwiseConv2dNative_weights')).toEqual([3, 3, 12, 1]);
    expect(shape('StatefulPartitionedCall/logits/MatMul/ReadVariableOp')).toEqual([16, 10]);
    const model = await loadGraphModel(handler(dir));
    expect((model.predict(image) as tf.Tensor).shape).toEqual([4, 10]);
    model.dispose();
  });

  it('GPTQ from unlabeled calibration data quantizes every kernel layer to 4 bits per channel, compensating', async () => {
    const random = rng(5);
    const rows = Array.from({ length: 16 }, () => Array.from({ length: 32 * 32 * 3 }, () => (2 * random() - 1).toFixed(3)).join(','));
    const csv = join(tmp, 'calibration.csv');
    await writeFile(csv, `${rows.join('\n')}\n`);
    const { dir } = await compress('gptq', [{ 'reconstruct.gptq': { bits: 4 } }], ['--data', csv]);
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as {
      reconstruction: { layers: { layer: string; errorBefore: number; errorAfter: number }[] }[];
    };
    const layers = report.reconstruction[0].layers;
    expect(layers.length).toBe(14);
    // GPTQ's compensation: the layers' output error on the calibration set under half of rounding to nearest, summed over the layers.
    const total = (k: 'errorBefore' | 'errorAfter') => layers.reduce((a, l) => a + l[k], 0);
    expect(total('errorAfter')).toBeLessThan(total('errorBefore') / 2);
    const model = await loadGraphModel(handler(dir));
    const kernel = model.weights['StatefulPartitionedCall/block2/expand/Conv2D_weights'][0];
    const columns = tf.tidy(() => tf.transpose(tf.reshape(kernel, [-1, kernel.shape.at(-1) as number])).arraySync() as number[][]);
    for (const c of columns) expect(new Set(c).size).toBeLessThanOrEqual(16);
    model.dispose();
    expect((await agreement(dir)).maxDiff).toBeLessThan(0.02);
  });
});
