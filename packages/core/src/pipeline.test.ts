import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { countNonzero, lenet300100, setMask, GraphBuilder, type Graph } from '@condense/ir';
import { definePlugin } from './plugin.js';
import { pipeline } from './pipeline.js';
import { finetune } from './stages.js';
import type { PipelineEvent } from './events.js';
import type { Runtime, TrainingContribution, TrainRequest } from './runtime.js';
import { testStageContext } from './testing.js';

const halve = definePlugin({
  name: 'test.halve',
  description: 'prune the first half of fc1',
  schema: Type.Object({}),
  create: () => ({
    contract: { provides: ['mask'] },
    apply(graph) {
      const k = graph.params.get('fc1/kernel')!;
      setMask(
        k,
        Uint8Array.from({ length: k.data.length }, (_, i) => (i < k.data.length / 2 ? 0 : 1)),
      );
      return { notes: ['halved'] };
    },
  }),
});

const contributing = (name: string, scope: 'next' | 'all' = 'next') =>
  definePlugin({
    name,
    description: 'adds a named contribution to the following fine-tunes',
    schema: Type.Object({}),
    create: () => ({ contract: {}, trainingScope: scope, training: (): TrainingContribution[] => [{ name }] }),
  })();

/** Trains through ctx.finetune once per layer, as ThiNet's between-layer fine-tunes do. */
const perLayer = definePlugin({
  name: 'test.perLayer',
  description: 'two fine-tunes inside one stage',
  schema: Type.Object({}),
  create: () => ({
    contract: { requires: ['labels'], runtime: ['train'] },
    async apply(graph, ctx) {
      await ctx.finetune(graph, { epochs: 1 });
      await ctx.finetune(graph, { epochs: 2, learningRate: 0.01 });
    },
  }),
});

const encoder = definePlugin({
  name: 'test.encode',
  description: 'reports the bytes of what it stored',
  schema: Type.Object({}),
  create: () => ({ contract: { final: true }, apply: () => ({ storedBytes: 1234, artifacts: { 'x.bin': new Uint8Array(1234) } }) }),
});

/**
 * A runtime that records what the pipeline asks of it. "Training" zeroes one more weight of fc1
 * per epoch, and accuracy is fc1's kept fraction, so both leave traces a test can read.
 */
function recordingRuntime() {
  const trained: (Omit<TrainRequest, 'contributions' | 'onEpoch' | 'signal'> & { contributions: string[] })[] = [];
  const runtime: Runtime = {
    name: 'recording',
    async train(graph, _data, { contributions, onEpoch, signal: _signal, ...request }) {
      trained.push({ ...request, contributions: contributions.map((c) => c.name) });
      const k = graph.params.get('fc1/kernel')!;
      for (let e = 0; e < request.epochs; e++) {
        const i = k.data.findIndex((v) => v !== 0);
        if (i >= 0) k.data[i] = 0;
        onEpoch?.({ epoch: e + 1, epochs: request.epochs, loss: 1 / (e + 1) });
      }
      return { epochs: request.epochs, finalLoss: 0.5, trainAccuracy: 0.75 };
    },
    async evaluate(graph) {
      const k = graph.params.get('fc1/kernel')!;
      const accuracy = countNonzero(k.data) / k.data.length;
      return { accuracy, loss: 1, metrics: { accuracy }, count: 4 };
    },
    // One output per example: fc1's kept fraction, so agreement with the original follows training.
    async predict(graph, _data, request = {}) {
      const k = graph.params.get('fc1/kernel')!;
      const n = Math.min(request.limit ?? 4, 4);
      return [{ values: new Float32Array(n).fill(countNonzero(k.data) / k.data.length), shape: [n, 1], dtype: 'float32' as const }];
    },
  };
  return { runtime, trained };
}

function tinyData(n: number) {
  return { images: new Float32Array(n * 16).fill(0.5), labels: new Uint8Array(n), count: n, shape: [n, 4, 4, 1] as const };
}

const tinyModel = (): Graph =>
  new GraphBuilder('tiny', [4, 4, 1]).flatten().dense(8, { activation: 'relu', name: 'fc1' }).dense(2, { activation: 'softmax', name: 'fc2' }).build();
const data = { train: tinyData(8), test: tinyData(4) };

describe('pipeline', () => {
  it('never modifies the input and records a snapshot per stage', async () => {
    const input = lenet300100();
    const before = input.params.get('fc1/kernel')!.data.slice();
    const result = await pipeline([halve()]).run(input);
    expect(input.params.get('fc1/kernel')!.data).toEqual(before);
    expect(input.params.get('fc1/kernel')!.mask).toBeUndefined();
    expect(result.snapshots.map((s) => s.stage)).toEqual(['input', 'test.halve']);
    expect(result.snapshots[1].nonzero).toBeLessThan(result.snapshots[0].nonzero - 100_000);
    expect(result.snapshots[1].notes).toEqual(['halved']);
    expect(result.snapshots.map((s) => s.epochs)).toEqual([0, 0]);
  });

  it("trains through the runtime: 'next' contributions reach the next training stage only, 'all' every later one", async () => {
    const { runtime, trained } = recordingRuntime();
    const events: PipelineEvent[] = [];
    const stages = [
      contributing('kd', 'all'),
      contributing('sss'),
      finetune({ epochs: 3, batchSize: 32, learningRate: 0.01 }),
      finetune({ epochs: 1, batchSize: 32 }),
    ];
    const result = await pipeline(stages).run(tinyModel(), { data, runtime, seed: 7, onEvent: (e) => events.push(e) });
    expect(trained.map((t) => t.contributions)).toEqual([['kd', 'sss'], ['kd']]);
    expect(trained[0]).toMatchObject({ epochs: 3, batchSize: 32, learningRate: 0.01, optimizer: 'adam', seed: 7 });
    expect(result.snapshots.map((s) => s.epochs)).toEqual([0, 0, 0, 3, 1]);
    expect(result.stages.map((s) => s.epochs)).toEqual([0, 0, 3, 1]);
    expect(result.stages[2].finetunes).toEqual([
      { options: expect.objectContaining({ epochs: 3, learningRate: 0.01 }), epochs: 3, finalLoss: 0.5, trainAccuracy: 0.75 },
    ]);
    // Accuracy after every stage comes from the runtime: here it follows the weights training zeroed.
    expect(result.snapshots[4].accuracy).toBeCloseTo(result.snapshots[0].accuracy! - 4 / 128);
    expect(events.filter((e) => e.type === 'epoch').map((e) => (e as { index: number }).index)).toEqual([3, 3, 3, 4]);
    // Agreement with the original on the test inputs, in every snapshot after the input's.
    expect(result.snapshots[0].agreement).toBeUndefined();
    expect(result.snapshots[1].agreement).toEqual({ examples: 4, maxAbsDiff: 0, meanAbsDiff: 0 });
    expect(result.snapshots[4].agreement?.maxAbsDiff).toBeCloseTo(4 / 128);
    expect(result.snapshots[4].metrics).toEqual({ accuracy: result.snapshots[4].accuracy });
    expect(trained[0].teacher).toBe(result.original);
  });

  it('counts every fine-tune of a stage that trains inside apply, which also consumes the contributions', async () => {
    const { runtime, trained } = recordingRuntime();
    const result = await pipeline([contributing('sss'), perLayer(), finetune({ epochs: 2 })]).run(tinyModel(), { data, runtime });
    expect(trained.map((t) => [t.epochs, t.contributions])).toEqual([
      [1, ['sss']],
      [2, ['sss']],
      [2, []],
    ]);
    expect(result.stages[1].epochs).toBe(3);
    expect(result.stages[1].finetunes.map((f) => f.options.learningRate)).toEqual([1e-3, 0.01]);
    expect(result.snapshots.reduce((n, s) => n + s.epochs, 0)).toBe(5);
  });

  it("records a stage's stored bytes in its snapshot", async () => {
    const result = await pipeline([halve(), encoder()]).run(lenet300100());
    expect(result.snapshots[2].bytes).toBe(1234);
    expect(result.snapshots[1].bytes).not.toBe(1234);
    expect(result.artifacts['x.bin']).toHaveLength(1234);
  });

  it('refuses, before any work, runtime work without a runtime, and says how to pass one', async () => {
    const p = pipeline([halve(), finetune()]);
    expect(() => p.check({ data: { train: data.train } })).toThrow(
      /^stage 2 \(finetune\) trains the model, and the pipeline was given no runtime: pass one as 'runtime'.*tfjsRuntime\(\).*@condense\/tfjs/,
    );
    expect(() => pipeline([halve()]).check({ data })).toThrow(
      /evaluates the model after every stage \(test data was given\), and was given no runtime: .*evaluateEachStage: false/,
    );
    expect(() => pipeline([halve()]).check({ data, evaluateEachStage: false })).not.toThrow();
    expect(() => p.check({ data: { train: data.train }, runtime: recordingRuntime().runtime })).not.toThrow();
  });

  it("refuses, before any stage runs, a model a later stage's check rejects; the input's bytes are its file's", async () => {
    const g = lenet300100(1);
    const ran: string[] = [];
    const first = { name: 'first', options: {}, contract: {}, apply: () => void ran.push('first') };
    const refuses = {
      name: 'refuses',
      options: {},
      contract: {},
      check: (m: Graph) => {
        if (m.params.has('fc1/kernel')) throw new Error("layer 'fc1' cannot");
      },
    };
    await expect(pipeline([first, refuses]).run(g)).rejects.toThrow("stage 2 (refuses) cannot run on this model: layer 'fc1' cannot");
    expect(ran).toEqual([]);
    // A weight its file stored as uint8 counts 1 byte per value in the input snapshot.
    const k = g.params.get('fc1/kernel')!;
    k.data = k.data.map((v) => (Math.round(v * 100) + 128) * 0.01 - 1.28); // decoded as TF.js decodes uint8 codes
    k.stored = {
      entry: { name: k.name, shape: k.shape, dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.01, min: -1.28 } },
      bytes: new Uint8Array(0),
    };
    const r = await pipeline([first]).run(g);
    expect(r.snapshots[0].bytes).toBe(r.snapshots[0].float32Bytes - k.data.length * 3);
  });

  it('refuses training contributions that no later stage trains with', () => {
    const { runtime } = recordingRuntime();
    expect(() => pipeline([finetune(), contributing('sss')]).check({ data, runtime })).toThrow(
      'stage 2 (sss) adds training contributions, and no later stage trains: add a finetune stage after it',
    );
    expect(() => pipeline([contributing('sss'), perLayer()]).check({ data, runtime })).not.toThrow();
  });

  it('refuses to start without the data a stage requires', async () => {
    await expect(pipeline([finetune()]).run(tinyModel())).rejects.toThrow(/stage 1 \(finetune\) needs training data/);
  });

  it('stops between stages when aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(pipeline([halve()]).run(lenet300100(), { signal: ac.signal })).rejects.toThrow();
  });
});

describe('testStageContext', () => {
  it("runs a plugin's apply with the pipeline's behaviour and keeps what it reported", async () => {
    const { runtime, trained } = recordingRuntime();
    const ctx = testStageContext({ data, runtime, contributions: [{ name: 'kd' }], name: 'test.perLayer' });
    await perLayer().apply!(tinyModel(), ctx);
    expect(trained.map((t) => t.contributions)).toEqual([['kd'], ['kd']]);
    expect(ctx.finetunes.map((f) => f.epochs)).toEqual([1, 2]);
    expect(ctx.events.filter((e) => e.type === 'epoch')).toHaveLength(3);
    expect(ctx.stage).toEqual({ index: 1, name: 'test.perLayer', total: 1 });
  });

  it('names what is missing: a runtime, data, the original model', async () => {
    await expect(testStageContext({ data }).finetune(tinyModel())).rejects.toThrow(
      /stage 1 \(test\) fine-tunes, and the pipeline was given no runtime: pass one as 'runtime'/,
    );
    expect(() => testStageContext().requireData('train')).toThrow(/stage 1 \(test\) needs train data/);
    expect(() => testStageContext().original).toThrow(/testStageContext: the stage reads ctx\.original; pass \{ original \}/);
    const original = tinyModel();
    expect(testStageContext({ original }).teacher).toBe(original);
  });
});
