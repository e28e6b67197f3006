/**
 * Issue 21's done-when on a Keras MobileNetV2 exported with --quantize_uint8: every weight-level
 * method runs on it as it comes (no annotation to delete first), and what each writes is measured
 * against the input's own bytes: the model.json a stock TF.js loads, and the container.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deepCompression } from '@condense/codec';
import { pipeline, type Plugin } from '@condense/core';
import { magnitudePrune } from '@condense/prune';
import { affineQuantize, float16Quantize, kmeansQuantize } from '@condense/quantize';
import { loadModel, saveModel, selectBackend } from '@condense/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const FIXTURE = fileURLToPath(new URL('../../tfjs/src/io/fixtures/keras-apps/mobilenetv2-h5-uint8/', import.meta.url));

let tmp: string;
let inputWeights: number;
let inputFiles: number;
beforeAll(async () => {
  await selectBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'condense-uint8-'));
  inputWeights = (await stat(join(FIXTURE, 'group1-shard1of1.bin'))).size;
  inputFiles = inputWeights + (await stat(join(FIXTURE, 'model.json'))).size;
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/**
 * `belowWeights`: the container is smaller than the input's weight shard alone. The fixture's weights
 * are Keras's random initialisation (weights=None), uniform over the converter's grid, so their uint8
 * codes have close to 8 bits of entropy: only a method that removes information (fewer centroids,
 * zeros) gets under the shard; float16 (a no-op on uint8 weights), 8-bit k-means (the 256 grid values
 * again, plus a centroid table) and 8-bit codes per channel only get under the input's files.
 */
const METHODS: [string, Plugin, { modelJsonGrows?: boolean; belowWeights?: boolean }][] = [
  ...[5, 6, 7, 8].map((bits): [string, Plugin, object] => [`k-means ${bits} bits`, kmeansQuantize({ bits }), { belowWeights: bits < 8 }]),
  // Per-channel scales have no stock TF.js manifest form: model.json holds them in 2 bytes (float16
  // or a uint16 grid, within a quarter of the quantization's error bound), twice the input's uint8.
  ['affine int8 per channel', affineQuantize({ dtype: 'int8', perChannel: true }), { modelJsonGrows: true }],
  ['float16', float16Quantize(), {}],
  ['magnitude pruning 50%', magnitudePrune({ sparsity: 0.5 }), { belowWeights: true }],
];

describe('a uint8 Keras MobileNetV2: every weight-level method, sizes against the input file', () => {
  it.each(METHODS)('%s', async (name, method, { modelJsonGrows, belowWeights }) => {
    const graph = await loadModel(FIXTURE);
    const run = pipeline([method, deepCompression()]);
    run.check({}, graph); // nothing to refuse: the file's uint8 encoding is no compression state
    const r = await run.run(graph);
    expect(r.snapshots[0].bytes, "the input snapshot counts the file's own bytes").toBe(inputWeights);

    // Everything a loader needs on both sides: model.json and shards against the container (topology included).
    const container = r.artifacts['model.cdz'];
    expect(container.byteLength, `${name}: container vs the input's ${inputFiles} bytes`).toBeLessThan(inputFiles);
    if (belowWeights) expect(container.byteLength, `${name}: container vs the input's weight shard`).toBeLessThan(inputWeights);

    const out = join(tmp, name.replace(/\W+/g, '-'));
    const saved = await saveModel(r.graph, out);
    const json = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
    expect(saved.bytes, `${name}: model.json and shards vs the input's files`).toBeLessThan(modelJsonGrows ? Infinity : inputFiles);
    if (modelJsonGrows) {
      expect(saved.weightBytes).toBeGreaterThan(inputWeights);
      // Said, weight by weight, with the reason.
      expect(saved.notes.length).toBeGreaterThan(0);
      for (const n of saved.notes) expect(n).toMatch(/larger than the input's uint8 .*: affine quantization: each value within a quarter of its error bound/);
      expect(saved.encodings.filter((e) => e.bytes > e.input.bytes).every((e) => e.bytes === e.input.bytes * 2)).toBe(true);
    } else {
      // Stock TF.js has no encoding below one byte per weight: model.json keeps the input's size.
      expect(saved.weightBytes).toBeLessThanOrEqual(inputWeights);
      expect(saved.notes).toEqual([]);
    }
    expect(json.weightsManifest[0].weights.length).toBe(saved.encodings.length);
  });

  it("k-means starts from the values TF.js decodes and keeps every weight on the file's grid", async () => {
    const graph = await loadModel(FIXTURE);
    const r = await pipeline([kmeansQuantize({ bits: 5 })]).run(graph);
    const saved = await saveModel(r.graph, join(tmp, 'kmeans-grid'));
    const kernels = saved.encodings.filter((e) => r.graph.params.get(e.param)?.codebook);
    expect(kernels.length).toBeGreaterThan(50);
    for (const e of kernels) expect([e.dtype, e.maxError, e.reason]).toEqual(['uint8', 0, expect.stringMatching(/the values lie on the input's uint8 grid/)]);
  });
});
