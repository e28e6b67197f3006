import { gaussian, rng } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { initialCentroids, kmeans1d, linearCentroids, type KmeansInit } from './kmeans.js';
import { sortFloat32 } from './sort.js';

const INITS: KmeansInit[] = ['linear', 'density', 'kmeans++'];

function normalData(n: number, seed: number, sd = 1): Float32Array {
  const normal = gaussian(rng(seed));
  return Float32Array.from({ length: n }, () => sd * normal());
}

/** Plain O(nk) Lloyd from the same linear start, for comparison (no empty-cluster handling needed on this data). */
function naiveLloyd(values: Float32Array, start: Float64Array, iterations: number): Float64Array {
  let c = Float64Array.from(start);
  for (let it = 0; it < iterations; it++) {
    const sum = new Float64Array(c.length);
    const cnt = new Float64Array(c.length);
    for (const x of values) {
      let best = 0;
      for (let j = 1; j < c.length; j++) if (Math.abs(x - c[j]) <= Math.abs(x - c[best])) best = j;
      sum[best] += x;
      cnt[best]++;
    }
    const next = c.map((v, j) => (cnt[j] ? Math.fround(sum[j] / cnt[j]) : v));
    if (next.every((v, j) => v === c[j])) break;
    c = next;
  }
  return c;
}

function nearest(c: Float32Array, x: number): number {
  let best = 0;
  for (let j = 1; j < c.length; j++) if (Math.abs(x - c[j]) < Math.abs(x - c[best])) best = j;
  return best;
}

describe('sortFloat32', () => {
  it('sorts like the native numeric sort and leaves the input alone', () => {
    const a = normalData(20_000, 3, 1e3);
    a[0] = 0;
    a[1] = -3.4e38;
    a[2] = 3.4e38;
    a[3] = 1e-45;
    a[4] = -0;
    const copy = a.slice();
    const ours = sortFloat32(a);
    const native = a.slice().sort();
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (ours[i] !== native[i]) differ++;
    expect(ours.length).toBe(a.length);
    expect(differ).toBe(0);
    expect(a).toEqual(copy);
  });
});

describe('linearCentroids', () => {
  it('spaces k centroids evenly with min and max included exactly', () => {
    const c = linearCentroids(Math.fround(-0.3), Math.fround(0.7), 5);
    expect(c[0]).toBe(Math.fround(-0.3));
    expect(c[4]).toBe(Math.fround(0.7));
    for (let j = 1; j < 5; j++) expect(c[j] - c[j - 1]).toBeCloseTo(0.25, 6);
    expect(Array.from(linearCentroids(1, 3, 1))).toEqual([2]);
  });

  it('as the k-means start, spans [min, max] of the data even with one far outlier', () => {
    const values = normalData(2000, 1, 0.1);
    values[7] = 5;
    const one = kmeans1d(values, { k: 8, init: 'linear', iterations: 1 });
    // After one Lloyd step the outlier still owns its own centroid: linear init keeps large weights.
    expect(one.centroids[7]).toBe(5);
    expect(one.indices[7]).toBe(7);
  });
});

describe('initialCentroids', () => {
  const values = normalData(10_000, 4);
  const sorted = values.slice().sort();

  it("'linear' starts at the data's min and max exactly", () => {
    const c = initialCentroids(values, 64, 'linear');
    expect(c.length).toBe(64);
    expect(c[0]).toBe(sorted[0]);
    expect(c[63]).toBe(sorted[sorted.length - 1]);
  });

  it("'density' starts at the quantiles (j + 1/2) / k", () => {
    const c = initialCentroids(values, 10, 'density');
    expect(Array.from(c)).toEqual([500, 1500, 2500, 3500, 4500, 5500, 6500, 7500, 8500, 9500].map((r) => sorted[r]));
  });

  it("'kmeans++' draws k distinct data values, reproducibly per seed", () => {
    const present = new Set(values);
    for (const k of [5, 300]) {
      const c = initialCentroids(values, k, 'kmeans++', 2);
      expect(new Set(c).size).toBe(k);
      expect(Array.from(c).every((v) => present.has(v))).toBe(true);
      for (let j = 1; j < k; j++) expect(c[j]).toBeGreaterThan(c[j - 1]);
      expect(initialCentroids(values, k, 'kmeans++', 2)).toEqual(c);
    }
    // D^2 sampling spreads out: the 5 draws cover most of the range, unlike 5 uniform picks would typically.
    const c = initialCentroids(values, 5, 'kmeans++', 2);
    expect(c[4] - c[0]).toBeGreaterThan(2);
  });
});

describe('kmeans1d', () => {
  it.each(INITS)('recovers the centers of a well-separated mixture (%s)', (init) => {
    const centers = [-1, 0.2, 2];
    const normal = gaussian(rng(5));
    const values = Float32Array.from({ length: 30_000 }, (_, i) => centers[i % 3] + 0.05 * normal());
    const r = kmeans1d(values, { k: 3, init, seed: 7 });
    expect(r.converged).toBe(true);
    centers.forEach((c, j) => expect(Math.abs(r.centroids[j] - c)).toBeLessThan(0.005));
    let wrong = 0;
    for (let i = 0; i < values.length; i++) if (r.indices[i] !== i % 3) wrong++;
    expect(wrong).toBe(0);
  });

  it('matches a plain O(nk) Lloyd from the same linear start', () => {
    const values = normalData(3000, 11);
    const k = 16;
    const r = kmeans1d(values, { k, init: 'linear', iterations: 1000 });
    const sorted = values.slice().sort();
    const ref = naiveLloyd(values, linearCentroids(sorted[0], sorted[sorted.length - 1], k), 1000);
    expect(r.converged).toBe(true);
    expect(Array.from(r.centroids)).toEqual(Array.from(ref));
  });

  it.each(INITS)('gives every value its nearest centroid, and a converged centroid is the mean of its members (%s)', (init) => {
    const values = normalData(5000, 2);
    const r = kmeans1d(values, { k: 32, init, iterations: 1000 });
    expect(r.centroids.length).toBe(32);
    for (let j = 1; j < r.centroids.length; j++) expect(r.centroids[j]).toBeGreaterThan(r.centroids[j - 1]);
    const sum = new Float64Array(32);
    const cnt = new Float64Array(32);
    let notNearest = 0;
    for (let i = 0; i < values.length; i++) {
      const j = r.indices[i];
      if (Math.abs(values[i] - r.centroids[j]) > Math.abs(values[i] - r.centroids[nearest(r.centroids, values[i])])) notNearest++;
      sum[j] += values[i];
      cnt[j]++;
    }
    expect(notNearest).toBe(0);
    expect(r.converged).toBe(true);
    for (let j = 0; j < 32; j++) {
      expect(cnt[j]).toBeGreaterThan(0);
      expect(r.centroids[j]).toBe(Math.fround(sum[j] / cnt[j]));
    }
  });

  it('re-seeds empty clusters so that all k centroids are used', () => {
    // Linear init puts 6 of 8 centroids in the empty gap between 0..1 and 100.
    const values = Float32Array.from({ length: 1000 }, (_, i) => (i === 999 ? 100 : (i % 100) / 100));
    const r = kmeans1d(values, { k: 8, init: 'linear' });
    expect(r.centroids.length).toBe(8);
    expect(new Set(r.indices).size).toBe(8);
    expect(r.centroids[7]).toBe(100);
  });

  it('returns exactly the distinct values when there are no more than k of them', () => {
    const values = Float32Array.of(3, 1, 2, 2, 3, 1, -0, 0);
    for (const init of INITS) {
      const r = kmeans1d(values, { k: 8, init });
      expect(Array.from(r.centroids)).toEqual([0, 1, 2, 3]);
      expect(Array.from(r.indices)).toEqual([3, 1, 2, 2, 3, 1, 0, 0]);
    }
    expect(Array.from(kmeans1d(Float32Array.of(4, 4, 4), { k: 1 }).centroids)).toEqual([4]);
  });

  it('with k = 1 returns the mean', () => {
    const r = kmeans1d(Float32Array.of(1, 2, 6), { k: 1 });
    expect(Array.from(r.centroids)).toEqual([3]);
    expect(Array.from(r.indices)).toEqual([0, 0, 0]);
  });

  it('is deterministic for a seed with kmeans++', () => {
    const values = normalData(4000, 9);
    const a = kmeans1d(values, { k: 10, init: 'kmeans++', seed: 3, iterations: 2 });
    const b = kmeans1d(values, { k: 10, init: 'kmeans++', seed: 3, iterations: 2 });
    expect(a.centroids).toEqual(b.centroids);
  });

  it('rejects empty input, non-finite values and bad options, naming the field', () => {
    expect(() => kmeans1d(new Float32Array(0), { k: 4 })).toThrow(/n = 0/);
    expect(() => kmeans1d(Float32Array.of(1, NaN, 2), { k: 2 })).toThrow(/index 1 is NaN/);
    expect(() => kmeans1d(Float32Array.of(1, 2, Infinity), { k: 2 })).toThrow(/index 2 is Infinity/);
    expect(() => kmeans1d(Float32Array.of(1), { k: 0 })).toThrow(/'k'/);
    expect(() => kmeans1d(Float32Array.of(1), { k: 65537 })).toThrow(/'k'/);
    expect(() => kmeans1d(Float32Array.of(1), { k: 2, iterations: 0 })).toThrow(/'iterations'/);
    expect(() => kmeans1d(Float32Array.of(1), { k: 2, init: 'random' as KmeansInit })).toThrow(/'init'/);
  });
});
