import { ridgeSolve } from '@condense/core';

/**
 * The ThiNet problem in Gram form. X is S samples by C channels: X[s, c] = x_c, channel c's
 * contribution to one sampled output of the next layer, so the layer's output is y = sum_c x_c.
 * Every quantity the method needs (greedy scores, least-squares normal equations, reconstruction
 * errors) comes from G = X^T X (C x C, row-major in a Float64Array) and, when the target is
 * another response t than y itself (the unpruned model's, say), from h = X^T t and |t|^2.
 */

/** A reconstruction target other than y = X 1: h = X^T t and tt = |t|^2. */
export interface Target {
  h: Float64Array;
  tt: number;
}

/** The default target t = y = X 1: h = G 1, tt = 1^T G 1. */
export function selfTarget(g: Float64Array, channels: number): Target {
  const h = new Float64Array(channels);
  for (let a = 0; a < channels; a++) for (let b = 0; b < channels; b++) h[a] += g[a * channels + b];
  return { h, tt: h.reduce((x, v) => x + v, 0) };
}

/** G = X^T X for X given row-major as `samples` rows of `channels` values. */
export function gram(x: ArrayLike<number>, samples: number, channels: number): Float64Array {
  if (x.length !== samples * channels) throw new Error(`gram: ${x.length} values for ${samples} x ${channels}`);
  const g = new Float64Array(channels * channels);
  for (let s = 0; s < samples; s++) {
    const row = s * channels;
    for (let a = 0; a < channels; a++) {
      const v = x[row + a];
      if (v === 0) continue;
      for (let b = 0; b < channels; b++) g[a * channels + b] += v * x[row + b];
    }
  }
  return g;
}

const checkGram = (g: Float64Array, channels: number, who: string) => {
  if (g.length !== channels * channels) throw new Error(`${who}: Gram matrix has ${g.length} entries, expected ${channels} x ${channels}`);
};

/** || sum_{c in set} x_c ||^2. */
export function subsetEnergy(g: Float64Array, channels: number, set: Iterable<number>): number {
  const s = [...set];
  let e = 0;
  for (const a of s) for (const b of s) e += g[a * channels + b];
  return e;
}

/**
 * ThiNet's greedy selection (Luo et al. 2017, Algorithm 1): grow the removed set T one channel at
 * a time, each time adding the channel that keeps || sum_{c in T} x_c ||^2 smallest. With
 * v_c = sum_{t in T} G[t, c], adding c gives E(T) + 2 v_c + G[c, c], so each step is O(C).
 * With a target t, the error is || t - sum_{c not in T} x_c ||^2 = || d + sum_{c in T} x_c ||^2
 * (d = t - y), which adds 2 (X^T d)_c = 2 (h - G 1)_c to the score.
 * Returns the removed channels in the order chosen (ties: the lowest index).
 */
export function greedyRemove(g: Float64Array, channels: number, count: number, target?: Target): number[] {
  checkGram(g, channels, 'greedyRemove');
  if (!(Number.isInteger(count) && count >= 0 && count <= channels)) throw new Error(`greedyRemove: count must be an integer in 0..${channels}, got ${count}`);
  const v = new Float64Array(channels);
  if (target) {
    const self = selfTarget(g, channels).h;
    for (let c = 0; c < channels; c++) v[c] = target.h[c] - self[c];
  }
  const taken = new Uint8Array(channels);
  const removed: number[] = [];
  while (removed.length < count) {
    let best = -1;
    let bestScore = Infinity;
    for (let c = 0; c < channels; c++) {
      if (taken[c]) continue;
      const score = 2 * v[c] + g[c * channels + c];
      if (score < bestScore) [best, bestScore] = [c, score];
    }
    taken[best] = 1;
    removed.push(best);
    for (let c = 0; c < channels; c++) v[c] += g[best * channels + c];
  }
  return removed;
}

/**
 * The ridge of ThiNet's least squares, relative to the mean diagonal: tiny, only so that dead or
 * collinear channels still solve (it grows tenfold while the factorisation fails).
 */
export const LS_RIDGE = 1e-12;

/**
 * Solve A w = b for a symmetric positive semi-definite n x n A: @condense/core's `ridgeSolve`
 * (the least squares every layer-wise method shares) with ThiNet's tiny ridge.
 */
export function solveSymmetric(a: Float64Array, n: number, b: Float64Array): Float64Array {
  return ridgeSolve(a, n, b, 1, LS_RIDGE);
}

/** w = argmin || y - X w ||^2 for X row-major (samples x channels). */
export function leastSquares(x: ArrayLike<number>, samples: number, channels: number, y: ArrayLike<number>): Float64Array {
  if (y.length !== samples) throw new Error(`leastSquares: ${y.length} targets for ${samples} samples`);
  const xty = new Float64Array(channels);
  for (let s = 0; s < samples; s++) for (let c = 0; c < channels; c++) xty[c] += x[s * channels + c] * y[s];
  return solveSymmetric(gram(x, samples, channels), channels, xty);
}

/** G restricted to `kept` (rows and columns) and h restricted to `kept`: the normal equations of t ~ X_kept w. */
function normalEquations(g: Float64Array, channels: number, kept: number[], target: Target): { a: Float64Array; b: Float64Array } {
  const n = kept.length;
  const a = new Float64Array(n * n);
  const b = Float64Array.from(kept, (p) => target.h[p]);
  kept.forEach((p, i) => kept.forEach((q, j) => (a[i * n + j] = g[p * channels + q])));
  return { a, b };
}

/**
 * ThiNet's least-squares step: per-channel scales w (one per kept channel, in `kept` order) that
 * best reconstruct y = sum over all channels of x_c (or `target`) from the kept channels alone.
 */
export function fitScales(g: Float64Array, channels: number, kept: number[], target = selfTarget(g, channels)): Float64Array {
  checkGram(g, channels, 'fitScales');
  const { a, b } = normalEquations(g, channels, kept, target);
  return solveSymmetric(a, kept.length, b);
}

/**
 * Relative reconstruction error || t - sum_{c in kept} w_c x_c ||^2 / || t ||^2, t = y unless a
 * target is given (w = 1 when not given: with t = y it is || sum of the removed x_c ||^2 / || y ||^2).
 * 0 when t is identically 0.
 */
export function reconstructionError(g: Float64Array, channels: number, kept: number[], w?: ArrayLike<number>, target = selfTarget(g, channels)): number {
  checkGram(g, channels, 'reconstructionError');
  const { a, b } = normalEquations(g, channels, kept, target);
  const yy = target.tt;
  if (!(yy > 0)) return 0;
  const n = kept.length;
  const wi = (i: number) => (w ? w[i] : 1);
  let err = yy;
  for (let i = 0; i < n; i++) {
    err -= 2 * wi(i) * b[i];
    for (let j = 0; j < n; j++) err += wi(i) * wi(j) * a[i * n + j];
  }
  return Math.max(err, 0) / yy;
}

/** Total energy || y ||^2 = 1^T G 1. */
export function energy(g: Float64Array): number {
  let e = 0;
  for (const v of g) e += v;
  return e;
}
