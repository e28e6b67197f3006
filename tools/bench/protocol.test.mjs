import { FASHION_MNIST_EMBEDDED_DIR } from '@condense/datasets';
import { describe, expect, it } from 'vitest';
import { meanRows, mergeParts, Protocol, protocolData, seedList, seedMetrics, seedParts } from './protocol.mjs';

const split = (n) => ({ images: new Float32Array(n * 2).map((_, i) => i), labels: new Uint8Array(n), count: n, shape: [n, 2] });

describe('Protocol', () => {
  const protocol = () => new Protocol({ train: split(4), validation: split(2), test: split(3), source: 'synthetic', validationSplit: 'last 2' });

  it('hands out the test split once per final configuration and records every use', () => {
    const p = protocol();
    expect(p.test('seed 1: pruned').count).toBe(3);
    p.test('seed 1: baseline');
    expect(() => p.test('seed 1: pruned')).toThrow(/already measured for 'seed 1: pruned'/);
    expect(() => p.test('')).toThrow(/needs the name/);
    expect(p.record()).toEqual({ validation_split: 'last 2', test_uses: ['seed 1: pruned', 'seed 1: baseline'] });
    expect(p.sizes({ extra: 1 })).toEqual({ train: 4, validation: 2, test: 3, source: 'synthetic', extra: 1 });
    // No property holds the test split: it is reachable through test(label) only.
    expect(Object.values(p).some((v) => v?.count === 3)).toBe(false);
  });
});

describe('protocolData', () => {
  it('holds the last images of the training file out as validation, disjoint from the training images', async () => {
    const p = await protocolData({ quick: true, data: FASHION_MNIST_EMBEDDED_DIR }, { quickTrain: 300, quickValidation: 200, quickTest: 50 });
    expect([p.train.count, p.validation.count, p.sizes().test]).toEqual([300, 200, 50]);
    // The embedded subset has 10,000 training images: validation is 9,800-9,999, training 0-299.
    expect(p.validationSplit).toMatch(/training images 9800-9999 \(the last 200 of 10000\)/);
    expect(p.validation.images.byteOffset).toBe(9800 * 784 * 4);
    expect(p.train.images.byteOffset).toBe(0);
  });

  it('trains on every image before the validation split by default, and rejects an impossible split', async () => {
    const p = await protocolData({ quick: false, data: FASHION_MNIST_EMBEDDED_DIR }, { validation: 1000, test: 10 });
    expect(p.train.count).toBe(9000);
    await expect(protocolData({ quick: false, data: FASHION_MNIST_EMBEDDED_DIR }, { validation: 10000, test: 10 })).rejects.toThrow(
      /validation size must be in \(0, 10000\)/,
    );
  });
});

describe('seeds', () => {
  it('runs 3 seeds in full, 1 quick, or --seeds N from --seed', () => {
    expect(seedList({ quick: false })).toEqual([1, 2, 3]);
    expect(seedList({ quick: true, seed: 4 })).toEqual([4]);
    expect(seedList({ quick: true, seed: 2, seeds: 2 })).toEqual([2, 3]);
    expect(() => seedList({ seeds: 0 })).toThrow(/--seeds/);
  });

  it('reports mean and sample std of what varies, the value of what does not', () => {
    const m = seedMetrics([
      { seed: 1, metrics: { accuracy: 0.8, bits: 6, variant: 'a', mixed: 'x' } },
      { seed: 2, metrics: { accuracy: 0.9, bits: 6, variant: 'a', mixed: 'y' } },
    ]);
    expect(m.accuracy).toBeCloseTo(0.85, 10);
    expect(m.accuracy_std).toBeCloseTo(Math.sqrt(0.005), 3);
    expect(m).toMatchObject({ bits: 6, variant: 'a', seeds: 2 });
    expect('bits_std' in m || 'mixed' in m).toBe(false);
  });

  it('averages tables of the same shape cell by cell', () => {
    expect(meanRows([[{ bits: 4, acc: 0.5 }], [{ bits: 4, acc: 0.7 }]])).toEqual([{ bits: 4, acc: '0.6 ± 0.14' }]);
  });
});

describe('seed parts', () => {
  const bench = { name: 'b', order: 10, description: 'a benchmark', run: async () => ({}) };

  it('splits a benchmark into one run per seed, in a group', () => {
    const parts = seedParts(bench);
    expect(parts.map((p) => [p.name, p.group, p.seeds])).toEqual([
      ['b-seed1', 'b', [1]],
      ['b-seed2', 'b', [2]],
      ['b-seed3', 'b', [3]],
    ]);
    expect(parts[1].order).toBeGreaterThan(parts[0].order);
  });

  it('merges the parts back into one result over all their seeds', () => {
    const part = (s, accuracy, commit) => ({
      benchmark: `b-seed${s}`,
      group: 'b',
      description: `a benchmark (seed ${s} of 1, 2)`,
      commit,
      seeds: [s],
      quick: false,
      wall_s: 10,
      metrics: { accuracy },
      seed_runs: [{ seed: s, metrics: { accuracy } }],
      notes: ['n'],
      protocol: { validation_split: 'v', test_uses: [`seed ${s}: x`] },
    });
    const r = mergeParts([part(2, 0.9, 'c2'), part(1, 0.8, 'c1')]);
    expect(r).toMatchObject({ benchmark: 'b', description: 'a benchmark', commit: 'c1, c2', seeds: [1, 2], wall_s: 20 });
    expect(r.metrics.accuracy).toBeCloseTo(0.85, 10);
    expect(r.protocol.test_uses).toEqual(['seed 1: x', 'seed 2: x']);
  });
});
