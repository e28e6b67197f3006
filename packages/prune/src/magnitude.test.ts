import { describe, expect, it } from 'vitest';
import { testStageContext } from '@condense/core';
import { GraphBuilder, lenet300100, param, type Param } from '@condense/ir';
import { agpSparsity, iterativeSparsity, pruneByQuality, pruneGlobal, pruneToSparsity, smallestMask, std } from './magnitude.js';
import { magnitudePrune } from './plugins.js';

const zeros = (p: Param) => p.data.reduce((a, v) => a + (v === 0 ? 1 : 0), 0);

describe('magnitude pruning', () => {
  it('removes exactly the smallest magnitudes, ties by position', () => {
    const mask = smallestMask(Float32Array.from([0.5, -0.1, 0.3, 0.1, -0.9]), 2);
    expect([...mask]).toEqual([1, 0, 1, 0, 1]);
  });

  it('keeps already-pruned weights pruned when raising sparsity', () => {
    const p = param('w', [6], Float32Array.from([5, 1, 4, 2, 6, 3]));
    pruneToSparsity(p, 1 / 3);
    expect([...p.mask!]).toEqual([1, 0, 1, 0, 1, 1]);
    p.data.set([5, 0, 4, 0, 6, 0.5]); // a pruned weight never comes back even if others shrink
    pruneToSparsity(p, 0.5);
    expect([...p.mask!]).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it('global scope uses one threshold across layers; layer scope one per layer', () => {
    const a = param('a', [4], Float32Array.from([1, 2, 3, 4]));
    const b = param('b', [4], Float32Array.from([10, 20, 30, 40]));
    const reached = pruneGlobal([a, b], 0.5);
    expect(reached.get(a)).toBe(1);
    expect(reached.get(b)).toBe(0);
    const c = param('c', [4], Float32Array.from([1, 2, 3, 4]));
    const d = param('d', [4], Float32Array.from([10, 20, 30, 40]));
    pruneToSparsity(c, 0.5);
    pruneToSparsity(d, 0.5);
    expect([...c.data]).toEqual([0, 0, 3, 4]);
    expect([...d.data]).toEqual([0, 0, 30, 40]);
  });

  it("Han's rule prunes below quality x std", () => {
    const p = param('w', [5], Float32Array.from([-2, -1, 0, 1, 2]));
    const s = std(p.data);
    expect(s).toBeCloseTo(Math.sqrt(2));
    const reached = pruneByQuality(p, 0.8); // threshold 1.13: keeps only +-2
    expect(reached).toBeCloseTo(0.6);
    expect([...p.data]).toEqual([-2, 0, 0, 0, 2]);
  });

  it('AGP follows s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3', () => {
    const o = { initial: 0.1, final: 0.9, startStep: 100, endStep: 1100 };
    for (const t of [0, 100, 350, 600, 850, 1100, 5000]) {
      const clamped = Math.min(Math.max(t, 100), 1100);
      const expected = 0.9 + (0.1 - 0.9) * (1 - (clamped - 100) / 1000) ** 3;
      expect(agpSparsity(t, o)).toBeCloseTo(expected, 12);
    }
    expect(agpSparsity(600, o)).toBeCloseTo(0.9 - 0.8 * 0.125, 12);
  });

  it('iterative rounds rise to the final sparsity', () => {
    const s = [1, 2, 3].map((r) => iterativeSparsity(r, 3, 0.92));
    expect(s[0]).toBeLessThan(s[1]);
    expect(s[2]).toBeCloseTo(0.92, 12);
  });
});

describe('prune.magnitude plugin', () => {
  it('prunes per-layer maps by name and glob, never biases', async () => {
    const g = lenet300100();
    await magnitudePrune({ layers: { 'fc*': 0.5, fc1: 0.92 } }).apply!(g, testStageContext());
    const k1 = g.params.get('fc1/kernel')!;
    expect(zeros(k1) / k1.data.length).toBeCloseTo(0.92, 3);
    const k2 = g.params.get('fc2/kernel')!;
    expect(zeros(k2) / k2.data.length).toBeCloseTo(0.5, 3);
    expect(g.params.get('fc1/bias')!.mask).toBeUndefined();
  });

  it('rejects sparsity outside [0, 1), unknown layers and empty globs, naming them', async () => {
    expect(() => magnitudePrune({ sparsity: 1 })).toThrow(/sparsity/);
    expect(() => magnitudePrune({ sparsity: -0.1 })).toThrow(/sparsity/);
    await expect(async () => magnitudePrune({ layers: { nope: 0.5 } }).apply!(lenet300100(), testStageContext())).rejects.toThrow(/'nope'/);
    await expect(async () => magnitudePrune({ layers: { 'conv*': 0.5 } }).apply!(lenet300100(), testStageContext())).rejects.toThrow(
      /prune\.magnitude: layers key pattern 'conv\*' matches no layer, param or op type \(candidates: fc1\/kernel \(dense fc1\)/,
    );
    expect(() => magnitudePrune({})).toThrow(/give one of/);
  });

  it('global scope reaches the total sparsity across conv and dense kernels', async () => {
    const g = new GraphBuilder('t', [8, 8, 1]).conv2d(4, 3).flatten().dense(10).build();
    await magnitudePrune({ sparsity: 0.75, scope: 'global' }).apply!(g, testStageContext());
    const kernels = [...g.params.values()].filter((p) => p.name.endsWith('kernel'));
    const total = kernels.reduce((a, p) => a + p.data.length, 0);
    const pruned = kernels.reduce((a, p) => a + zeros(p), 0);
    expect(pruned).toBe(Math.round(0.75 * total));
  });
});
