import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { GraphBuilder, rng, setFloat16, setMask, type Graph } from '@condense/ir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGraph } from './container.js';
import { crc32 } from './crc32.js';
import { CodecError } from './errors.js';
import { loadCondenseModel } from './loader.js';
import { joinContainer, randomCodebook, randomMask, splitContainer } from './test-helpers.js';

/** A tiny tfjs-layers model, its saved topology, and an IR graph holding its weights, compressed. */
async function fixture() {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [8], units: 16, activation: 'relu', name: 'fc1' }),
      tfl.layers.dense({ units: 3, activation: 'softmax', name: 'fc2' }),
    ],
  });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const { modelTopology, weightSpecs, weightData } = artifacts!;
  const buffer = Array.isArray(weightData) ? tf.io.concatenateArrayBuffers(weightData) : (weightData as ArrayBuffer);

  // IR names differ from the Keras ones on purpose: the loader must go through the stored weight names.
  const graph: Graph = new GraphBuilder('tiny', [8]).dense(16, { name: 'd1', activation: 'relu' }).dense(3, { name: 'd2', activation: 'softmax' }).build();
  const irName = (keras: string) => keras.replace('fc', 'd');
  const weightNames = new Map<string, string>();
  let offset = 0;
  for (const spec of weightSpecs!) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const p = graph.params.get(irName(spec.name))!;
    p.data.set(new Float32Array(buffer, offset, size));
    offset += size * 4;
    weightNames.set(p.name, spec.name);
  }
  const next = rng(1);
  const k1 = graph.params.get('d1/kernel')!;
  setMask(k1, randomMask(k1.data.length, 0.4, next));
  randomCodebook(k1, 4, next);
  setFloat16(graph.params.get('d2/kernel')!);
  // The reference: the original model running on the compressed weights.
  model.setWeights(model.weights.map((w) => tf.tensor(graph.params.get(irName(w.originalName))!.data, w.shape as number[])));
  return { model, modelTopology: modelTopology as object, graph, weightNames };
}

describe('loadCondenseModel', () => {
  let f: Awaited<ReturnType<typeof fixture>>;
  let bytes: Uint8Array;
  let dir = '';
  let x: tf.Tensor;
  const predict = (m: tfl.LayersModel) => Array.from((m.predict(x) as tf.Tensor).dataSync());

  beforeAll(async () => {
    // The cpu backend first: the bridge (imported through the decoder's topology check) registers wasm too.
    await tf.setBackend('cpu');
    x = tf.tensor2d(
      Array.from({ length: 5 * 8 }, (_, i) => Math.sin(i)),
      [5, 8],
    );
    f = await fixture();
    bytes = encodeGraph(f.graph, { modelTopology: f.modelTopology, weightNames: f.weightNames }).bytes;
    dir = await mkdtemp(join(tmpdir(), 'codec-loader-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('builds a LayersModel whose predictions equal the compressed model, from every source kind', async () => {
    const want = predict(f.model);
    const path = join(dir, 'model.cdz');
    await writeFile(path, bytes);
    const sources = [bytes, bytes.slice().buffer, new Response(bytes.slice()), path, `file://${path}`];
    for (const source of sources) {
      const m = await loadCondenseModel(source);
      expect(predict(m)).toEqual(want);
      expect(m.layers.map((l) => l.name)).toEqual(['fc1', 'fc2']);
      m.dispose();
    }
  });

  it('fails with NOT_LOADABLE without a topology or a weight name, IO on a failed response, and passes decode errors through', async () => {
    const noTopology = encodeGraph(f.graph, { weightNames: f.weightNames }).bytes;
    await expect(loadCondenseModel(noTopology)).rejects.toMatchObject({ code: 'NOT_LOADABLE' });
    const partial = encodeGraph(f.graph, { modelTopology: f.modelTopology, weightNames: new Map([...f.weightNames].slice(1)) }).bytes;
    await expect(loadCondenseModel(partial)).rejects.toThrow(/NOT_LOADABLE: .*'fc1\/kernel'/);
    // A weight name pointing at a param of the wrong shape.
    const { header, body } = splitContainer(bytes);
    header.params.find((p: any) => p.name === 'd2/bias').weightName = 'fc1/bias';
    header.params.find((p: any) => p.name === 'd1/bias').weightName = 'fc2/bias';
    await expect(loadCondenseModel(joinContainer(header, body))).rejects.toThrow(/NOT_LOADABLE: .*shape/);
    await expect(loadCondenseModel(new Response('nope', { status: 404 }))).rejects.toMatchObject({ code: 'IO' });
    await expect(loadCondenseModel(join(dir, 'missing.cdz'))).rejects.toMatchObject({ code: 'IO' });
    const corrupt = bytes.slice();
    corrupt[corrupt.length - 1] ^= 1;
    await expect(loadCondenseModel(corrupt)).rejects.toBeInstanceOf(CodecError);
    expect(crc32(corrupt)).not.toBe(crc32(bytes));
  });
});

describe('loader entry', () => {
  it('depends only on TF.js, the decoding core and the runtime-free @condense/files/json (no @condense/ir, no static Node imports)', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const seen = new Set<string>();
    const external = new Set<string>();
    const visit = async (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(join(here, file), 'utf8');
      for (const [, spec] of text.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)) {
        if (spec.startsWith('./')) await visit(spec.slice(2).replace(/\.js$/, '.ts'));
        else external.add(spec);
      }
    };
    await visit('loader.ts');
    expect([...external].sort()).toEqual(['@condense/files/json', '@tensorflow/tfjs-core', '@tensorflow/tfjs-layers']);
    expect([...seen].sort()).toEqual([
      'bits.ts',
      'crc32.ts',
      'decode.ts',
      'errors.ts',
      'format.ts',
      'huffman.ts',
      'inflate.ts',
      'load-common.ts',
      'loader.ts',
      'sparse.ts',
      'stored-init.ts',
      'topology.ts',
    ]);
  });
});
