import { rng } from '@condense/ir';
/**
 * The small, dependency-free linear algebra the nearest Kronecker product needs: a one-sided
 * Jacobi SVD (exact, for small matrices and the projected problem) and a block subspace iteration
 * with Rayleigh-Ritz for the top singular triplets of a larger matrix. Float64 throughout.
 */

/** A dense matrix, row-major. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Top singular triplets: `u[k]` (length rows), `v[k]` (length cols), `s` descending. */
export interface Svd {
  s: number[];
  u: Float64Array[];
  v: Float64Array[];
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  if (data && data.length !== rows * cols) throw new Error(`matrix: ${data.length} values for ${rows} x ${cols}`);
  return { rows, cols, data: data ? Float64Array.from(data) : new Float64Array(rows * cols) };
}

const dot = (x: Float64Array, y: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
};

/** Squared Frobenius norm. */
export function energy(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * values[i];
  return s;
}

/**
 * One-sided (Hestenes) Jacobi on the columns of a tall matrix given as columns: rotates pairs
 * until every pair is orthogonal to `tol`. Returns the column norms (singular values), the
 * normalised columns (left vectors) and the accumulated rotation (right vectors), unsorted.
 */
function hestenes(cols: Float64Array[], tol = 1e-15, maxSweeps = 60): { s: number[]; u: Float64Array[]; v: Float64Array[] } {
  const n = cols.length;
  const v = Array.from({ length: n }, (_, i) => {
    const e = new Float64Array(n);
    e[i] = 1;
    return e;
  });
  const norms = cols.map((c) => dot(c, c));
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let i = 0; i < n - 1; i++) {
      for (let j = i + 1; j < n; j++) {
        const a = norms[i];
        const b = norms[j];
        if (a === 0 || b === 0) continue;
        const g = dot(cols[i], cols[j]);
        if (Math.abs(g) <= tol * Math.sqrt(a * b)) continue;
        rotated = true;
        // The rotation that zeroes the (i, j) entry of the Gram matrix.
        const zeta = (b - a) / (2 * g);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotate(cols[i], cols[j], c, s);
        rotate(v[i], v[j], c, s);
        norms[i] = dot(cols[i], cols[i]);
        norms[j] = dot(cols[j], cols[j]);
      }
    }
    if (!rotated) break;
  }
  const s = norms.map(Math.sqrt);
  const u = cols.map((c, k) => (s[k] > 0 ? c.map((x) => x / s[k]) : new Float64Array(c.length)));
  return { s, u, v };
}

function rotate(x: Float64Array, y: Float64Array, c: number, s: number): void {
  for (let k = 0; k < x.length; k++) {
    const a = x[k];
    const b = y[k];
    x[k] = c * a - s * b;
    y[k] = s * a + c * b;
  }
}

function columnsOf(m: Matrix, transpose: boolean): Float64Array[] {
  const { rows, cols, data } = m;
  if (transpose) return Array.from({ length: rows }, (_, i) => data.slice(i * cols, (i + 1) * cols));
  return Array.from({ length: cols }, (_, j) => {
    const c = new Float64Array(rows);
    for (let i = 0; i < rows; i++) c[i] = data[i * cols + j];
    return c;
  });
}

/** Sort triplets by descending singular value and keep the first `k`. */
function sorted(s: number[], u: Float64Array[], v: Float64Array[], k: number): Svd {
  const order = s
    .map((_, i) => i)
    .sort((a, b) => s[b] - s[a])
    .slice(0, k);
  return { s: order.map((i) => s[i]), u: order.map((i) => u[i]), v: order.map((i) => v[i]) };
}

/** Full thin SVD by one-sided Jacobi: min(rows, cols) triplets, exact to rounding. O(mn^2) per sweep. */
export function jacobiSvd(m: Matrix): Svd {
  const k = Math.min(m.rows, m.cols);
  // Orthogonalise the shorter side's vectors: the columns of A (tall) or of A^T (wide).
  if (m.rows >= m.cols) {
    const r = hestenes(columnsOf(m, false));
    return sorted(r.s, r.u, r.v, k);
  }
  const r = hestenes(columnsOf(m, true));
  return sorted(r.s, r.v, r.u, k);
}

/** A x for each column x of `z` (columns of length cols) -> columns of length rows. */
function mulCols(m: Matrix, z: Float64Array[]): Float64Array[] {
  const { rows, cols, data } = m;
  const out = z.map(() => new Float64Array(rows));
  for (let i = 0; i < rows; i++) {
    const row = data.subarray(i * cols, (i + 1) * cols);
    for (let c = 0; c < z.length; c++) out[c][i] = dot(row, z[c]);
  }
  return out;
}

/** A^T q for each column q of `qs` (columns of length rows) -> columns of length cols. */
function mulTCols(m: Matrix, qs: Float64Array[]): Float64Array[] {
  const { rows, cols, data } = m;
  const out = qs.map(() => new Float64Array(cols));
  for (let i = 0; i < rows; i++) {
    const row = data.subarray(i * cols, (i + 1) * cols);
    for (let c = 0; c < qs.length; c++) {
      const s = qs[c][i];
      if (s === 0) continue;
      const o = out[c];
      for (let j = 0; j < cols; j++) o[j] += s * row[j];
    }
  }
  return out;
}

/**
 * Orthonormalise columns in place (modified Gram-Schmidt, twice for stability). A column that
 * vanishes (a rank-deficient block) is replaced by a fresh random direction, so the basis stays full.
 */
export function orthonormalize(q: Float64Array[], random: () => number): Float64Array[] {
  for (let c = 0; c < q.length; c++) {
    const original = Math.sqrt(dot(q[c], q[c]));
    for (let attempt = 0; ; attempt++) {
      for (let pass = 0; pass < 2; pass++) {
        for (let p = 0; p < c; p++) {
          const g = dot(q[p], q[c]);
          for (let i = 0; i < q[c].length; i++) q[c][i] -= g * q[p][i];
        }
      }
      const norm = Math.sqrt(dot(q[c], q[c]));
      if (norm > 1e-10 * Math.max(original, 1e-300) && norm > 1e-280) {
        for (let i = 0; i < q[c].length; i++) q[c][i] /= norm;
        break;
      }
      if (attempt > 5) throw new Error('orthonormalize: cannot extend the basis (more columns than rows?)');
      for (let i = 0; i < q[c].length; i++) q[c][i] = random() - 0.5;
    }
  }
  return q;
}

export interface TopSvdOptions {
  /** Matrices whose smaller side is at most this use the full Jacobi SVD. Default 48. */
  directBelow?: number;
  /** Extra block columns beyond `k`. Default max(k, 8). */
  oversample?: number;
  /** Stop when the top-k singular values move less than `tol * s1` twice in a row. Default 1e-9. */
  tol?: number;
  maxIterations?: number;
  seed?: number;
}

/**
 * The top `k` singular triplets. Small matrices (or k close to the rank bound) take the exact
 * Jacobi route; larger ones a block subspace iteration A A^T on an oversampled block, with the
 * Ritz values from a Jacobi SVD of the projected matrix at every iteration, until they settle.
 */
export function topSvd(m: Matrix, k: number, o: TopSvdOptions = {}): Svd & { iterations: number; method: 'jacobi' | 'subspace' } {
  const small = Math.min(m.rows, m.cols);
  if (!(Number.isInteger(k) && k >= 1 && k <= small)) throw new Error(`topSvd: k must be an integer in [1, ${small}], got ${k}`);
  const l = Math.min(small, k + (o.oversample ?? Math.max(k, 8)));
  if (small <= (o.directBelow ?? 48) || 2 * l >= small) {
    const full = jacobiSvd(m);
    return { s: full.s.slice(0, k), u: full.u.slice(0, k), v: full.v.slice(0, k), iterations: 0, method: 'jacobi' };
  }
  const random = rng(o.seed ?? 1);
  const tol = o.tol ?? 1e-9;
  const maxIterations = o.maxIterations ?? 1000;
  let q = orthonormalize(
    mulCols(
      m,
      Array.from({ length: l }, () => Float64Array.from({ length: m.cols }, () => random() - 0.5)),
    ),
    random,
  );
  let previous: number[] | undefined;
  let calm = 0;
  let it = 0;
  for (;;) {
    it++;
    // B^T = A^T Q: its SVD gives the Ritz triplets of A on span(Q).
    const bt = mulTCols(m, q);
    const ritz = hestenes(bt.map((c) => c.slice()));
    const r = sorted(ritz.s, ritz.u, ritz.v, l);
    const s1 = r.s[0] || 1;
    const moved = previous ? Math.max(...r.s.slice(0, k).map((s, i) => Math.abs(s - (previous as number[])[i]))) : Infinity;
    calm = moved <= tol * s1 ? calm + 1 : 0;
    previous = r.s;
    if (calm >= 2 || it >= maxIterations) {
      // A ~ Q B, B = V' S U'^T with B^T = U' S V'^T: left vectors Q V', right vectors U'.
      const u = r.v.slice(0, k).map((w) => {
        const out = new Float64Array(m.rows);
        for (let c = 0; c < l; c++) for (let i = 0; i < m.rows; i++) out[i] += q[c][i] * w[c];
        return out;
      });
      return { s: r.s.slice(0, k), u, v: r.u.slice(0, k), iterations: it, method: 'subspace' };
    }
    q = orthonormalize(mulCols(m, orthonormalize(bt, random)), random);
  }
}
