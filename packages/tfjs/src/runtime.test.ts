import { describe, expect, it } from 'vitest';
import { definePlugin, finetune, pipeline, Type, type PipelineEvent } from '@condense/core';
import { GraphBuilder } from '@condense/ir';
import { selectBackend } from './backend/index.js';
import { tfjsRuntime } from './runtime.js';
import type { TrainingContribution } from './train/index.js';

const counting = (calls: string[]) =>
  definePlugin({
    name: 'test.count',
    description: 'counts steps during the next finetune',
    schema: Type.Object({}),
    create: () => ({
      contract: {},
      training: (): TrainingContribution[] => [{ name: 'count', afterStep: () => void calls.push('step'), end: () => void calls.push('end') }],
    }),
  });

const broken = definePlugin({
  name: 'test.broken',
  description: 'a contribution this trainer cannot run',
  schema: Type.Object({}),
  create: () => ({ contract: {}, training: () => [{ name: 'bad', afterStep: 3 } as unknown as TrainingContribution] }),
});

function tinyData(n: number, seed = 1) {
  let s = seed;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const images = new Float32Array(n * 16);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let j = 0; j < 16; j++) images[i * 16 + j] = (labels[i] ? j < 8 : j >= 8) ? 0.8 + 0.2 * rand() : 0.2 * rand();
  }
  return { images, labels, count: n, shape: [n, 4, 4, 1] as const };
}

const tinyModel = () =>
  new GraphBuilder('tiny', [4, 4, 1]).flatten().dense(8, { activation: 'relu', name: 'fc1' }).dense(2, { activation: 'softmax', name: 'fc2' }).build();

describe('tfjsRuntime in a pipeline', () => {
  it('fine-tunes with the active contributions, measures accuracy, counts epochs, emits events', async () => {
    await selectBackend('cpu');
    const calls: string[] = [];
    const events: PipelineEvent[] = [];
    const data = { train: tinyData(256), test: tinyData(128, 7) };
    const result = await pipeline([counting(calls)(), finetune({ epochs: 3, batchSize: 32, learningRate: 0.01 }), finetune({ epochs: 1, batchSize: 32 })]).run(
      tinyModel(),
      {
        data,
        runtime: tfjsRuntime(),
        onEvent: (e) => events.push(e),
      },
    );
    // 'next'-scoped contributions are active in the first finetune only: 3 epochs x 8 steps.
    expect(calls.filter((c) => c === 'step')).toHaveLength(24);
    expect(calls.filter((c) => c === 'end')).toHaveLength(1);
    expect(result.snapshots[0].accuracy).toBeLessThan(0.8);
    expect(result.snapshots.at(-1)!.accuracy).toBeGreaterThan(0.9);
    expect(result.snapshots.map((s) => s.epochs)).toEqual([0, 0, 3, 1]);
    expect(result.stages[1].finetunes[0].trainAccuracy).toBeGreaterThan(0.5);
    expect(events.filter((e) => e.type === 'epoch')).toHaveLength(4);
  });

  it('passes augment to the trainer (other weights than without)', async () => {
    const data = { train: tinyData(64) };
    const fc1 = async (augment?: { shift?: number; flip?: boolean }) => [
      ...(await pipeline([finetune({ epochs: 1, batchSize: 16, augment })]).run(tinyModel(), { data, runtime: tfjsRuntime() })).graph.params.get('fc1/kernel')!
        .data,
    ];
    expect(await fc1({ shift: 1, flip: true })).not.toEqual(await fc1());
    expect(() => finetune({ augment: { shift: -1 } })).toThrow(/augment/);
  });

  it('refuses a contribution it cannot run, naming it and the field', async () => {
    const run = pipeline([broken(), finetune({ epochs: 1 })]).run(tinyModel(), { data: { train: tinyData(16) }, runtime: tfjsRuntime() });
    await expect(run).rejects.toThrow("tfjs runtime: training contribution 'bad': 'afterStep' must be a function, got number");
  });
});

describe('tfjsRuntime latency', () => {
  it('times inference passes on the backend at hand: the median of the samples, a wider model slower', async () => {
    await selectBackend('cpu');
    const wide = new GraphBuilder('wide', [28, 28, 1]).flatten().dense(1000, { activation: 'relu' }).dense(10).build();
    const narrow = new GraphBuilder('narrow', [28, 28, 1]).flatten().dense(10).build();
    const runtime = tfjsRuntime();
    const a = await runtime.latency!(wide, { batch: 32, runs: 5 });
    const b = await runtime.latency!(narrow, { batch: 32, runs: 5 });
    expect(a.samples).toHaveLength(5);
    expect(a.msPerBatch).toBe([...a.samples].sort((x, y) => x - y)[2]);
    expect(a.backend).toMatch(/^cpu/);
    expect(a.msPerBatch).toBeGreaterThan(b.msPerBatch);
  });
});
