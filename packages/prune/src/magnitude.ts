import { setMask, type Param } from '@condense/ir';

/** Mask that removes the `count` smallest-magnitude elements (already-pruned ones first). */
export function smallestMask(values: Float32Array, count: number, current?: Uint8Array): Uint8Array {
  const n = values.length;
  const order = new Uint32Array(n).map((_, i) => i);
  const mag = (i: number) => (current && current[i] === 0 ? -1 : Math.abs(values[i]));
  order.sort((a, b) => mag(a) - mag(b) || a - b);
  const mask = new Uint8Array(n).fill(1);
  for (let i = 0; i < Math.min(count, n); i++) mask[order[i]] = 0;
  return mask;
}

export function checkSparsity(s: number, field: string): void {
  if (!(typeof s === 'number' && s >= 0 && s < 1)) throw new Error(`${field}: sparsity must be in [0, 1), got ${s}`);
}

/** Prune a param to exactly `sparsity` by magnitude; pruned weights stay pruned. */
export function pruneToSparsity(p: Param, sparsity: number, values: Float32Array = p.data): void {
  checkSparsity(sparsity, p.name);
  setMask(p, smallestMask(values, Math.round(sparsity * values.length), p.mask));
}

/** Han et al.: threshold = quality x the layer's weight standard deviation. Returns the sparsity reached. */
export function pruneByQuality(p: Param, quality: number): number {
  if (!(quality >= 0)) throw new Error(`${p.name}: quality must be >= 0, got ${quality}`);
  const threshold = quality * std(p.data);
  const mask = new Uint8Array(p.data.length);
  let pruned = 0;
  for (let i = 0; i < mask.length; i++) {
    const keep = Math.abs(p.data[i]) > threshold && (!p.mask || p.mask[i] === 1);
    mask[i] = keep ? 1 : 0;
    if (!keep) pruned++;
  }
  setMask(p, mask);
  return pruned / mask.length;
}

export function std(v: Float32Array): number {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  let s = 0;
  for (const x of v) s += (x - mean) ** 2;
  return Math.sqrt(s / v.length);
}

/** One magnitude threshold across all params, pruning `sparsity` of their total elements. */
export function pruneGlobal(params: Param[], sparsity: number): Map<Param, number> {
  checkSparsity(sparsity, 'sparsity');
  const total = params.reduce((a, p) => a + p.data.length, 0);
  const all = new Float32Array(total);
  let off = 0;
  for (const p of params) {
    for (let i = 0; i < p.data.length; i++) all[off + i] = p.mask && p.mask[i] === 0 ? -1 : Math.abs(p.data[i]);
    off += p.data.length;
  }
  const count = Math.round(sparsity * total);
  const sorted = all.slice().sort();
  const threshold = count === 0 ? -Infinity : sorted[count - 1];
  // Elements equal to the threshold are pruned in order until `count` is reached, so the total is exact.
  let budget = count - lowerCount(sorted, threshold);
  const reached = new Map<Param, number>();
  off = 0;
  for (const p of params) {
    const mask = new Uint8Array(p.data.length);
    let pruned = 0;
    for (let i = 0; i < mask.length; i++) {
      const m = all[off + i];
      const prune = m < threshold || (m === threshold && budget-- > 0);
      mask[i] = prune ? 0 : 1;
      if (prune) pruned++;
    }
    off += p.data.length;
    setMask(p, mask);
    reached.set(p, pruned / mask.length);
  }
  return reached;
}

function lowerCount(sorted: Float32Array, t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Zhu & Gupta: s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3, held at s_i before t0 and s_f after. */
export function agpSparsity(step: number, o: { initial: number; final: number; startStep: number; endStep: number }): number {
  if (step <= o.startStep) return o.initial;
  if (step >= o.endStep) return o.final;
  const progress = (step - o.startStep) / (o.endStep - o.startStep);
  return o.final + (o.initial - o.final) * (1 - progress) ** 3;
}

/** Sparsity of round r (1-based) of n for an iterative schedule: the kept fraction shrinks geometrically. */
export function iterativeSparsity(round: number, rounds: number, final: number): number {
  return 1 - (1 - final) ** (round / rounds);
}
