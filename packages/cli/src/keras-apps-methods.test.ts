/**
 * Issue 21's done-when on the Keras applications with squeeze-and-excitation, depthwise and
 * residual blocks (MobileNetV2, MobileNetV3Small, EfficientNetB0, as Keras built them): magnitude
 * pruning, affine int8 per channel, k-means + the container, and L1 filter pruning each run on the
 * file as it comes, and what they write loads in stock TF.js and computes what condense computes
 * for the compressed graph. (uint8-model.test.ts measures sizes on MobileNetV2; the identity round
 * trip and the channel groups themselves are in @condense/tfjs's keras-apps.test.ts.)
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deepCompression, readContainer } from '@condense/codec';
import { pipeline, type Plugin } from '@condense/core';
import { cost, type Graph } from '@condense/ir';
import { l1Filter, magnitudePrune } from '@condense/prune';
import { affineQuantize, kmeansQuantize } from '@condense/quantize';
import { loadModel, saveModel, selectBackend, type SaveResult } from '@condense/tfjs';
import { loadStock, predictGraph, predictStock, relativeError, type Batch } from '@condense/tfjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('../../tfjs/src/io/fixtures/keras-apps/', import.meta.url));

/** Per model: its fixture, and producers of the groups L1 filter pruning must narrow (the block each stands for). */
const MODELS: Record<string, { dir: string; through: [string, string][] }> = {
  mobilenetv2: {
    dir: 'mobilenetv2-h5-uint8',
    through: [
      ['block_1_expand', 'depthwise'],
      ['block_2_project', 'residual add'],
    ],
  },
  mobilenetv3small: {
    dir: 'mobilenetv3small-keras-uint8',
    through: [
      ['expanded_conv_1_expand', 'depthwise'],
      ['expanded_conv_squeeze_excite_conv_1', 'SE gate'],
    ],
  },
  efficientnetb0: {
    dir: 'efficientnetb0-h5-float16',
    through: [
      ['block2a_expand_conv', 'depthwise + SE'],
      ['block2b_project_conv', 'residual add'],
    ],
  },
};

type Method = [string, () => Plugin[]];
const METHODS: Method[] = [
  ['magnitude pruning 50%', () => [magnitudePrune({ sparsity: 0.5 })]],
  ['affine int8 per channel', () => [affineQuantize({ dtype: 'int8', perChannel: true })]],
  ['k-means 6 bits + container', () => [kmeansQuantize({ bits: 6 }), deepCompression()]],
  ['L1 filter pruning 25%', () => [l1Filter({ ratio: 0.25 })]],
];

let tmp: string;
beforeAll(async () => {
  await selectBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'condense-keras-apps-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function sampleOf(dir: string): Promise<Batch> {
  const s = JSON.parse(await readFile(join(FIXTURES, dir, 'sample.json'), 'utf8')) as { inputs: number[]; input_shape: number[]; input_dtype: Batch['dtype'] };
  return { values: s.inputs, shape: s.input_shape, dtype: s.input_dtype };
}

const filesBytes = async (dir: string) => (await stat(join(dir, 'model.json'))).size + (await stat(join(dir, 'group1-shard1of1.bin'))).size;

/**
 * The graph a stock loader gets: through the container when the method wrote one (decoded as a
 * user would, from the file), else the compressed graph itself.
 */
async function delivered(r: { graph: Graph; artifacts: Record<string, Uint8Array> }, out: string): Promise<Graph> {
  const container = r.artifacts['model.cdz'];
  if (!container) return r.graph;
  await writeFile(`${out}.cdz`, container);
  return readContainer(`${out}.cdz`);
}

/**
 * Stock TF.js against condense on the compressed graph: equal up to float32 rounding when the export
 * wrote every weight exactly; else the export's encodings moved some weights within their stated
 * error (per-channel scales and off-grid centroids have no 1-byte stock form, uint8-model.test.ts),
 * and the outputs move with them.
 */
const stockTolerance = (saved: SaveResult) => (saved.encodings.some((e) => e.maxError > 0) ? 1e-2 : 1e-5);

describe('SE, depthwise and residual Keras applications: each method runs, its output loads in stock TF.js', () => {
  for (const [model, { dir, through }] of Object.entries(MODELS)) {
    it.each(METHODS)(`${model}: %s`, async (name, stages) => {
      const input = join(FIXTURES, dir);
      const x = await sampleOf(dir);
      const graph = await loadModel(input);
      const run = pipeline(stages());
      run.check({}, graph); // the file's own encoding is no compression state to remove first
      const r = await run.run(graph);

      if (name.startsWith('L1')) {
        // A coupled group is reported as its producers joined by '+'.
        const narrowed = new Set((r.stages[0].details as { layers: { layer: string }[] }).layers.flatMap((l) => l.layer.split('+')));
        for (const [producer, block] of through) expect(narrowed.has(producer), `${model}: ${producer} (${block}) was pruned`).toBe(true);
        const [before, after] = [cost(graph).totals, cost(r.graph).totals];
        expect(after.macs).toBeLessThan(before.macs);
        expect(after.params).toBeLessThan(before.params);
      }
      const out = join(tmp, `${model}-${name.replace(/\W+/g, '-')}`);
      const container = r.artifacts['model.cdz'];
      if (container) expect(container.byteLength, 'the container vs the input files').toBeLessThan(await filesBytes(input));

      const saved = await saveModel(await delivered(r, out), out);
      const stock = await loadStock(out);
      try {
        const want = predictGraph(r.graph, x);
        const got = predictStock(stock, x);
        expect(got.every(Number.isFinite)).toBe(true);
        expect(relativeError(got, want), `${model} ${name}: stock TF.js vs condense on the compressed graph`).toBeLessThan(stockTolerance(saved));
      } finally {
        stock.dispose();
      }
    });
  }
});

it('nasnetmobile: the container of a model with many layers and few weights decodes (its header is larger than its body)', async () => {
  const graph = await loadModel(join(FIXTURES, 'nasnetmobile-h5-float16'));
  const r = await pipeline([kmeansQuantize({ bits: 6 }), deepCompression()]).run(graph);
  const out = join(tmp, 'nasnetmobile-kmeans');
  const decoded = await delivered(r, out);
  const x = await sampleOf('nasnetmobile-h5-float16');
  expect(Array.from(predictGraph(decoded, x))).toEqual(Array.from(predictGraph(r.graph, x)));
});
