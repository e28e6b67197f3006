import { describe, expect, it } from 'vitest';
import {
  buildReport,
  ContractError,
  createRegistry,
  pipeline,
  referenceRuntime,
  renderReportHtml,
  testStageContext,
  type Runtime,
  type Split,
} from '@condense/core';
import { cloneGraph, GraphBuilder, referenceValues, rng, type Graph } from '@condense/ir';
import { gptqLayer } from './layer.js';
import { layerSpec } from './layout.js';
import { biasCorrectionPlugin, bnRecalibratePlugin, gptqPlugin, register, sparseGptPlugin } from './plugins.js';
import { accumulate, createStats } from './stats.js';

function model(o: { batchNorm?: boolean } = {}): Graph {
  const b = new GraphBuilder('small', [8, 8, 2], 11);
  if (o.batchNorm) b.conv2d(6, 3, { name: 'conv1', padding: 'same', bias: false }).batchNorm({ name: 'bn1' }).activation('relu', { name: 'relu1' });
  else b.conv2d(6, 3, { name: 'conv1', padding: 'same', activation: 'relu' });
  return b.conv2d(8, 3, { name: 'conv2', strides: 2, activation: 'relu' }).flatten({ name: 'flatten' }).dense(5, { name: 'fc' }).build();
}

const COUNT = 48;
const random = rng(12);
// Inputs with a clear positive mean (as images and post-ReLU activations have).
const images = Float32Array.from({ length: COUNT * 128 }, () => 0.3 + random());
const calibration: Split = { images, labels: new Uint8Array(COUNT), count: COUNT, shape: [COUNT, 8, 8, 2] };
const context = (runtime: Runtime = referenceRuntime()) => ({ data: { calibration }, runtime, evaluateEachStage: false });

describe('reconstruct.gptq', () => {
  it('quantizes every kernel layer sequentially: the same result as compressing layer by layer on the interpreter', async () => {
    const g = model();
    const r = await pipeline([gptqPlugin({ bits: 3, examples: 40, batchSize: 16 })]).run(g, context());
    // The same by hand: each layer's statistics on the first 40 examples through the graph quantized so far.
    const h = cloneGraph(g);
    for (const layer of ['conv1', 'conv2', 'fc']) {
      const x = referenceValues(h, images.subarray(0, 40 * 128), 40).get(h.nodes.find((n) => n.name === layer)!.inputs[0])!;
      const stats = createStats(layerSpec(h, layer));
      accumulate(stats, x.data, x.shape);
      gptqLayer(h, stats, { bits: 3 });
    }
    for (const name of ['conv1/kernel', 'conv2/kernel', 'fc/kernel']) {
      expect(r.graph.params.get(name)!.quant).toMatchObject({ bits: 3, signed: true });
      const [a, b] = [r.graph.params.get(name)!.data, h.params.get(name)!.data];
      expect(
        Array.from(a).every((v, i) => Math.abs(v - b[i]) <= 1e-6 * (1 + Math.abs(b[i]))),
        name,
      ).toBe(true);
    }
    const details = r.stages[0].details!;
    const rows = details.reconstruction as { layer: string; errorBefore: number; errorAfter: number; rows: number; bytes: number; ms: number }[];
    expect(rows.map((x) => x.layer)).toEqual(['conv1', 'conv2', 'fc']);
    for (const row of rows) {
      expect(row.errorAfter).toBeLessThan(row.errorBefore);
      expect(row.bytes).toBeGreaterThan(0);
      expect(row.ms).toBeGreaterThanOrEqual(0);
    }
    expect(rows[0].rows).toBe(40 * 64);
    expect(details).toMatchObject({ method: 'gptq', examples: 40 });
    expect(r.stages[0].notes[0]).toMatch(/^conv1: 3-bit affine, output error [\d.]+% -> [\d.]+% \(2560 calibration rows/);
    // The report shows each layer's errors next to its size.
    const report = buildReport(r);
    expect(report.reconstruction?.[0]).toMatchObject({ index: 1, stage: 'reconstruct.gptq' });
    expect(renderReportHtml(report)).toContain('1. reconstruct.gptq: ');
  });

  it('per-layer bits and groups, include / exclude, the round-to-nearest baseline, bias correction', async () => {
    const g = model();
    const r = await pipeline([gptqPlugin({ bits: { '*': 4, fc: 2 }, groupSize: { conv2: 18 }, exclude: ['conv1'], biasCorrection: true })]).run(g, context());
    expect(r.graph.params.get('conv1/kernel')!.quant).toBeUndefined();
    expect(r.graph.params.get('conv2/kernel')!.quant).toMatchObject({ bits: 4, axis: 3, group: { size: 18 } });
    expect(r.graph.params.get('fc/kernel')!.quant).toMatchObject({ bits: 2 });
    const rows = r.stages[0].details!.reconstruction as { layer: string; errorAfter: number; errorAfterBias: number; groupSize?: number }[];
    expect(rows.map((x) => [x.layer, x.groupSize])).toEqual([
      ['conv2', 18],
      ['fc', undefined],
    ]);
    for (const row of rows) expect(row.errorAfterBias).toBeLessThanOrEqual(row.errorAfter);
    expect(r.graph.params.get('fc/bias')!.data).not.toEqual(g.params.get('fc/bias')!.data);

    // A row budget: each of the 48 examples keeps ceil(500 / 48) = 11 of conv1's 64 output positions.
    const budget = await pipeline([gptqPlugin({ maxRows: 500, include: ['conv1'] })]).run(g, context());
    expect((budget.stages[0].details!.reconstruction as { rows: number }[])[0].rows).toBe(11 * 48);
    const rtn = await pipeline([gptqPlugin({ bits: 3, compensate: false })]).run(g, context());
    for (const row of rtn.stages[0].details!.reconstruction as { errorBefore: number; errorAfter: number }[]) expect(row.errorAfter).toBe(row.errorBefore);
    expect(rtn.stages[0].details!.method).toBe('round-to-nearest');
    await expect(pipeline([gptqPlugin({ format: 'codebook', groupSize: 4 })]).run(g, context())).rejects.toThrow(/'groupSize' is for the affine format/);
    await expect(pipeline([gptqPlugin({ include: ['nope'] })]).run(g, context())).rejects.toThrow(/reconstruct.gptq: include pattern 'nope' matches no layer/);
  });

  it('codebook format; not sequential: every layer calibrated on the model as the stage found it', async () => {
    const g = model();
    const r = await pipeline([gptqPlugin({ bits: 3, format: 'codebook', sequential: false })]).run(g, context());
    expect(r.graph.params.get('fc/kernel')!.codebook).toMatchObject({ bits: 3 });
    // fc's statistics come from the float model: the same as GPTQ on fc alone.
    const alone = await pipeline([gptqPlugin({ bits: 3, format: 'codebook', include: ['fc'] })]).run(g, context());
    expect(r.graph.params.get('fc/kernel')!.data).toEqual(alone.graph.params.get('fc/kernel')!.data);
  });

  it('needs calibration data and a runtime that runs forward', () => {
    const stage = gptqPlugin();
    expect(() => pipeline([stage]).check({ runtime: referenceRuntime() })).toThrow(/stage 1 \(reconstruct.gptq\) needs calibration data/);
    expect(() => pipeline([stage]).check({ data: { calibration } })).toThrow(ContractError);
    const noForward = { ...referenceRuntime(), forward: undefined };
    expect(() => pipeline([stage]).check({ data: { calibration }, runtime: noForward })).toThrow(
      /runs the model layer by layer, and runtime 'reference' has no forward\(\)/,
    );
    const registry = createRegistry();
    register(registry);
    expect(registry.names()).toEqual(
      expect.arrayContaining(['reconstruct.gptq', 'reconstruct.sparsegpt', 'reconstruct.biasCorrection', 'reconstruct.bnRecalibrate']),
    );
  });
});

describe('reconstruct.sparsegpt', () => {
  it('prunes each layer to its sparsity, compensating; N:M leaves layers it does not fit dense', async () => {
    const g = model();
    const r = await pipeline([sparseGptPlugin({ sparsity: { '*': 0.5, fc: 0.75 } })]).run(g, context());
    const zeros = (name: string) => r.graph.params.get(name)!.mask!.filter((m) => m === 0).length / r.graph.params.get(name)!.data.length;
    expect([zeros('conv1/kernel'), zeros('conv2/kernel'), zeros('fc/kernel')]).toEqual([0.5, 0.5, 0.75]);
    for (const row of r.stages[0].details!.reconstruction as { errorBefore: number; errorAfter: number }[])
      expect(row.errorAfter).toBeLessThan(row.errorBefore);

    const nm = await pipeline([sparseGptPlugin({ nm: '2:4' })]).run(g, context());
    expect(nm.graph.params.get('conv1/kernel')!.mask).toBeUndefined(); // 18 rows
    expect(nm.stages[0].notes[0]).toBe('conv1: left dense: its 18 kernel rows do not split into groups of 4');
    const fc = nm.graph.params.get('fc/kernel')!;
    for (let r0 = 0; r0 < fc.shape[0]; r0 += 4)
      for (let c = 0; c < 5; c++) expect([0, 1, 2, 3].filter((j) => fc.mask![(r0 + j) * 5 + c] === 0)).toHaveLength(2);
    await expect(pipeline([sparseGptPlugin({ nm: '2:4', sparsity: 0.5 })]).run(g, context())).rejects.toThrow(/give 'sparsity' or 'nm', not both/);
    expect(() => pipeline([sparseGptPlugin(), gptqPlugin()]).check(context())).not.toThrow();
    expect(() => pipeline([gptqPlugin(), sparseGptPlugin()]).check(context())).toThrow(/cannot run after stage 1 \(reconstruct.gptq\)/);
  });
});

/** Per channel, the mean of a pre-activation value over the calibration examples and positions. */
function channelMeans(g: Graph, value: string, activationFree = true): Float64Array {
  const h = cloneGraph(g);
  if (activationFree) for (const n of h.nodes) if (n.name === value) delete n.attrs.activation;
  const v = referenceValues(h, images, COUNT).get(value)!;
  const c = v.shape.at(-1)!;
  const out = new Float64Array(c);
  v.data.forEach((x, i) => (out[i % c] += x / (v.data.length / c)));
  return out;
}

describe('reconstruct.biasCorrection', () => {
  it('after coarse quantization, every layer’s mean output on the calibration set is the input model’s again', async () => {
    const g = model();
    const r = await pipeline([gptqPlugin({ bits: 2, compensate: false }), biasCorrectionPlugin()]).run(g, context());
    const before = (await pipeline([gptqPlugin({ bits: 2, compensate: false })]).run(g, context())).graph;
    for (const layer of ['conv1', 'conv2', 'fc']) {
      const [want, got, off] = [channelMeans(g, layer), channelMeans(r.graph, layer), channelMeans(before, layer)];
      const err = (m: Float64Array) => Math.max(...m.map((v, i) => Math.abs(v - want[i])));
      expect(err(got), layer).toBeLessThan(1e-5);
      expect(err(off), layer).toBeGreaterThan(1e-3);
    }
    expect(r.stages[1].details!.layers).toHaveLength(3);
  });

  it('skips a layer whose kernel no longer matches the input model, and one it cannot change', async () => {
    const g = model();
    const r = await pipeline([gptqPlugin({ bits: 4, include: ['fc'] })]).run(g, context());
    const changed = cloneGraph(r.graph);
    changed.params.get('fc/bias')!.quant = { bits: 8, signed: true, scale: Float32Array.of(1), zeroPoint: Int32Array.of(0) };
    changed.params.get('fc/bias')!.data.fill(0);
    const out = await biasCorrectionPlugin({ include: ['fc'] }).apply!(
      changed,
      testStageContext({ original: g, data: { calibration }, runtime: referenceRuntime() }),
    );
    expect((out as { notes: string[] }).notes[0]).toMatch(/^fc: skipped: correctBias: layer 'fc': 'fc\/bias' is quantized/);
  });
});

describe('reconstruct.bnRecalibrate', () => {
  it('re-estimates the moving statistics from the calibration set, in order', async () => {
    const g = model({ batchNorm: true });
    // As after structural pruning: the statistics no longer describe the layer's output.
    g.params.get('conv1/kernel')!.data.forEach((v, i, a) => (a[i] = 2 * v + 0.01));
    const r = await pipeline([bnRecalibratePlugin()]).run(g, context());
    const bnIn = referenceValues(g, images, COUNT).get('conv1')!;
    const c = 6;
    const mean = new Float64Array(c);
    const sq = new Float64Array(c);
    bnIn.data.forEach((v, i) => ((mean[i % c] += v), (sq[i % c] += v * v)));
    const n = bnIn.data.length / c;
    const m = r.graph.params.get('bn1/movingMean')!.data;
    const v = r.graph.params.get('bn1/movingVariance')!.data;
    for (let ch = 0; ch < c; ch++) {
      expect(m[ch]).toBeCloseTo(mean[ch] / n, 5);
      expect(v[ch]).toBeCloseTo(sq[ch] / n - (mean[ch] / n) ** 2, 5);
    }
    expect(r.stages[0].details!.layers).toEqual([expect.objectContaining({ layer: 'bn1', channels: 6, positions: COUNT * 64 })]);
    // The re-estimated norm normalises its input: zero mean, unit variance per channel.
    const out = channelMeans(r.graph, 'bn1', false);
    for (const x of out) expect(Math.abs(x - 0)).toBeLessThan(0.05);
  });
});
