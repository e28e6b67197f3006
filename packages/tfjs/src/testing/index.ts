/**
 * `@condense/tfjs/testing`: stock TF.js on model files, for tests and benchmarks that check what
 * condense writes against what stock `tf.loadLayersModel` computes. Not needed to use condense.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Graph } from '@condense/ir';
import { compile } from '../exec/index.js';

export { keras3AsKeras2, loadKeras3Stock, type Keras2Artifacts } from './keras3.js';

/** An fs-backed IOHandler for stock `tf.loadLayersModel` (plain tfjs has no file:// loader). */
export function fileHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = manifest.flatMap((g) => g.weights);
        const buffers = [];
        for (const g of manifest) for (const p of g.paths) buffers.push(new Uint8Array(await readFile(join(dir, p))).slice().buffer);
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

/** Stock `tf.loadLayersModel` on `dir/model.json` and its shards, unmodified. */
export const loadStock = (dir: string): Promise<tfl.LayersModel> => tfl.loadLayersModel(fileHandler(dir));

/** Model inputs as plain arrays (a Keras fixture's sample.json holds one batch). */
export interface Batch {
  values: ArrayLike<number>;
  /** Batch first. */
  shape: number[];
  dtype: 'float32' | 'int32';
}

const tensorOf = (x: Batch) => tf.tensor(Array.from(x.values), x.shape, x.dtype);

/** Stock tfjs-layers' (first) output of `model` on `x`, flat; no tensor is left behind. */
export function predictStock(model: tfl.LayersModel, x: Batch): Float32Array {
  return tf.tidy(() => {
    const y = model.predict(tensorOf(x));
    return (Array.isArray(y) ? y[0] : y).dataSync() as Float32Array;
  });
}

/** condense's executor's first output of `graph` on `x`, flat; the compiled model is disposed. */
export function predictGraph(graph: Graph, x: Batch): Float32Array {
  const model = compile(graph);
  try {
    return tf.tidy(() => model.predict(tensorOf(x)).output.dataSync() as Float32Array);
  } finally {
    model.dispose();
  }
}

/** max |got - want| over max |want|, the error at the reference's scale (Infinity when the lengths differ). */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / Math.max(scale, 1e-12);
}
