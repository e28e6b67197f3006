/**
 * `@condense/tfjs/testing`: stock TF.js on model files, for tests and benchmarks that check what
 * condense writes against what stock `tf.loadLayersModel` computes. Not needed to use condense.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

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
