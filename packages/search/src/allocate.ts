/**
 * Budget allocation over sensitivity curves: each unit (a layer, a channel group) takes one of its
 * choices (a sparsity, a bit width, ...), each with a predicted saving of the target metric and a
 * predicted damage (loss increase); the allocation reaches the required total saving with the
 * least total damage. Savings and damages are assumed additive over units (what the one-layer-at-
 * a-time curves measure); the greedy correction checks the combination with real measurements.
 *
 * Solved as a multiple-choice knapsack by dynamic programming over the savings, discretised to
 * `resolution` steps of the requirement (exact up to that rounding); the allocation returned
 * meets the requirement by the real numbers.
 */

export interface Choice<T> {
  value: T;
  /** Predicted reduction of the target metric (bytes, MACs, ...). */
  saving: number;
  /** Predicted loss increase. */
  damage: number;
}

export interface Unit<T> {
  id: string;
  /** Include the choice that changes nothing (saving 0, damage 0) for a unit that may stay as it is. */
  choices: readonly Choice<T>[];
}

export interface Allocation<T> {
  /** One choice per unit, in unit order. */
  picks: Choice<T>[];
  saving: number;
  damage: number;
}

const total = <T>(picks: Choice<T>[]): Allocation<T> => ({
  picks,
  saving: picks.reduce((a, c) => a + c.saving, 0),
  damage: picks.reduce((a, c) => a + c.damage, 0),
});

/** Least predicted damage with a total saving of at least `required`; undefined when no choice of picks saves that much. */
export function allocate<T>(units: readonly Unit<T>[], required: number, resolution = 1000): Allocation<T> | undefined {
  for (const u of units) if (u.choices.length === 0) throw new Error(`allocate: unit '${u.id}' has no choices`);
  if (required <= 0) return total(units.map((u) => leastDamage(u.choices)));
  const step = required / resolution;
  // Savings are rounded to the nearest step; sums may stray by half a step per unit, so states
  // run a little past the requirement and the answer is checked against the real savings.
  const cap = resolution + units.length;
  const levels = cap + 1;
  // best[j]: least damage of the units so far with j steps of saving (j = cap: at least that much).
  let best = new Float64Array(levels).fill(Infinity);
  best[0] = 0;
  let bestSaving = new Float64Array(levels);
  const from: Int32Array[] = [];
  const pick: Int32Array[] = [];
  for (const u of units) {
    const next = new Float64Array(levels).fill(Infinity);
    const nextSaving = new Float64Array(levels);
    const f = new Int32Array(levels).fill(-1);
    const p = new Int32Array(levels).fill(-1);
    for (let j = 0; j < levels; j++) {
      if (best[j] === Infinity) continue;
      u.choices.forEach((c, ci) => {
        const k = Math.min(cap, j + Math.max(0, Math.round(c.saving / step)));
        const damage = best[j] + c.damage;
        const saving = bestSaving[j] + c.saving;
        // Least damage; on a tie, the larger real saving (more slack for the correction).
        if (damage < next[k] || (damage === next[k] && saving > nextSaving[k])) {
          next[k] = damage;
          nextSaving[k] = saving;
          f[k] = j;
          p[k] = ci;
        }
      });
    }
    best = next;
    bestSaving = nextSaving;
    from.push(f);
    pick.push(p);
  }
  let end = -1;
  for (let j = Math.max(0, resolution - units.length); j < levels; j++) {
    if (bestSaving[j] >= required && (end < 0 || best[j] < best[end])) end = j;
  }
  if (end < 0) {
    const most = total(units.map((u) => u.choices.reduce((a, c) => (c.saving > a.saving ? c : a))));
    return most.saving >= required ? most : undefined;
  }
  const picks: Choice<T>[] = new Array(units.length);
  for (let i = units.length - 1, j = end; i >= 0; i--) {
    picks[i] = units[i].choices[pick[i][j]];
    j = from[i][j];
  }
  return total(picks);
}

const leastDamage = <T>(choices: readonly Choice<T>[]) =>
  choices.reduce((a, c) => (c.damage < a.damage || (c.damage === a.damage && c.saving > a.saving) ? c : a));

/** The most any allocation can save (every unit at its most saving choice). */
export function maxSaving<T>(units: readonly Unit<T>[]): number {
  return units.reduce((a, u) => a + Math.max(...u.choices.map((c) => c.saving)), 0);
}
