import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { lenet300100, setMask, GraphBuilder } from '@condense/ir';
import type { TrainingContribution } from '@condense/tfjs';
import { definePlugin } from './plugin.js';
import { pipeline } from './pipeline.js';
import { finetune } from './stages.js';
import type { PipelineEvent } from './events.js';

const halve = definePlugin({
  name: 'test.halve',
  description: 'prune the first half of fc1',
  schema: Type.Object({}),
  create: () => ({
    contract: { provides: ['mask'] },
    apply(graph) {
      const k = graph.params.get('fc1/kernel')!;
      setMask(k, Uint8Array.from({ length: k.data.length }, (_, i) => (i < k.data.length / 2 ? 0 : 1)));
      return { notes: ['halved'] };
    },
  }),
});

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

function tinyData(n: number, seed = 1) {
  let s = seed;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const images = new Float32Array(n * 16);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let j = 0; j < 16; j++) images[i * 16 + j] = (labels[i] ? j < 8 : j >= 8) ? 0.8 + 0.2 * rand() : 0.2 * rand();
  }
  return { images, labels, count: n, shape: [n, 4, 4, 1] as const };
}

const tinyModel = () => new GraphBuilder('tiny', [4, 4, 1]).flatten().dense(8, { activation: 'relu', name: 'fc1' }).dense(2, { activation: 'softmax', name: 'fc2' }).build();

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
  });

  it('fine-tunes with the active contributions, keeps masks, measures accuracy, emits events', async () => {
    const calls: string[] = [];
    const events: PipelineEvent[] = [];
    const data = { train: tinyData(256), test: tinyData(128, 7) };
    const result = await pipeline([counting(calls)(), finetune({ epochs: 3, batchSize: 32, learningRate: 0.01 }), finetune({ epochs: 1, batchSize: 32 })]).run(tinyModel(), {
      data,
      onEvent: (e) => events.push(e),
    });
    // 'next'-scoped contributions are active in the first finetune only: 3 epochs x 8 steps.
    expect(calls.filter((c) => c === 'step')).toHaveLength(24);
    expect(calls.filter((c) => c === 'end')).toHaveLength(1);
    expect(result.snapshots.at(-1)!.accuracy).toBeGreaterThan(0.9);
    expect(events.filter((e) => e.type === 'epoch')).toHaveLength(4);
    expect(events.filter((e) => e.type === 'stageEnd').map((e) => (e as { name: string }).name)).toEqual(['test.count', 'finetune', 'finetune']);
  });

  it('finetune passes augment to the trainer (other weights than without) and validates it', async () => {
    const data = { train: tinyData(64) };
    const fc1 = async (augment?: { shift?: number; flip?: boolean }) =>
      [...(await pipeline([finetune({ epochs: 1, batchSize: 16, augment })]).run(tinyModel(), { data, evaluateEachStage: false })).graph.params.get('fc1/kernel')!.data];
    expect(await fc1({ shift: 1, flip: true })).not.toEqual(await fc1());
    expect(() => finetune({ augment: { shift: -1 } })).toThrow(/augment/);
  });

  it('refuses to start without the data a stage requires', async () => {
    await expect(pipeline([finetune()]).run(tinyModel())).rejects.toThrow(/stage 1 \(finetune\) needs labelled training data/);
  });

  it('stops between stages when aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(pipeline([halve()]).run(lenet300100(), { signal: ac.signal })).rejects.toThrow();
  });
});
