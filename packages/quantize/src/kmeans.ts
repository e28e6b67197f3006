import { rng } from '@condense/ir';
import { QuantizeError } from './errors.js';
import { keyToFloat32, sortKeys } from './sort.js';

/**
 * Centroid initialisation (Deep Compression, section 3.2): `linear` spaces the centroids evenly
 * over [min, max] (the paper's best: it keeps centroids on the rare large weights), `density`
 * places them at evenly spaced quantiles of the weights' CDF, `kmeans++` samples them with
 * probability proportional to the squared distance to the nearest chosen centroid (seeded).
 */
export type KmeansInit = 'linear' | 'density' | 'kmeans++';

export const KMEANS_INITS: readonly KmeansInit[] = ['linear', 'density', 'kmeans++'];

export interface KmeansOptions {
  /** Number of clusters, an integer in 1..65536 (indices are Uint16). */
  k: number;
  /** Default 'linear'. */
  init?: KmeansInit;
  /** Maximum Lloyd iterations (default 300); stops earlier once the centroids no longer move. */
  iterations?: number;
  /** Seed of the 'kmeans++' sampling (default 1). */
  seed?: number;
}

export interface KmeansResult {
  /**
   * Sorted ascending and distinct. There are min(k, distinct values) of them: with fewer distinct
   * values than k, the centroids are exactly those values (zero error), never padded duplicates.
   */
  centroids: Float32Array;
  /** For each input position, the index of its nearest centroid. */
  indices: Uint16Array;
  /** Lloyd iterations run. */
  iterations: number;
  /** The centroids stopped moving before the iteration limit. */
  converged: boolean;
}

export const DEFAULT_KMEANS_ITERATIONS = 300;

/**
 * The data as sorted distinct values with prefix counts and sums, so that any contiguous range of
 * sorted values (a 1-D cluster) has its count and sum in O(1).
 */
interface Summary {
  /** Distinct values, ascending. */
  values: Float32Array;
  /** count[i] = how many inputs are < values[i]; count[d] = n. */
  count: Uint32Array;
  /** sum[i] = sum of the inputs < values[i]. */
  sum: Float64Array;
}

/** Centroids are float64 arrays of float32-representable values, ascending and distinct. */
type Centroids = Float64Array;

/**
 * 1-D k-means (Lloyd) in O(n) for a radix sort plus O(k log n) per iteration: every cluster
 * is a contiguous range of the sorted values, bounded by the midpoints between neighbouring
 * centroids (found by binary search), and its new centroid is range sum / range count from
 * prefix sums. An empty cluster is dropped and replaced by splitting the cluster whose farthest
 * member is farthest from its centroid (a new centroid on that member), so k centroids stay in use.
 */
export function kmeans1d(values: Float32Array, options: KmeansOptions): KmeansResult {
  const { k, init = 'linear', iterations = DEFAULT_KMEANS_ITERATIONS, seed = 1 } = options;
  checkOptions(k, init, iterations);
  const s = summarize(values);
  const d = s.values.length;
  if (d <= k) return { centroids: s.values.slice(), indices: assign(values, Float64Array.from(s.values)), iterations: 0, converged: true };

  let c = initial(s, k, init, seed);
  let starts = ranges(s, c);
  let done = 0;
  let converged = false;
  while (done < iterations && !converged) {
    if (c.length < k || hasEmpty(starts)) {
      c = refill(s, c, k);
      starts = ranges(s, c);
    }
    const next = means(s, c, starts);
    converged = next.length === c.length && next.every((v, i) => v === c[i]);
    // Boundaries move little between iterations: the previous ones are good search hints.
    starts = ranges(s, next, next.length === c.length ? starts : undefined);
    c = next;
    done++;
  }
  return { centroids: Float32Array.from(c), indices: assign(values, c), iterations: done, converged };
}

function checkOptions(k: number, init: string, iterations: number): void {
  if (!Number.isInteger(k) || k < 1 || k > 65536) throw new QuantizeError(`kmeans: 'k' must be an integer in 1..65536, got ${k}`);
  if (!KMEANS_INITS.includes(init as KmeansInit)) throw new QuantizeError(`kmeans: 'init' must be one of ${KMEANS_INITS.join(', ')}, got '${init}'`);
  if (!Number.isInteger(iterations) || iterations < 1) throw new QuantizeError(`kmeans: 'iterations' must be a positive integer, got ${iterations}`);
}

function summarize(input: Float32Array): Summary {
  const n = input.length;
  if (n === 0) throw new QuantizeError('kmeans: no values to cluster (n = 0)');
  const keys = sortKeys(input);
  // Key order puts -Infinity and negative NaNs first, +Infinity and positive NaNs last.
  if (!Number.isFinite(keyToFloat32(keys[0])) || !Number.isFinite(keyToFloat32(keys[n - 1]))) {
    const i = input.findIndex((v) => !Number.isFinite(v));
    throw new QuantizeError(`kmeans: value at index ${i} is ${input[i]}; only finite values can be clustered`);
  }
  // Deduplicate on the integer keys, decoding each distinct value once, in place into the key buffer.
  const values = new Float32Array(keys.buffer, keys.byteOffset, n);
  const count = new Uint32Array(n + 1);
  const sum = new Float64Array(n + 1);
  let d = 0;
  let prevKey = -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    if (k !== prevKey) {
      prevKey = k;
      v = keyToFloat32(k);
      values[d] = v;
      count[d + 1] = count[d];
      sum[d + 1] = sum[d];
      d++;
    }
    count[d]++;
    sum[d] += v;
  }
  return { values: values.subarray(0, d), count: count.subarray(0, d + 1), sum: sum.subarray(0, d + 1) };
}

/** First index in [lo, hi) whose value is >= x, or hi. */
function lowerBound(a: Float32Array, x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * First index in [lo, hi) whose value is >= x, or hi, searched outwards from `guess` in doubling
 * steps: O(log distance) and cache-friendly when the guess is close, as last iteration's is.
 */
function gallop(a: Float32Array, x: number, lo: number, hi: number, guess: number): number {
  const g = Math.min(hi, Math.max(lo, guess));
  let step = 1;
  if (g < hi && a[g] < x) {
    let below = g; // a[below] < x
    while (g + step < hi && a[g + step] < x) {
      below = g + step;
      step *= 2;
    }
    return lowerBound(a, x, below + 1, Math.min(hi, g + step));
  }
  let atOrAbove = g; // a[atOrAbove] >= x, or it is hi
  while (g - step >= lo && a[g - step] >= x) {
    atOrAbove = g - step;
    step *= 2;
  }
  return lowerBound(a, x, g - step >= lo ? g - step + 1 : lo, atOrAbove);
}

/** starts[j]..starts[j+1] is the range of sorted distinct values nearest to centroid j. `hint`: starts of a similar centroid set. */
function ranges(s: Summary, c: Centroids, hint?: Uint32Array): Uint32Array {
  const d = s.values.length;
  const starts = new Uint32Array(c.length + 1);
  starts[c.length] = d;
  for (let j = 1; j < c.length; j++) {
    const mid = (c[j - 1] + c[j]) / 2;
    starts[j] = hint ? gallop(s.values, mid, starts[j - 1], d, hint[j]) : lowerBound(s.values, mid, starts[j - 1], d);
  }
  return starts;
}

function hasEmpty(starts: Uint32Array): boolean {
  for (let j = 1; j < starts.length; j++) if (starts[j] === starts[j - 1]) return true;
  return false;
}

/** New centroid of every non-empty range (empty ones are dropped), rounded to float32. */
function means(s: Summary, c: Centroids, starts: Uint32Array): Centroids {
  const out: number[] = [];
  for (let j = 0; j < c.length; j++) {
    const lo = starts[j];
    const hi = starts[j + 1];
    if (hi > lo) out.push(Math.fround((s.sum[hi] - s.sum[lo]) / (s.count[hi] - s.count[lo])));
  }
  return distinct(out);
}

/** Ascending distinct copy (float32 rounding can merge two close centroids). */
function distinct(values: ArrayLike<number>): Centroids {
  const sorted = Float64Array.from(values).sort();
  let m = 0;
  for (let i = 0; i < sorted.length; i++) if (m === 0 || sorted[m - 1] !== sorted[i]) sorted[m++] = sorted[i];
  return sorted.slice(0, m);
}

/**
 * Drop centroids that own no value, then split clusters until there are k: each new centroid is
 * the member farthest from its cluster's centroid, so it is a data value no other centroid owns.
 * The widest clusters are split together (one new centroid each), so refilling many empty
 * clusters takes a few rounds, not one per cluster. A split can leave a neighbour empty; that
 * one is dropped in the next round (rounds are bounded, to be safe).
 */
function refill(s: Summary, c: Centroids, k: number): Centroids {
  for (let round = 0; round < 64; round++) {
    const starts = ranges(s, c);
    if (hasEmpty(starts)) {
      // Removing an empty cluster moves no value to another cluster, so this creates no new empty one.
      c = c.filter((_, j) => starts[j + 1] > starts[j]);
      continue;
    }
    if (c.length >= k) break;
    const splits = farthestMembers(s, c, starts).slice(0, k - c.length);
    if (splits.length === 0) break; // every cluster is a single value: nothing left to split
    c = distinct([...c, ...splits.map(([v]) => v)]);
  }
  return c;
}

/** Per non-singleton cluster, [its member farthest from the centroid, that distance], farthest first. */
function farthestMembers(s: Summary, c: Centroids, starts: Uint32Array): [number, number][] {
  const out: [number, number][] = [];
  for (let j = 0; j < c.length; j++) {
    const a = s.values[starts[j]];
    const b = s.values[starts[j + 1] - 1];
    const [v, dist] = c[j] - a >= b - c[j] ? [a, c[j] - a] : [b, b - c[j]];
    if (dist > 0) out.push([v, dist]);
  }
  return out.sort((x, y) => y[1] - x[1]);
}

/**
 * The starting centroids `kmeans1d` would use (ascending, distinct; fewer than k when the data
 * has no more than k distinct values, then exactly those). For inspecting and comparing inits.
 */
export function initialCentroids(values: Float32Array, k: number, init: KmeansInit = 'linear', seed = 1): Float32Array {
  checkOptions(k, init, 1);
  const s = summarize(values);
  return s.values.length <= k ? s.values.slice() : Float32Array.from(initial(s, k, init, seed));
}

function initial(s: Summary, k: number, init: KmeansInit, seed: number): Centroids {
  if (init === 'linear') return linearInit(s, k);
  if (init === 'density') return densityInit(s, k);
  return kmeansPlusPlusInit(s, k, seed);
}

/** k centroids evenly spaced over [min, max], both ends included exactly (k = 1: the midpoint). */
export function linearCentroids(min: number, max: number, k: number): Float64Array {
  if (k === 1) return Float64Array.of(Math.fround((min + max) / 2));
  const c = new Float64Array(k);
  for (let j = 0; j < k; j++) c[j] = Math.fround(min + ((max - min) * j) / (k - 1));
  c[0] = min;
  c[k - 1] = max;
  return c;
}

function linearInit(s: Summary, k: number): Centroids {
  return distinct(linearCentroids(s.values[0], s.values[s.values.length - 1], k));
}

/** The values at the CDF levels (j + 1/2) / k. */
function densityInit(s: Summary, k: number): Centroids {
  const n = s.count[s.values.length];
  const c = new Float64Array(k);
  for (let j = 0; j < k; j++) c[j] = s.values[valueAtRank(s, ((j + 0.5) / k) * n)];
  return distinct(c);
}

/** Index of the distinct value holding input rank r (0 <= r < n) in sorted order. */
function valueAtRank(s: Summary, r: number): number {
  let lo = 0;
  let hi = s.values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.count[mid + 1] > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * k-means++ without an O(n) pass per centroid: the squared-distance mass of a cluster range is
 * sum(x^2) - 2c sum(x) + c^2 count from prefix sums, so drawing a range is an O(k) scan and
 * drawing a member inside it a binary search on that (monotone) partial mass. A new centroid
 * only moves its two boundaries, so ranges and masses are updated in place: O(k) per centroid,
 * O(k^2) in all (on 1M values here: 0.2 s CPU at k = 256 and 4096, 5 s at k = 65536, so prefer
 * 'linear' or 'density' for 16-bit codebooks).
 */
function kmeansPlusPlusInit(s: Summary, k: number, seed: number): Centroids {
  const d = s.values.length;
  const sq = new Float64Array(d + 1);
  for (let i = 0; i < d; i++) sq[i + 1] = sq[i] + (s.count[i + 1] - s.count[i]) * s.values[i] * s.values[i];
  const mass = (lo: number, hi: number, c: number) => Math.max(0, sq[hi] - sq[lo] - 2 * c * (s.sum[hi] - s.sum[lo]) + c * c * (s.count[hi] - s.count[lo]));
  const random = rng(seed);
  // The first m entries are live: centroids ascending, range starts (starts[m] = d), range masses.
  const c = new Float64Array(k);
  const starts = new Uint32Array(k + 1);
  const masses = new Float64Array(k);
  c[0] = s.values[valueAtRank(s, random() * s.count[d])];
  starts[1] = d;
  masses[0] = mass(0, d, c[0]);
  let m = 1;
  while (m < k) {
    let total = 0;
    for (let j = 0; j < m; j++) total += masses[j];
    if (!(total > 0)) break;
    const j = pickRange(masses, m, random() * total);
    const v = pickMember(s, starts[j], starts[j + 1], c[j], (hi) => mass(starts[j], hi, c[j]), masses[j] * random());
    if (v === c[j]) break;
    // Insert v next to c[j]; only the two boundaries around it move.
    const p = v < c[j] ? j : j + 1;
    c.copyWithin(p + 1, p, m);
    starts.copyWithin(p + 1, p, m + 1);
    masses.copyWithin(p + 1, p, m);
    c[p] = v;
    m++;
    if (p > 0) starts[p] = gallop(s.values, (c[p - 1] + v) / 2, starts[p - 1], d, starts[p]);
    if (p + 1 < m) starts[p + 1] = gallop(s.values, (v + c[p + 1]) / 2, starts[p], d, starts[p + 1]);
    for (let q = Math.max(0, p - 1); q <= Math.min(m - 1, p + 1); q++) masses[q] = mass(starts[q], starts[q + 1], c[q]);
  }
  return c.slice(0, m);
}

/** The range whose cumulative mass passes `target` (the last one with mass if rounding runs past the end). */
function pickRange(masses: Float64Array, m: number, target: number): number {
  let last = 0;
  for (let j = 0; j < m; j++) {
    if (masses[j] === 0) continue;
    if (target < masses[j]) return j;
    target -= masses[j];
    last = j;
  }
  return last;
}

/** The member of [lo, hi) where the partial mass passes `target`; never the centroid itself if another member exists. */
function pickMember(s: Summary, lo: number, hi: number, centroid: number, partial: (hi: number) => number, target: number): number {
  let a = lo;
  let b = hi - 1;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (partial(mid + 1) > target) b = mid;
    else a = mid + 1;
  }
  const v = s.values[a];
  if (v !== centroid) return v;
  // Rounding landed on the centroid (zero mass): take the range's farther end instead.
  const first = s.values[lo];
  const last = s.values[hi - 1];
  return centroid - first >= last - centroid ? first : last;
}

/**
 * Nearest centroid of every value (ties go to the upper centroid, as in `ranges`). A bucket
 * table over the boundary span gives each value a starting cluster at most a step or two below
 * its own, which is several times faster than a binary search per value on 10M weights.
 */
function assign(values: Float32Array, c: Centroids): Uint16Array {
  const m = c.length;
  const out = new Uint16Array(values.length);
  if (m === 1) return out;
  const bounds = new Float64Array(m - 1);
  for (let j = 0; j < m - 1; j++) bounds[j] = (c[j] + c[j + 1]) / 2;
  const buckets = 8 * m;
  const lo = bounds[0];
  const inv = m > 2 ? buckets / (bounds[m - 2] - lo) : 0;
  const bucket = (x: number) => {
    const b = Math.floor((x - lo) * inv);
    return b < 0 ? 0 : b >= buckets ? buckets - 1 : b;
  };
  // start[b] = boundaries in buckets before b. Since bucket() is monotone, they are all <= any x in bucket b.
  const start = new Uint16Array(buckets + 1);
  for (let j = 0; j < m - 1; j++) start[bucket(bounds[j]) + 1]++;
  for (let b = 0; b < buckets; b++) start[b + 1] += start[b];
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    let j = start[bucket(x)];
    while (j < m - 1 && bounds[j] <= x) j++;
    out[i] = j;
  }
  return out;
}
