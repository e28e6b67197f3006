import { rng, shuffle } from '@condense/ir';
import { sampleSize, take, withCount, type Split } from './split.js';

/**
 * A seeded permutation of 0..n-1: a Fisher-Yates shuffle driven by @condense/ir's `rng`
 * (mulberry32, integer ops only), so the order is identical on every platform and Node version.
 */
export function shuffledIndices(n: number, seed: number): Uint32Array {
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return shuffle(idx, rng(seed));
}

export interface BatchOptions {
  /** Default true. */
  shuffle?: boolean;
  /** Seed of the shuffle; default 0. Same seed, same order. */
  seed?: number;
}

/**
 * Yields consecutive batches of `batchSize` samples (the last one may be smaller).
 * Unshuffled batches are views into `split` (no copy); shuffled batches are copies.
 */
export function* batches<S extends number[]>(
  split: Split<S>,
  batchSize: number,
  { shuffle = true, seed = 0 }: BatchOptions = {},
): Generator<Split<S>, void, undefined> {
  assertCount('batchSize', batchSize, 1);
  const order = shuffle ? shuffledIndices(split.count, seed) : undefined;
  const size = sampleSize(split);
  for (let start = 0; start < split.count; start += batchSize) {
    const end = Math.min(start + batchSize, split.count);
    yield order
      ? take(split, order.subarray(start, end))
      : withCount(split, split.images.subarray(start * size, end * size), split.labels.subarray(start, end), end - start);
  }
}

/** Randomly moves `fraction` of the samples (rounded) into a validation split. */
export function validationSplit<S extends number[]>(split: Split<S>, fraction: number, seed = 0): { train: Split<S>; validation: Split<S> } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`validationSplit: fraction must be in (0, 1), got ${fraction}`);
  const order = shuffledIndices(split.count, seed);
  const n = Math.round(split.count * fraction);
  return { validation: take(split, order.subarray(0, n)), train: take(split, order.subarray(n)) };
}

/** One-hot encodes labels: row i has a 1 at column labels[i]. Shape [labels.length, classes]. */
export function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  assertCount('classes', classes, 1);
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0 || c >= classes) throw new RangeError(`oneHot: label ${c} at ${i} is not in [0, ${classes})`);
    out[i * classes + c] = 1;
  }
  return out;
}

export interface SubsetOptions {
  /**
   * Equal count per class present in the split (remainder of n / classes goes to the lowest labels).
   * Default false: a plain random sample.
   */
  balanced?: boolean;
  /** Default 0. */
  seed?: number;
}

/**
 * A seeded random sample of `n` samples (a copy, in random order) — e.g. a calibration set with
 * `subset(train, 10 * perClass, { balanced: true })`. Throws if a class has too few samples.
 */
export function subset<S extends number[]>(split: Split<S>, n: number, { balanced = false, seed = 0 }: SubsetOptions = {}): Split<S> {
  assertCount('n', n, 0);
  if (n > split.count) throw new RangeError(`subset: n = ${n} exceeds the ${split.count} samples in the split`);
  const order = shuffledIndices(split.count, seed);
  return take(split, balanced ? pickBalanced(split.labels, order, n) : order.subarray(0, n));
}

/** Walks `order`, keeping a sample while its class is under quota. */
function pickBalanced(labels: Uint8Array, order: Uint32Array, n: number): Uint32Array {
  const available = new Array<number>(256).fill(0);
  for (const l of labels) available[l]++;
  const classes = available.flatMap((c, label) => (c > 0 ? [label] : []));
  const quota = new Array<number>(256).fill(0);
  classes.forEach((label, rank) => (quota[label] = Math.floor(n / classes.length) + (rank < n % classes.length ? 1 : 0)));

  const short = classes.find((label) => available[label] < quota[label]);
  if (short !== undefined) {
    throw new RangeError(`subset: class ${short} has ${available[short]} samples, a balanced subset of ${n} needs ${quota[short]}`);
  }
  const picked = new Uint32Array(n);
  let k = 0;
  for (let j = 0; j < order.length && k < n; j++) {
    const i = order[j];
    if (quota[labels[i]] > 0) {
      quota[labels[i]]--;
      picked[k++] = i;
    }
  }
  return picked;
}

function assertCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}
