/**
 * Every graph-model fixture (tools/graph-fixtures: TensorFlow models put through tfjs-converter's
 * graph-model conversion) imports, runs as TensorFlow ran it (sample.json), and writes back a
 * model that stock TF.js loads, bit-identical to the original: the same GraphDef, signature and
 * metadata, every weight's encoding and bytes, and the same outputs.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../io/files.js';
import { fileHandler, tf, useCpu } from '../io/test-helpers.js';
import { toGraphModel } from './run.js';
import { FIXTURE_NAMES, GRAPH_FIXTURES, readJson, runOutputs, sameBits, scaledDiff, toTensors, type SampleFile } from './testing.js';

interface ModelJson {
  format?: string;
  modelTopology: unknown;
  signature: { outputs: Record<string, { name: string }> };
  userDefinedMetadata?: unknown;
  weightsManifest: { paths: string[]; weights: unknown[] }[];
}

let out: string;
beforeAll(async () => {
  await useCpu();
  out = await mkdtemp(join(tmpdir(), 'condense-graph-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe.each(FIXTURE_NAMES)('%s', (name) => {
  const dir = join(GRAPH_FIXTURES, name);

  it('imports, runs as TensorFlow did, and round-trips bit-identically through stock loadGraphModel', async () => {
    const graph = await loadModel(dir);
    const target = join(out, name);
    await saveModel(graph, target);

    const before = await readJson<ModelJson>(dir, 'model.json');
    const after = await readJson<ModelJson>(target, 'model.json');
    // The same GraphDef (names, ops, attrs, library), signature, metadata and manifest; the same weight bytes.
    const { weightsManifest: m0, ...rest0 } = before;
    const { weightsManifest: m1, ...rest1 } = after;
    expect(rest1).toEqual(rest0);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    expect(m1.map((g) => g.weights)).toEqual(m0.map((g) => g.weights));
    const shard = async (d: string, m: ModelJson['weightsManifest']) =>
      Buffer.concat(await Promise.all(m.flatMap((g) => g.paths).map((p) => readFile(join(d, p)))));
    const [b0, b1] = [await shard(dir, m0), await shard(target, m1)];
    expect(b1.byteLength).toBe((await stat(join(dir, m0[0].paths[0]))).size);
    expect(b1.equals(b0)).toBe(true);

    const sample = await readJson<SampleFile>(dir, 'sample.json');
    const keys = Object.keys(before.signature.outputs);
    const stock = await loadGraphModel(fileHandler(dir));
    const written = await loadGraphModel(fileHandler(target));
    const inMemory = toGraphModel(graph);
    try {
      for (const s of sample.samples) {
        const inputs = toTensors(s.inputs);
        const want = await runOutputs(stock, sample.execute, inputs, keys);
        for (const model of [written, inMemory]) {
          const got = await runOutputs(model, sample.execute, inputs, keys);
          keys.forEach((k, i) => {
            expect(sameBits(got[i], want[i]), k).toBe(true);
            expect(scaledDiff(got[i], s.outputs[k]), k).toBeLessThanOrEqual(1e-5);
          });
          tf.dispose(got);
        }
        tf.dispose([...want, ...Object.values(inputs)]);
      }
    } finally {
      for (const m of [stock, written, inMemory]) m.dispose();
    }
  });
});
