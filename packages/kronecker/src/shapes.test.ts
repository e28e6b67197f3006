import { describe, expect, it } from 'vitest';
import { candidateShapes, chooseShapes, macsPerTerm, maxRank, paramsPerTerm, rankForRatio } from './shapes.js';

describe('factor shapes', () => {
  it('splits LeNet-300-100 fc1 along the image rows and columns', () => {
    const s = chooseShapes([784, 300]);
    expect([s.a[0], s.b[0]]).toEqual([28, 28]);
    expect([s.a[1], s.b[1]].sort()).toEqual([15, 20]);
    expect(paramsPerTerm(s)).toBe(980);
    expect(maxRank(s)).toBe(420);
    // The fewest values per term is 970 (e.g. [49, 10] (x) [16, 30]); 980 is within 5% and balanced.
    expect(Math.min(...candidateShapes([784, 300]).map(paramsPerTerm))).toBe(970);
    expect(paramsPerTerm(chooseShapes([784, 300], { tolerance: 0 }))).toBe(970);
  });

  it('lists only non-trivial, dividing candidates', () => {
    for (const c of candidateShapes([12, 10])) {
      expect(c.a[0] * c.b[0]).toBe(12);
      expect(c.a[1] * c.b[1]).toBe(10);
      expect(c.a[0] * c.a[1]).toBeGreaterThan(1);
      expect(c.b[0] * c.b[1]).toBeGreaterThan(1);
    }
    expect(() => chooseShapes([1, 1])).toThrow(/no Kronecker factorization/);
  });

  it('chooses the rank for a ratio and counts the MACs of the cheaper order', () => {
    const s = { a: [28, 15], b: [28, 20] };
    expect(rankForRatio(784 * 300, s, 15)).toBe(16); // 235200 / (15 * 980) = 16.0
    expect(rankForRatio(784 * 300, s, 30)).toBe(8);
    expect(macsPerTerm(s)).toBe(Math.min(784 * 15 + 28 * 300, 784 * 20 + 28 * 300));
    const conv = chooseShapes([5, 5, 20, 50]);
    expect(conv.a.map((d, t) => d * conv.b[t])).toEqual([5, 5, 20, 50]);
  });
});

describe('conv factor shapes', () => {
  it('take the fewest values per term, then the fewest MACs', () => {
    const s = chooseShapes([5, 5, 20, 50]);
    expect(paramsPerTerm(s)).toBe(325);
    const rivals = candidateShapes([5, 5, 20, 50]).filter((c) => paramsPerTerm(c) <= 325 * 1.05);
    expect(macsPerTerm(s)).toBe(Math.min(...rivals.map(macsPerTerm)));
  });
});
