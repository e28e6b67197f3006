import { describe, expect, it } from 'vitest';
import { gaussian, rng } from '@condense/ir';
import { energy, fitScales, gram, greedyRemove, leastSquares, reconstructionError, subsetEnergy } from './math.js';

/** S x C matrix from column vectors. */
function fromColumns(cols: number[][]): { x: Float64Array; samples: number; channels: number } {
  const samples = cols[0].length;
  const channels = cols.length;
  const x = new Float64Array(samples * channels);
  cols.forEach((col, c) => col.forEach((v, s) => (x[s * channels + c] = v)));
  return { x, samples, channels };
}

function randomMatrix(samples: number, channels: number, seed: number): Float64Array {
  const g = gaussian(rng(seed));
  return Float64Array.from({ length: samples * channels }, g);
}

/** Direct || sum_{c in set} x_c ||^2, without the Gram matrix. */
function directEnergy(x: Float64Array, samples: number, channels: number, set: number[]): number {
  let e = 0;
  for (let s = 0; s < samples; s++) {
    let r = 0;
    for (const c of set) r += x[s * channels + c];
    e += r * r;
  }
  return e;
}

describe('greedyRemove', () => {
  it('finds the known answer: a channel and its near-negation are removed together', () => {
    // x0 has the smallest energy (1); x1 ~ -x0 (energy 1.01); x2..x5 are orthogonal (1.005 .. 1.69).
    // Removing the two smallest energies (x0, x2) would cost 2.005; ThiNet takes x0, then x1,
    // whose sum is only 0.01.
    const { x, samples, channels } = fromColumns([
      [1, 0, 0, 0, 0, 0],
      [-1, 0.1, 0, 0, 0, 0],
      [0, 0, 1.0025, 0, 0, 0],
      [0, 0, 0, 1.1, 0, 0],
      [0, 0, 0, 0, 1.2, 0],
      [0, 0, 0, 0, 0, 1.3],
    ]);
    const g = gram(x, samples, channels);
    expect(greedyRemove(g, channels, 1)).toEqual([0]);
    expect(greedyRemove(g, channels, 2)).toEqual([0, 1]);
    expect(greedyRemove(g, channels, 3)).toEqual([0, 1, 2]);
    expect(subsetEnergy(g, channels, [0, 1])).toBeCloseTo(0.01, 10);
    expect(subsetEnergy(g, channels, [0, 2])).toBeCloseTo(2.005, 3);
    expect(greedyRemove(g, channels, 0)).toEqual([]);
  });

  it('follows the criterion computed directly from the samples at every step', () => {
    const [samples, channels] = [40, 12];
    const x = randomMatrix(samples, channels, 3);
    const removed = greedyRemove(gram(x, samples, channels), channels, 8);
    const taken: number[] = [];
    for (const r of removed) {
      const rest = [...Array(channels).keys()].filter((c) => !taken.includes(c));
      const best = rest.reduce((a, c) => (directEnergy(x, samples, channels, [...taken, c]) < directEnergy(x, samples, channels, [...taken, a]) ? c : a));
      expect(r).toBe(best);
      taken.push(r);
    }
  });

  it('with a target t: follows || t - sum of the kept x_c ||^2 computed directly', () => {
    const [samples, channels] = [30, 9];
    const x = randomMatrix(samples, channels, 5);
    const noise = randomMatrix(samples, 1, 6);
    // t = y plus an error that channel 2 happens to explain.
    const t = Array.from({ length: samples }, (_, s) => {
      let y = 0;
      for (let c = 0; c < channels; c++) y += x[s * channels + c];
      return y - 0.8 * x[s * channels + 2] + 0.1 * noise[s];
    });
    const h = new Float64Array(channels);
    for (let s = 0; s < samples; s++) for (let c = 0; c < channels; c++) h[c] += x[s * channels + c] * t[s];
    const target = { h, tt: t.reduce((a, v) => a + v * v, 0) };
    const direct = (kept: number[]) => {
      let e = 0;
      for (let s = 0; s < samples; s++) {
        let r = t[s];
        for (const c of kept) r -= x[s * channels + c];
        e += r * r;
      }
      return e;
    };
    const g = gram(x, samples, channels);
    const removed = greedyRemove(g, channels, 5, target);
    const taken: number[] = [];
    for (const r of removed) {
      const keptWith = (c: number) => [...Array(channels).keys()].filter((k) => k !== c && !taken.includes(k));
      const rest = [...Array(channels).keys()].filter((c) => !taken.includes(c));
      const best = rest.reduce((a, c) => (direct(keptWith(c)) < direct(keptWith(a)) ? c : a));
      expect(r).toBe(best);
      taken.push(r);
    }
    const kept = [...Array(channels).keys()].filter((c) => !removed.includes(c));
    expect(reconstructionError(g, channels, kept, undefined, target)).toBeCloseTo(direct(kept) / target.tt, 8);
  });

  it('rejects a count out of range', () => {
    expect(() => greedyRemove(new Float64Array(4), 2, 3)).toThrow(/count must be an integer in 0..2/);
  });
});

describe('least squares', () => {
  it('is exact on a noiseless problem', () => {
    const [samples, channels] = [30, 5];
    const x = randomMatrix(samples, channels, 7);
    const wTrue = [0.5, -1.25, 2, 0.75, 3];
    const y = Array.from({ length: samples }, (_, s) => wTrue.reduce((a, w, c) => a + w * x[s * channels + c], 0));
    const w = leastSquares(x, samples, channels, y);
    wTrue.forEach((v, c) => expect(w[c]).toBeCloseTo(v, 8));
  });

  it('ThiNet form: a removed channel that is a combination of kept ones is absorbed exactly by the scales', () => {
    const [samples, kept] = [25, 4];
    const base = randomMatrix(samples, kept, 11);
    const a = [0.3, -0.6, 1.1, 0.2];
    // Channel 4 = sum_c a_c x_c: y = sum over all 5 channels = sum_c (1 + a_c) x_c.
    const x = new Float64Array(samples * 5);
    for (let s = 0; s < samples; s++) {
      let extra = 0;
      for (let c = 0; c < kept; c++) {
        x[s * 5 + c] = base[s * kept + c];
        extra += a[c] * base[s * kept + c];
      }
      x[s * 5 + 4] = extra;
    }
    const g = gram(x, samples, 5);
    const keep = [0, 1, 2, 3];
    const w = fitScales(g, 5, keep);
    a.forEach((v, c) => expect(w[c]).toBeCloseTo(1 + v, 8));
    expect(reconstructionError(g, 5, keep, w)).toBeLessThan(1e-10);
    // Without the scales the error is the removed channel's share.
    expect(reconstructionError(g, 5, keep)).toBeCloseTo(subsetEnergy(g, 5, [4]) / energy(g), 10);
  });

  it('fits a given target exactly when it lies in the span of the kept channels', () => {
    const [samples, channels] = [20, 4];
    const x = randomMatrix(samples, channels, 9);
    const wTrue = [0.9, 1.3, -0.4];
    const t = Array.from({ length: samples }, (_, s) => wTrue.reduce((a, w, c) => a + w * x[s * channels + c], 0));
    const h = new Float64Array(channels);
    for (let s = 0; s < samples; s++) for (let c = 0; c < channels; c++) h[c] += x[s * channels + c] * t[s];
    const target = { h, tt: t.reduce((a, v) => a + v * v, 0) };
    const g = gram(x, samples, channels);
    const w = fitScales(g, channels, [0, 1, 2], target);
    wTrue.forEach((v, c) => expect(w[c]).toBeCloseTo(v, 8));
    expect(reconstructionError(g, channels, [0, 1, 2], w, target)).toBeLessThan(1e-12);
  });

  it('copes with a dead (all-zero) channel', () => {
    const { x, samples, channels } = fromColumns([
      [1, 2, 3, 4],
      [0, 0, 0, 0],
      [1, -1, 1, -1],
    ]);
    const w = fitScales(gram(x, samples, channels), channels, [0, 1]);
    // y = x0 + x2 projected on x0: (30 - 2) / 30; the dead channel gets 0 rather than NaN.
    expect(w[0]).toBeCloseTo(28 / 30, 8);
    expect(w[1]).toBe(0);
  });
});
