import { rng } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { batches, oneHot, shuffledIndices, subset, validationSplit } from './batches.js';
import type { Split } from './split.js';

/** n samples of shape [2]; sample i is [i, -i] with label i % classes. */
function toy(n: number, classes = 3): Split<[2]> {
  const images = new Float32Array(n * 2);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    images[2 * i] = i;
    images[2 * i + 1] = -i;
    labels[i] = i % classes;
  }
  return { images, labels, count: n, shape: [n, 2] };
}

/** shuffledIndices(10, 42) as the generator gives it; pinned like the stream itself. */
const PINNED_SHUFFLE = [0, 7, 3, 5, 2, 1, 8, 9, 4, 6];

/** Sample ids (first pixel) of a split, to check membership and order. */
const ids = (s: Split<[2]>) => Array.from({ length: s.count }, (_, i) => s.images[2 * i]);

describe('shuffledIndices', () => {
  it('is pinned: the same sequence on every platform', () => {
    const rand = rng(42);
    // Reference values of mulberry32(42), the generator behind every seeded shuffle; a change here changes them all and the embedded subset.
    expect([rand(), rand(), rand()].map((x) => Math.round(x * 2 ** 32))).toEqual([2581720956, 1925393290, 3661312704]);
    expect(Array.from(shuffledIndices(10, 42))).toEqual(PINNED_SHUFFLE);
  });

  it('shuffles deterministically per seed', () => {
    const a = shuffledIndices(100, 7);
    expect(shuffledIndices(100, 7)).toEqual(a);
    expect(shuffledIndices(100, 8)).not.toEqual(a);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});

describe('batches', () => {
  it('visits every sample once, last batch partial, shape per batch', () => {
    const all = [...batches(toy(10), 4, { seed: 1 })];
    expect(all.map((b) => b.count)).toEqual([4, 4, 2]);
    expect(all[2].shape).toEqual([2, 2]);
    const seen = all.flatMap(ids);
    expect(seen.slice().sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // labels travel with their images
    for (const b of all) ids(b).forEach((id, i) => expect(b.labels[i]).toBe(id % 3));
    expect([...batches(toy(10), 4, { seed: 1 })].flatMap(ids)).toEqual(seen);
  });

  it('unshuffled batches are in-order views', () => {
    const split = toy(5);
    const [first] = batches(split, 2, { shuffle: false });
    expect(ids(first)).toEqual([0, 1]);
    expect(first.images.buffer).toBe(split.images.buffer);
  });

  it('rejects a bad batch size', () => {
    expect(() => batches(toy(3), 0).next()).toThrow(/batchSize/);
  });
});

describe('validationSplit', () => {
  it('partitions deterministically', () => {
    const { train, validation } = validationSplit(toy(10), 0.2, 3);
    expect(validation.count).toBe(2);
    expect(train.count).toBe(8);
    expect([...ids(train), ...ids(validation)].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ids(validationSplit(toy(10), 0.2, 3).validation)).toEqual(ids(validation));
    expect(() => validationSplit(toy(10), 1)).toThrow(RangeError);
  });
});

describe('oneHot', () => {
  it('encodes rows', () => {
    expect(Array.from(oneHot([2, 0], 3))).toEqual([0, 0, 1, 1, 0, 0]);
    expect(() => oneHot([3], 3)).toThrow(/label 3 at 0/);
  });
});

describe('subset', () => {
  it('balances classes, deterministically', () => {
    const s = subset(toy(300, 3), 30, { balanced: true, seed: 5 });
    expect(s.count).toBe(30);
    expect(s.shape).toEqual([30, 2]);
    expect([0, 1, 2].map((c) => s.labels.filter((l) => l === c).length)).toEqual([10, 10, 10]);
    ids(s).forEach((id, i) => expect(s.labels[i]).toBe(id % 3));
    expect(new Set(ids(s)).size).toBe(30);
    expect(ids(subset(toy(300, 3), 30, { balanced: true, seed: 5 }))).toEqual(ids(s));
    expect(ids(subset(toy(300, 3), 30, { balanced: true, seed: 6 }))).not.toEqual(ids(s));
  });

  it('gives the remainder to the lowest labels', () => {
    const s = subset(toy(30, 3), 8, { balanced: true });
    expect([0, 1, 2].map((c) => s.labels.filter((l) => l === c).length)).toEqual([3, 3, 2]);
  });

  it('errors when a class is too small or n too large', () => {
    const skewed = toy(12, 3);
    skewed.labels.fill(0, 0, 10); // class 1 and 2 now have 1 sample each
    expect(() => subset(skewed, 6, { balanced: true })).toThrow(/class 1 has 1 samples, a balanced subset of 6 needs 2/);
    expect(() => subset(toy(5), 6)).toThrow(/exceeds/);
  });

  it('plain random subset', () => {
    const s = subset(toy(50), 7, { seed: 2 });
    expect(s.count).toBe(7);
    expect(new Set(ids(s)).size).toBe(7);
  });
});
