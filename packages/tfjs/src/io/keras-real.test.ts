/**
 * Models made by real Keras (3.x, TensorFlow backend) and converted to TF.js layers-model files in
 * the converter's layouts; see tools/keras-fixtures/make.py, which wrote fixtures/keras/ and each
 * directory's sample.json (inputs and Keras's own model.predict outputs).
 */
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../exec/index.js';
import type { KerasMeta } from './import.js';
import { loadModel, ModelIOError, saveModel } from './index.js';
import { loadStock, maxAbsDiff, predict, tempDir, tf, useCpu } from './test-helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/keras/', import.meta.url));

interface Sample {
  keras_version: string;
  input_shape: number[];
  inputs: number[];
  output_shape: number[];
  outputs: number[];
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  await useCpu();
  tmp = await tempDir();
});
afterAll(() => tmp.done());

async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = (await readdir(dir)).sort();
  return new Map(await Promise.all(files.map(async (f) => [f, await readFile(join(dir, f))] as const)));
}

const CASES = [
  // model.save('m.h5') -> tensorflowjs_converter --input_format keras
  { name: 'mobilenet-h5', ops: ['zeroPad2d', 'conv2d', 'batchNorm', 'activation', 'depthwiseConv2d', 'add', 'globalAvgPool2d', 'dense'] },
  { name: 'inception-h5', ops: ['conv2d', 'maxPool2d', 'concat', 'avgPool2d', 'flatten', 'dropout', 'dense'] },
  // model.save('m.keras') -> tensorflowjs_converter --input_format keras_keras: weights named layers/<class>_<n>/vars/<i>
  { name: 'mobilenet-keras-v3', ops: ['zeroPad2d', 'conv2d', 'batchNorm', 'activation', 'depthwiseConv2d', 'add', 'globalAvgPool2d', 'dense'] },
];

describe('real Keras exports: predictions equal Keras model.predict', () => {
  it.each(CASES)('$name', async ({ name, ops }) => {
    const dir = join(FIXTURES, name);
    const before = await snapshot(dir);
    const sample = JSON.parse(await readFile(join(dir, 'sample.json'), 'utf8')) as Sample;
    const x = tf.tensor(sample.inputs, sample.input_shape, 'float32');
    const want = Float32Array.from(sample.outputs);

    const graph = await loadModel(dir);
    const meta = graph.meta.keras as KerasMeta;
    expect(meta.kerasVersion).toBe(sample.keras_version);
    expect(meta.unusedWeights).toBeUndefined(); // every model weight was read (optimizer state is skipped)
    for (const op of ops) expect(graph.nodes.map((n) => n.op)).toContain(op);
    const model = compile(graph);
    try {
      const r = model.predict(x);
      expect(r.output.shape).toEqual(sample.output_shape);
      expect(maxAbsDiff(r.output.dataSync(), want)).toBeLessThan(1e-4);
      for (const t of r.outputs) t.dispose();
      r.logits?.dispose();
    } finally {
      model.dispose();
    }

    const out = join(tmp.dir, name);
    await saveModel(graph, out);
    const stock = await loadStock(out);
    expect(maxAbsDiff(predict(stock, x), want)).toBeLessThan(1e-4);
    stock.dispose();
    x.dispose();

    const after = await snapshot(dir);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [f, bytes] of before) expect(Buffer.compare(after.get(f)!, bytes), f).toBe(0);
  });

  it('the BatchNormalization statistics are non-trivial, so they are tested', async () => {
    const graph = await loadModel(join(FIXTURES, 'mobilenet-keras-v3'));
    const bn = graph.nodes.filter((n) => n.op === 'batchNorm');
    expect(bn.map((n) => n.name)).toEqual(['stem_bn', 'block_dw_bn', 'block_project_bn']);
    expect(bn[1].attrs.epsilon).toBe(1e-5);
    expect(bn[2].params.beta).toBeUndefined(); // center=False
    for (const n of bn) {
      const mean = graph.params.get(n.params.movingMean)!.data;
      const variance = graph.params.get(n.params.movingVariance)!.data;
      expect(Math.max(...mean.map(Math.abs))).toBeGreaterThan(0.1);
      expect(Math.max(...variance.map((v) => Math.abs(v - 1)))).toBeGreaterThan(0.1);
    }
    // Same model through the .h5 path (weights named conv2d/kernel): every node's params carry the same values.
    const h5 = await loadModel(join(FIXTURES, 'mobilenet-h5'));
    for (const node of h5.nodes) {
      const twin = graph.nodes.find((n) => n.name === node.name)!;
      expect(Object.keys(twin.params).sort(), node.name).toEqual(Object.keys(node.params).sort());
      for (const [role, p] of Object.entries(node.params)) {
        expect(Array.from(graph.params.get(twin.params[role])!.data), `${node.name} ${role}`).toEqual(Array.from(h5.params.get(p)!.data));
      }
    }
  });

  it('errors name the layer and the weights Keras saved for it', async () => {
    /** A copy of a fixture whose manifest weight names are changed by `rename`; loadModel's error. */
    const failure = async (fixture: string, rename: (name: string) => string) => {
      const dir = join(tmp.dir, `bad-${fixture}`);
      await cp(join(FIXTURES, fixture), dir, { recursive: true });
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
      for (const w of json.weightsManifest[0].weights) w.name = rename(w.name);
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      const err = await loadModel(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelIOError);
      return (err as Error).message;
    };
    expect(await failure('mobilenet-h5', (n) => n.replace('block_dw/kernel', 'block_dw/kern'))).toMatch(
      /layer 'block_dw' \(DepthwiseConv2D\): weight 'block_dw\/depthwise_kernel' \(or 'block_dw\/kernel', as Keras 3 names it\) is missing/,
    );
    expect(await failure('mobilenet-keras-v3', (n) => n.replace('batch_normalization_2/vars/2', 'batch_normalization_2/vars/3'))).toMatch(
      /layer 'block_project_bn' \(BatchNormalization\): the weights manifest has 3 weight\(s\) saved for this layer \(layers\/batch_normalization_2\/vars\/0, 1, 3\) but its config implies 3 \(gamma, moving_mean, moving_variance\)/,
    );
  });
});
