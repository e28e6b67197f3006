import { cost, lenet300100, lenet5 } from '@condense/ir';
import { afterAll, describe, expect, it } from 'vitest';
import type { Choice } from './allocate.js';
import { correctionMoves, ladder, searchBudget } from './budget.js';
import { inProcessRunner } from './host.js';
import { DEFAULT_EXECUTORS } from './recipe-trial.js';
import { selfLabelled } from './fixtures/self-labelled.js';

const runner = inProcessRunner({ modules: [DEFAULT_EXECUTORS], init: { backend: 'cpu' } });
afterAll(() => runner.close());

describe('ladder', () => {
  it('keeps the choices no other beats on both saving and damage, by saving', () => {
    const c = (saving: number, damage: number): Choice<string> => ({ value: `${saving}/${damage}`, saving, damage });
    expect(ladder([c(0, 0), c(10, 5), c(5, 1), c(8, 6), c(10, 4), c(20, 9)]).map((x) => x.value)).toEqual(['0/0', '5/1', '10/4', '20/9']);
  });
});

describe('correctionMoves', () => {
  const c = (saving: number, damage: number): Choice<string> => ({ value: `${saving}/${damage}`, saving, damage });
  // Two units; the allocation saves 10 + 10 of a 100 that must come down to 80.
  const ladders = [
    [c(0, 0), c(5, 1), c(10, 3), c(15, 8)],
    [c(0, 0), c(10, 2), c(12, 3), c(20, 9)],
  ];
  const picks = [ladders[0][2], ladders[1][1]];
  const show = (ms: ReturnType<typeof correctionMoves<string>>) => ms.map((m) => m.changes.map((x) => `${x.u}:${x.next.value}`).join(' '));

  it('steps every unit further when the combination misses the target', () => {
    expect(show(correctionMoves(picks, ladders, 85, 80))).toEqual(['0:15/8', '1:12/3']);
  });

  it('trades budget between units when the allocation is tight: one back, the cheapest partner that keeps the target further', () => {
    // Backing unit 0 off to 5 loses 5: unit 1 must go past 12 (wins 2) to 20.
    // Backing unit 1 off to 0 loses 10: unit 0's step to 15 wins 5, not enough.
    expect(show(correctionMoves(picks, ladders, 80, 80))).toEqual(['0:5/1 1:20/9']);
    const moves = correctionMoves(picks, ladders, 80, 80);
    expect(moves[0].picks.map((p) => p.value)).toEqual(['5/1', '20/9']);
  });

  it('steps back alone where the curves leave room', () => {
    expect(show(correctionMoves(picks, ladders, 70, 80))).toEqual(['0:5/1', '1:0/0']);
  });
});

describe('searchBudget', () => {
  it('meets a size target on LeNet-300-100, sparing the small sensitive output layer, and predicts the bytes it measures', async () => {
    const graph = lenet300100(3);
    const validation = selfLabelled(graph, 300, 1);
    const events: string[] = [];
    const r = await searchBudget(
      { graph, validation, runner, onEvent: (e) => e.type === 'phase' && events.push(`${e.phase} ${e.trials}`) },
      { target: 'size=20x', maxDrop: 0.5, levels: { prune: [0.5, 0.8, 0.9, 0.95], bits: [6, 4] }, samples: 300, steps: 2 },
    );
    expect(r.target).toMatchObject({ metric: 'bytes', text: 'size=20x' });
    expect(r.target.limit).toBeCloseTo(r.target.before / 20);
    // 20x of the input as its file stores it; trials count by the cost model, where the zero biases take no bytes.
    expect(r.target.before).toBe(cost(graph).totals.float32Bytes);
    expect(r.target.unchanged).toBe(cost(graph).totals.bytes);
    expect(r.target.before - r.target.unchanged).toBe(410 * 4);
    expect(r.baseline.accuracy).toBe(1);
    expect(events[0]).toBe('sensitivity 19'); // base + 3 layers x (4 sparsities + 2 widths)
    expect(r.curves.map((c) => `${c.method} ${c.unit} ${c.points.length}`)).toEqual([
      'prune fc1 4',
      'bits fc1 2',
      'prune fc2 4',
      'bits fc2 2',
      'prune fc3 4',
      'bits fc3 2',
    ]);
    expect(r.measured.value).toBeLessThanOrEqual(r.target.limit);
    // Kernel bytes add up exactly across layers; k-means may use fewer centroids than 2^bits, never more.
    if (r.corrections.length === 0) {
      expect(r.measured.value).toBeLessThanOrEqual(r.predicted.value);
      expect(r.measured.value).toBeGreaterThan(r.predicted.value * 0.98);
    }
    expect(r.config.prune.fc1).toBeGreaterThanOrEqual(r.config.prune.fc3 ?? 0);
    expect(r.recipe.stages.map((s) => s.plugin)).toEqual(['prune.magnitude', 'quantize.kmeans']);
    expect(r.drop).toBeCloseTo(1 - r.measured.accuracy);
    expect(r.trials).toBeGreaterThanOrEqual(20);
  });

  it('corrects a MACs allocation the curves over-promise (pruning two coupled layers saves less than the sum)', async () => {
    const graph = lenet5(2);
    const r = await searchBudget(
      { graph, validation: selfLabelled(graph, 32, 5), runner },
      { target: 'macs=4x', levels: { channels: [0.25, 0.5, 0.75] }, samples: 32, steps: 3 },
    );
    // The curves add up the savings of conv1 and conv2, but pruning both shrinks conv2 by (1-a)(1-b), not (1-a-b).
    expect(r.predicted.value).toBeLessThan(r.target.limit);
    expect(r.measured.value).toBeGreaterThan(r.predicted.value);
    // The first combination missed the target, so the correction tightened until the measurement met it.
    expect(r.corrections.length).toBeGreaterThanOrEqual(1);
    expect(r.corrections.at(-1)?.value).toBe(r.measured.value);
    expect(r.meetsTarget).toBe(true);
    expect(r.measured.value).toBeLessThanOrEqual(r.target.limit);
    expect(r.recipe.stages).toEqual([{ plugin: 'prune.l1Filter', options: { layers: r.config.channels } }]);
  });

  it('meets a latency target with structured pruning, timed on the backend at hand', async () => {
    const graph = lenet5(2);
    const r = await searchBudget(
      { graph, validation: selfLabelled(graph, 32, 3), runner },
      { target: 'latency=1.5x', levels: { channels: [0.5, 0.75] }, samples: 32, steps: 2, latency: { batch: 8, runs: 3 } },
    );
    expect(r.methods).toEqual(['channels']);
    expect(r.curves.map((c) => `${c.method} ${c.unit}`)).toEqual(['channels conv1', 'channels conv2', 'channels fc1']);
    expect(r.latency?.timedOn).toEqual([expect.stringMatching(/^cpu .* on .+ x\d+$/)]);
    expect(r.recipe.stages.map((s) => s.plugin)).toEqual(['prune.l1Filter']);
    // Timings are noisy: the search either reports a measured model within the target or says it is not.
    expect(r.meetsTarget).toBe(r.measured.value <= r.target.limit);
    expect(r.target.limit).toBeCloseTo(r.target.before / 1.5);
  });

  it('says how far the methods can go when a target is out of reach', async () => {
    const graph = lenet300100(3);
    await expect(
      searchBudget(
        { graph, validation: selfLabelled(graph, 50, 2), runner },
        { target: 'size=1000x', methods: ['prune'], levels: { prune: [0.5, 0.9] }, samples: 50 },
      ),
    ).rejects.toThrow(/search.budget: size=1000x needs 1.1 kB, and prune over 3 units reach at most .* kB \(\d+\.\dx\) by the curves; add methods or levels/);
  });
});
