#!/usr/bin/env node
// Stock TF.js in Node, nothing of condense loaded (its WASM kernel replacements would change
// what is timed): `node latency-node-worker.mjs '<json>'` with { models: [{ name, dir }],
// batches, repeats, warmup }; prints { backend, threads, simd, tfjs, results } as JSON.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { timeModels } from './latency-timing.mjs';

/** tf.loadLayersModel from a directory (stock tfjs has no file:// loader without tfjs-node). */
function fromDir(dir) {
  return {
    load: async () => {
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const buffers = [];
        for (const g of manifest) for (const p of g.paths) buffers.push(new Uint8Array(await readFile(join(dir, p))).slice().buffer);
        return [manifest.flatMap((g) => g.weights), tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

const opts = JSON.parse(process.argv[2]);
const require = createRequire(import.meta.url);
wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
await tf.setBackend('wasm');
await tf.ready();
const models = [];
for (const m of opts.models) models.push({ name: m.name, model: await tfl.loadLayersModel(fromDir(m.dir)) });
const results = await timeModels(tf, models, opts);
const flags = tf.env().features;
console.log(JSON.stringify({ backend: tf.getBackend(), threads: wasm.getThreadsCount(), simd: flags.WASM_HAS_SIMD_SUPPORT, tfjs: tf.version_core, results }));
