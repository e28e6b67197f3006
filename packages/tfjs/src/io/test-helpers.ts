/** Test helpers for io: real tfjs-layers models, model.json on disk like TF.js writes it, stock loading. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export { tf, tfl };
export { fileHandler, loadStock } from '../testing/index.js';

/**
 * tfjs-layers' Orthogonal initializer (the default recurrent_initializer of LSTM, GRU, SimpleRNN)
 * calls chained ops (x.flatten().stridedSlice(...), .sign(), .transpose(), .reshape()) that only
 * the @tensorflow/tfjs bundle registers; the tests use tfjs-core, so give tensors those methods.
 */
const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
const ops = tf as unknown as Record<string, (x: tf.Tensor, ...a: unknown[]) => tf.Tensor>;
for (const name of ['stridedSlice', 'sign', 'transpose', 'reshape']) {
  proto[name] ??= function (this: tf.Tensor, ...a: unknown[]) {
    return ops[name](this, ...a);
  };
}
proto.flatten ??= function (this: tf.Tensor) {
  return tf.reshape(this, [this.size]);
};

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
}

/** The artifacts `model.save` produces, captured in memory. */
export async function artifactsOf(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let out: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      out = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out as tf.io.ModelArtifacts;
}

const concat = (data: tf.io.WeightData | undefined): Uint8Array => new Uint8Array(tf.io.concatenateArrayBuffers(data ?? new ArrayBuffer(0)));

/** Write artifacts as TF.js's file handlers do: model.json plus `group1-shardNofM.bin` files. */
export async function writeModelFiles(dir: string, a: tf.io.ModelArtifacts, shardBytes = 4 * 1024 * 1024, topology: unknown = a.modelTopology): Promise<void> {
  await mkdir(dir, { recursive: true });
  const data = concat(a.weightData);
  const n = Math.max(1, Math.ceil(data.byteLength / shardBytes));
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `group1-shard${i + 1}of${n}.bin`;
    await writeFile(join(dir, name), data.subarray(i * shardBytes, (i + 1) * shardBytes));
    paths.push(name);
  }
  const json = {
    format: a.format,
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy,
    modelTopology: topology,
    weightsManifest: [{ paths, weights: a.weightSpecs }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
}

export async function tempDir(): Promise<{ dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'condense-io-'));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

/** Seeded uniform inputs in [-1, 1) of the model's input shape (batch of `n`). */
export function randomInput(model: tfl.LayersModel, n = 3, seed = 7): tf.Tensor {
  const shape = model.inputs[0].shape.slice(1) as number[];
  return tf.randomUniform([n, ...shape], -1, 1, 'float32', seed);
}

export function predict(model: tfl.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Give every weight of a model random values (the initializers leave biases and BN stats trivial). */
export function randomizeWeights(model: tfl.LayersModel, seed = 1): void {
  const ws = model.getWeights();
  model.setWeights(
    ws.map((w, i) => {
      const name = model.weights[i].name;
      // Keep variances positive.
      return name.includes('variance') ? tf.randomUniform(w.shape, 0.5, 1.5, 'float32', seed + i) : tf.randomUniform(w.shape, -0.5, 0.5, 'float32', seed + i);
    }),
  );
}
