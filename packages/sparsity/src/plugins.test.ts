import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPipeline, createRegistry, finetune, parseRecipe, pipeline, testStageContext, type Plugin } from '@condense/core';
import { cloneGraph, countNonzero, runReference, validate, type Graph } from '@condense/ir';
import { compile, tfjsRuntime, train } from '@condense/tfjs';

const runtime = tfjsRuntime();
import { apgContribution, zeroFactors } from './contributions.js';
import { finalize } from './finalize.js';
import { finalizeStage, groupLasso, l1, register, slimming, sss } from './plugins.js';
import { SCALE_OP } from './scale-op.js';
import { findStructures, insertScales } from './structures.js';
import { cnn, inputs, mlp, resnet, syntheticData } from './test-models.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const mlpData = { train: syntheticData([6], 256, 3) };
const cnnData = { train: syntheticData([6, 6, 2], 32, 3) };
const quick = { batchSize: 32, learningRate: 0.01 };
const small = { batchSize: 16, learningRate: 0.01 };
const scales = (g: Graph) => g.nodes.filter((n) => n.op === SCALE_OP);
const width = (g: Graph, kernel: string) => g.params.get(kernel)!.shape.at(-1);

describe('options and contracts', () => {
  it('rejects a negative gamma or lambda, naming the field', () => {
    expect(() => sss({ gamma: -1 })).toThrow(/sparsity\.sss[\s\S]*gamma/);
    expect(() => slimming({ lambda: -0.1 })).toThrow(/lambda/);
    expect(() => groupLasso({ lambda: -1 })).toThrow(/lambda/);
    expect(() => l1({ lambda: -1 })).toThrow(/lambda/);
  });

  it('rejects an unknown structure kind', () => {
    expect(() => sss.fromOptions({ structures: ['layer'] })).toThrow(/structures/);
  });

  it('names a structure kind the model does not have', () => {
    expect(() => sss({ structures: ['block'] }).apply!(mlp(), testStageContext())).toThrow(
      /structures includes 'block', but graph 'mlp' has no residual block/,
    );
    expect(() => sss({ structures: ['channel'] }).apply!(mlp(), testStageContext())).toThrow(/'channel'.*no conv2d layer/);
    expect(() => groupLasso({ structures: ['channel'] }).apply!(mlp(), testStageContext())).toThrow(/'channel'.*no conv2d layer/);
    expect(() => slimming().apply!(mlp(), testStageContext())).toThrow(/sparsity\.slimming: graph 'mlp' has no batchNorm/);
  });

  it('refuses to run after a stage that left codebooks', () => {
    const kmeans: Plugin = { name: 'fake.kmeans', options: {}, contract: { provides: ['codebook'] } };
    expect(() => pipeline([kmeans, sss()]).check()).toThrow(/sparsity\.sss.*codebook/);
    expect(() => pipeline([kmeans, finalizeStage()]).check()).toThrow(/codebook/);
  });

  it('builds from a recipe', () => {
    const registry = createRegistry();
    register(registry);
    const run = buildPipeline(
      parseRecipe('stages:\n  - sparsity.sss: { gamma: 0.01, structures: [neuron] }\n  - finetune: { epochs: 1 }\n  - sparsity.finalize: {}'),
      registry,
    );
    expect(run.stages.map((s) => s.name)).toEqual(['sparsity.sss', 'finetune', 'sparsity.finalize']);
    expect(registry.names()).toEqual(expect.arrayContaining(['sparsity.sss', 'sparsity.slimming', 'sparsity.groupLasso', 'sparsity.l1', 'sparsity.finalize']));
  });
});

describe('sparsity.sss in a pipeline', () => {
  it('trains the scales by APG, then folds them and removes the zeroed neurons at the end of the finetune', async () => {
    const r = await pipeline([sss({ gamma: 0.05, learningRate: 0.2 }), finetune({ epochs: 3, ...quick })]).run(mlp(), { data: mlpData, runtime });
    const g = r.graph;
    validate(g);
    expect(scales(g)).toEqual([]);
    expect(width(g, 'fc1/kernel')).toBeLessThan(8);
    expect(width(g, 'fc2/kernel')).toBeLessThan(5);
    expect(r.stages[0].notes[0]).toMatch(/2 scale nodes \(2 neuron, 0 channel, 0 block/);
    expect(r.stages[0].notes.some((n) => /sparsity\.sss: folded 2 scale nodes, removed \d+ channels/.test(n))).toBe(true);
    expect(r.snapshots.at(-1)!.params).toBeLessThan(r.snapshots[0].params);
  });

  it('takes a penalty per layer from layerGamma', async () => {
    const run = (o: Parameters<typeof sss>[0]) =>
      pipeline([sss({ learningRate: 0.2, finalize: false, ...o }), finetune({ epochs: 3, ...quick })]).run(mlp(), { data: mlpData, runtime });
    const zeros = (g: Graph, layer: string) => Array.from(g.params.get(`${layer}_sss/scale`)!.data).filter((v) => v === 0).length;
    const factors = (g: Graph) => ['fc1', 'fc2'].map((l) => Array.from(g.params.get(`${l}_sss/scale`)!.data));
    const free = (await run({ gamma: 0 })).graph;
    const steered = (await run({ gamma: 0, layerGamma: { fc2: 0.2 } })).graph;
    expect(zeros(steered, 'fc2')).toBeGreaterThan(zeros(free, 'fc2'));
    // A glob overriding gamma everywhere leaves exactly the unpenalised run.
    const globbed = (await run({ gamma: 0.2, layerGamma: { 'fc*': 0 } })).graph;
    expect(factors(globbed)).toEqual(factors(free));
  });

  it('selects layers with the shared rule: exclude wins over include, op types name layers', () => {
    expect(sss({ include: ['dense'], exclude: ['fc2'] }).apply!(mlp(), testStageContext())).toMatchObject({ details: { scaleNodes: ['fc1_sss'] } });
  });

  it('names a layerGamma key that matches no layer with factors', () => {
    expect(() => sss({ layerGamma: { fc9: 0.1 } }).apply!(mlp(), testStageContext())).toThrow(
      /sparsity\.sss: layerGamma key pattern 'fc9' matches no layer, param or op type \(candidates: fc1 \(dense\), fc2 \(dense\)\)/,
    );
    expect(() => sss({ include: ['fc9'] }).apply!(mlp(), testStageContext())).toThrow(/sparsity\.sss: include pattern 'fc9' matches no layer/);
    expect(() => l1({ exclude: ['fc*', 'out'] }).apply!(mlp(), testStageContext())).toThrow(
      /sparsity\.l1: graph 'mlp' has no dense\/conv2d kernels among the selected layers/,
    );
    expect(() => sss({ layerGamma: { fc1: -1 } })).toThrow(/layerGamma/);
  });

  it('reaches exact zeros; finalising then changes no output (within 1e-5)', async () => {
    const r = await pipeline([sss({ gamma: 0.03, learningRate: 0.2, finalize: false }), finetune({ epochs: 3, ...quick })]).run(mlp(), {
      data: mlpData,
      runtime,
    });
    const g = r.graph;
    const factors = scales(g).map((n) => ({ param: n.params.scale, tied: false }));
    const { zero, total } = zeroFactors(g, factors);
    expect(zero).toBeGreaterThan(0);
    expect(zero).toBeLessThan(total);
    const x = inputs([6], 8);
    const before = runReference(g, x, 8);
    const report = finalize(g);
    const after = runReference(g, x, 8);
    expect(report.channelsRemoved).toBe(zero);
    expect(Math.max(...before.map((v, i) => Math.abs(v - after[i])))).toBeLessThan(1e-5);
  });

  it('ties a block factor: one value for the branch, and a branch whose factor reaches 0 is removed', async () => {
    const data = { train: syntheticData([5, 5, 3], 16, 3) };
    const kept = await pipeline([sss({ gamma: 0.001, learningRate: 0.05, structures: ['block'], finalize: false }), finetune({ epochs: 1, ...small })]).run(
      resnet(),
      { data, runtime },
    );
    const block = kept.graph.params.get(scales(kept.graph)[0].params.scale)!.data;
    expect(new Set(block).size).toBe(1);
    expect(block[0]).not.toBe(1);
    const gone = await pipeline([sss({ gamma: 5, learningRate: 0.2, structures: ['block'] }), finetune({ epochs: 1, ...small })]).run(resnet(), {
      data,
      runtime,
    });
    expect(gone.graph.nodes.map((n) => n.name)).not.toContain('block_add');
    expect(gone.graph.nodes.map((n) => n.name)).not.toContain('block_conv1');
  });

  it('an explicit sparsity.finalize stage does the folding when automatic finalisation is off', async () => {
    const r = await pipeline([sss({ gamma: 0.05, learningRate: 0.2, finalize: false }), finetune({ epochs: 2, ...quick }), finalizeStage()]).run(mlp(), {
      data: mlpData,
      runtime,
    });
    expect(scales(r.graph)).toEqual([]);
    expect(r.stages[2].notes[0]).toMatch(/^sparsity\.finalize: folded 2 scale nodes/);
  });
});

describe('the APG contribution and the trainer', () => {
  it('the main optimizer never moves the factors: only APG does', async () => {
    const g = mlp();
    insertScales(g, findStructures(g, ['neuron'], {}, 'test'));
    const params = scales(g).map((n) => n.params.scale);
    const frozenByApg = apgContribution({
      name: 'test',
      factors: params.map((param) => ({ param, tied: false })),
      gamma: 0,
      learningRate: 1e-9,
      momentum: 0,
      nonNegative: true,
      finalize: false,
    });
    const data = { x: mlpData.train.images, y: mlpData.train.labels, count: 256, shape: [6] };
    const moved = cloneGraph(g);
    await train(g, data, { epochs: 1, batchSize: 32, learningRate: 0.05, contributions: [frozenByApg] });
    await train(moved, data, { epochs: 1, batchSize: 32, learningRate: 0.05 });
    const drift = (x: Graph) => Math.max(...params.flatMap((p) => Array.from(x.params.get(p)!.data, (v) => Math.abs(v - 1))));
    expect(drift(g)).toBeLessThan(1e-5);
    expect(drift(moved)).toBeGreaterThan(1e-2);
  });

  it('finalising at the end re-plans the compiled model on the smaller graph', async () => {
    const g = mlp();
    insertScales(g, findStructures(g, ['neuron'], {}, 'test'));
    const factors = scales(g).map((n) => ({ param: n.params.scale, tied: false }));
    const m = compile(g);
    const data = { x: mlpData.train.images, y: mlpData.train.labels, count: 256, shape: [6] };
    await train(m, data, {
      epochs: 2,
      batchSize: 32,
      learningRate: 0.01,
      contributions: [apgContribution({ name: 'test', factors, gamma: 0.1, learningRate: 0.3, momentum: 0.9, nonNegative: true, finalize: true })],
    });
    expect(scales(g)).toEqual([]);
    expect(m.variables.get('fc1/kernel')!.shape).toEqual(g.params.get('fc1/kernel')!.shape);
    const y = m.predict(tf.tensor2d(inputs([6], 3), [3, 6]));
    expect(y.output.shape).toEqual([3, 3]);
    tf.dispose([y.output, ...y.outputs]);
    m.dispose();
  });
});

describe('sparsity.l1, sparsity.groupLasso, sparsity.slimming', () => {
  it('l1: the proximal step leaves exact zeros, which become masks that a later finetune keeps', async () => {
    const r = await pipeline([l1({ lambda: 2 }), finetune({ epochs: 2, ...quick }), finetune({ epochs: 1, ...quick })]).run(mlp(), { data: mlpData, runtime });
    const k = r.graph.params.get('fc1/kernel')!;
    const zeros = k.data.length - countNonzero(k.data);
    expect(zeros).toBeGreaterThan(k.data.length / 4);
    expect(k.mask).toBeDefined();
    expect(k.mask!.reduce((a, b) => a + b, 0)).toBe(k.data.length - zeros);
    expect(r.stages[0].notes.some((n) => /sparsity\.l1: \d+ of \d+ weights are exactly 0/.test(n))).toBe(true);
  });

  it('l1 after sss in the same finetune: the masks land on the finalised graph', async () => {
    const r = await pipeline([sss({ gamma: 0.05, learningRate: 0.2 }), l1({ lambda: 2, include: ['out'] }), finetune({ epochs: 2, ...quick })]).run(mlp(), {
      data: mlpData,
      runtime,
    });
    validate(r.graph);
    expect(scales(r.graph)).toEqual([]);
    const k = r.graph.params.get('out/kernel')!;
    expect(k.shape[0]).toBeLessThan(5);
    expect(k.mask?.length).toBe(k.data.length);
  });

  it('groupLasso: whole filters reach zero and are removed', async () => {
    const r = await pipeline([groupLasso({ lambda: 6, structures: ['channel'] }), finetune({ epochs: 2, ...small })]).run(cnn(), { data: cnnData, runtime });
    validate(r.graph);
    expect(width(r.graph, 'conv1/kernel')! + width(r.graph, 'conv2/kernel')!).toBeLessThan(9);
  });

  it('slimming: batchNorm gammas reach zero and their channels are removed', async () => {
    const r = await pipeline([slimming({ lambda: 4, learningRate: 0.2 }), finetune({ epochs: 2, ...small })]).run(cnn(1, { batchNorm: true }), {
      data: cnnData,
      runtime,
    });
    validate(r.graph);
    expect(r.graph.params.get('conv1_bn/gamma')!.shape[0] + r.graph.params.get('conv2_bn/gamma')!.shape[0]).toBeLessThan(9);
  });
});
