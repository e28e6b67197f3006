/**
 * Choosing factor shapes: for a kernel of shape S, every pair (A, B) with A[t] * B[t] = S[t]
 * is a candidate; a rank-r factorization stores r * (|A| + |B|) values. The automatic choice takes
 * the fewest parameters per term; among candidates within `tolerance` of that minimum, a dense
 * kernel takes the most balanced one (A and B of similar extent on every axis: after the flatten
 * of a square image, its rows and columns), then the cheapest to run; a conv kernel takes the
 * cheapest to run first (its spatial extents are often prime, so balance means little there).
 */
import { sizeOf } from './nkp.js';

export interface FactorShapes {
  a: number[];
  b: number[];
}

export function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

/** Largest useful rank: the smaller side of the rearranged matrix. */
export const maxRank = (s: FactorShapes): number => Math.min(sizeOf(s.a), sizeOf(s.b));

export const paramsPerTerm = (s: FactorShapes): number => sizeOf(s.a) + sizeOf(s.b);

/** Sum over axes of |ln(A[t] / B[t])|: 0 when both factors split every axis evenly. */
export const imbalance = (s: FactorShapes): number => s.a.reduce((acc, d, t) => acc + Math.abs(Math.log(d / s.b[t])), 0);

/**
 * MACs per output position of one Kronecker term, as the kernels run it.
 * Dense [m, n] = [m1 m2, n1 n2]: the cheaper of contracting A first (m n1 + m2 n) or B first (m n2 + m1 n).
 * Conv [kh, kw, cin, cout]: B's conv over every input group (kh2 kw2 cin f2) then A's over every
 * output group (kh1 kw1 c1 cout); the conv's own extra positions are counted by the op.
 */
export function macsPerTerm(s: FactorShapes): number {
  if (s.a.length === 2) {
    const [m1, n1] = s.a;
    const [m2, n2] = s.b;
    const m = m1 * m2;
    const n = n1 * n2;
    return Math.min(m * n1 + m2 * n, m * n2 + m1 * n);
  }
  const [h1, w1, c1, f1] = s.a;
  const [h2, w2, c2, f2] = s.b;
  return h2 * w2 * c1 * c2 * f2 + h1 * w1 * c1 * f1 * f2;
}

/** Every non-trivial factor pair of a kernel shape (neither factor a single element). */
export function candidateShapes(shape: readonly number[]): FactorShapes[] {
  const out: FactorShapes[] = [];
  const walk = (t: number, a: number[]) => {
    if (t === shape.length) {
      const b = a.map((d, i) => shape[i] / d);
      if (sizeOf(a) > 1 && sizeOf(b) > 1) out.push({ a, b });
      return;
    }
    for (const d of divisors(shape[t])) walk(t + 1, [...a, d]);
  };
  walk(0, []);
  return out;
}

export interface ChooseOptions {
  /** Only shapes that allow at least this rank. */
  minRank?: number;
  /** Candidates within this fraction of the fewest parameters per term compete on balance. Default 0.05. */
  tolerance?: number;
}

/** The automatic factor shapes of a kernel; throws when the kernel has no non-trivial factorization. */
export function chooseShapes(shape: readonly number[], o: ChooseOptions = {}): FactorShapes {
  const minRank = o.minRank ?? 1;
  const all = candidateShapes(shape).filter((s) => maxRank(s) >= minRank);
  if (all.length === 0) {
    throw new Error(
      `kernel [${shape.join(', ')}] has no Kronecker factorization${minRank > 1 ? ` allowing rank ${minRank}` : ''} (its dimensions do not factor)`,
    );
  }
  const best = Math.min(...all.map(paramsPerTerm));
  const near = all.filter((s) => paramsPerTerm(s) <= best * (1 + (o.tolerance ?? 0.05)));
  const byBalance = (x: FactorShapes, y: FactorShapes) => imbalance(x) - imbalance(y);
  const byMacs = (x: FactorShapes, y: FactorShapes) => macsPerTerm(x) - macsPerTerm(y);
  const [first, second] = shape.length === 4 ? [byMacs, byBalance] : [byBalance, byMacs];
  near.sort((x, y) => first(x, y) || second(x, y) || paramsPerTerm(x) - paramsPerTerm(y));
  return near[0];
}

/** The rank whose factors come closest to `ratio` times fewer values than the kernel, without going under it. */
export function rankForRatio(kernelSize: number, s: FactorShapes, ratio: number): number {
  return Math.min(Math.floor(kernelSize / (ratio * paramsPerTerm(s))), maxRank(s));
}
