import type { ArrayTensor } from './tensors.js';

/** How closely a model's outputs follow the original's on the same inputs: what a user without labels can check. */
export interface Agreement {
  /** Examples compared. */
  examples: number;
  /**
   * Fraction of predictions whose arg-max (over the last axis) is the original's, over every output
   * with more than one unit (and every position of a sequence output); absent when none has.
   */
  top1?: number;
  /** Largest absolute difference of any output value. */
  maxAbsDiff: number;
  /** Mean absolute difference over every output value. */
  meanAbsDiff: number;
}

const argMaxRow = (v: ArrayLike<number>, start: number, k: number): number => {
  let best = start;
  for (let j = start + 1; j < start + k; j++) if (v[j] > v[best]) best = j;
  return best - start;
};

/** Compare outputs of a model with the original's (same examples, output order). */
export function agreement(original: ArrayTensor[], outputs: ArrayTensor[]): Agreement {
  let [same, rows, maxAbs, sumAbs, values] = [0, 0, 0, 0, 0];
  original.forEach((ref, o) => {
    const got = outputs[o];
    if (!got || got.values.length !== ref.values.length)
      throw new Error(`agreement: output ${o} has ${got?.values.length ?? 0} values, the original's ${ref.values.length}`);
    for (let i = 0; i < ref.values.length; i++) {
      const d = Math.abs(got.values[i] - ref.values[i]);
      if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? NaN : Math.max(maxAbs, d);
      sumAbs += d;
    }
    values += ref.values.length;
    const k = ref.shape.at(-1) ?? 1;
    if (ref.shape.length < 2 || k < 2) return;
    const n = ref.values.length / k;
    for (let r = 0; r < n; r++) if (argMaxRow(ref.values, r * k, k) === argMaxRow(got.values, r * k, k)) same++;
    rows += n;
  });
  const examples = original[0]?.shape[0] ?? 0;
  return { examples, ...(rows > 0 ? { top1: same / rows } : {}), maxAbsDiff: maxAbs, meanAbsDiff: values > 0 ? sumAbs / values : 0 };
}
