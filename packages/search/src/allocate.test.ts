import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, maxSaving, type Choice, type Unit } from './allocate.js';

const unit = (id: string, points: [number, number][]): Unit<number> => ({
  id,
  choices: [{ value: 0, saving: 0, damage: 0 }, ...points.map(([saving, damage], i) => ({ value: i + 1, saving, damage }))],
});

/** Every combination of picks: the least damage that saves enough. */
function bruteForce<T>(units: Unit<T>[], required: number): number | undefined {
  let best: number | undefined;
  const walk = (i: number, saving: number, damage: number) => {
    if (i === units.length) {
      if (saving >= required && (best === undefined || damage < best)) best = damage;
      return;
    }
    for (const c of units[i].choices) walk(i + 1, saving + c.saving, damage + c.damage);
  };
  walk(0, 0, 0);
  return best;
}

describe('allocate', () => {
  it('takes the savings from the layer that minds least', () => {
    const sensitive = unit('fc3', [
      [50, 1],
      [90, 5],
    ]);
    const robust = unit('fc1', [
      [50, 0.01],
      [90, 0.05],
      [99, 0.4],
    ]);
    const a = allocate([sensitive, robust], 90) as NonNullable<ReturnType<typeof allocate<number>>>;
    expect(a.picks.map((c) => c.value)).toEqual([0, 2]);
    expect(a.damage).toBeCloseTo(0.05);
    const more = allocate([sensitive, robust], 140);
    expect(more?.picks.map((c) => c.value)).toEqual([1, 2]);
    expect(allocate([sensitive, robust], 190)).toBeUndefined();
    expect(maxSaving([sensitive, robust])).toBe(189);
    expect(allocate([sensitive, robust], 0)?.picks.map((c) => c.value)).toEqual([0, 0]);
  });

  it('matches brute force on random instances, and every allocation it returns saves enough', () => {
    const choice = fc.record({ saving: fc.double({ min: 0, max: 100, noNaN: true }), damage: fc.double({ min: 0, max: 10, noNaN: true }) });
    const units = fc.array(fc.array(choice, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(units, fc.double({ min: 1, max: 300, noNaN: true }), (raw, required) => {
        const us = raw.map(
          (cs, i): Unit<number> => ({
            id: `u${i}`,
            choices: [{ value: 0, saving: 0, damage: 0 }, ...cs.map((c, j): Choice<number> => ({ value: j + 1, ...c }))],
          }),
        );
        const exact = bruteForce(us, required);
        const a = allocate(us, required, 2000);
        if (a === undefined) return exact === undefined;
        expect(a.saving).toBeGreaterThanOrEqual(required);
        expect(exact).toBeDefined();
        // The rounding costs at most a step of saving per unit: no worse than the exact answer to a slightly larger requirement.
        const strict = bruteForce(us, required * (1 + us.length / 2000));
        expect(a.damage).toBeLessThanOrEqual((strict ?? Infinity) + 1e-9);
        expect(a.damage).toBeGreaterThanOrEqual((exact as number) - 1e-9);
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
