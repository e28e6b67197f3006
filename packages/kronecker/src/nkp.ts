/**
 * Nearest Kronecker product (Van Loan & Pitsianis 1993), for tensors of any rank: W with
 * W.shape[t] = A.shape[t] * B.shape[t] is a sum of Kronecker products sum_k A_k (x) B_k exactly
 * when its rearrangement R (one row per element of A, one column per element of B) is
 * sum_k vec(A_k) vec(B_k)^T. The best rank-r approximation of R in the Frobenius norm, its top r
 * singular triplets, is therefore the best r-term Kronecker sum, and the squared error is the
 * tail of R's squared singular values.
 *
 * Index convention (the TF.js / NumPy np.kron one): along axis t, W index = iA * B.shape[t] + iB.
 * For a dense kernel [in, out] that is input i = i1 * m2 + i2 and output j = j1 * n2 + j2.
 */
import { energy, matrix, topSvd, type Matrix, type TopSvdOptions } from './linalg.js';

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Element strides of a row-major shape. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let t = shape.length - 1; t >= 0; t--) {
    s[t] = acc;
    acc *= shape[t];
  }
  return s;
}

/** For every element of W (row-major), its row (A element) and column (B element) in the rearrangement. */
function rearrangementIndex(shapeA: readonly number[], shapeB: readonly number[]): { row: Int32Array; col: Int32Array } {
  const shape = shapeA.map((d, t) => d * shapeB[t]);
  const n = sizeOf(shape);
  const sa = strides(shapeA);
  const sb = strides(shapeB);
  const row = new Int32Array(n);
  const col = new Int32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let e = 0; e < n; e++) {
    let r = 0;
    let c = 0;
    for (let t = 0; t < shape.length; t++) {
      r += Math.floor(idx[t] / shapeB[t]) * sa[t];
      c += (idx[t] % shapeB[t]) * sb[t];
    }
    row[e] = r;
    col[e] = c;
    for (let t = shape.length - 1; t >= 0; t--) {
      if (++idx[t] < shape[t]) break;
      idx[t] = 0;
    }
  }
  return { row, col };
}

export function checkFactorShapes(shape: readonly number[], shapeA: readonly number[], shapeB: readonly number[]): void {
  if (shapeA.length !== shape.length || shapeB.length !== shape.length) {
    throw new Error(
      `factor shapes [${shapeA.join(', ')}] and [${shapeB.join(', ')}] must both have rank ${shape.length} like the kernel [${shape.join(', ')}]`,
    );
  }
  shape.forEach((d, t) => {
    if (!(Number.isInteger(shapeA[t]) && shapeA[t] >= 1 && Number.isInteger(shapeB[t]) && shapeB[t] >= 1)) {
      throw new Error(`factor shapes [${shapeA.join(', ')}] and [${shapeB.join(', ')}] must hold positive integers`);
    }
    if (shapeA[t] * shapeB[t] !== d) {
      throw new Error(
        `factor shapes [${shapeA.join(', ')}] and [${shapeB.join(', ')}] do not divide the kernel [${shape.join(', ')}]: on axis ${t}, ${shapeA[t]} x ${shapeB[t]} = ${shapeA[t] * shapeB[t]}, not ${d}`,
      );
    }
  });
}

/** The rearranged matrix R: (size of A) x (size of B). */
export function rearrange(w: ArrayLike<number>, shapeA: readonly number[], shapeB: readonly number[]): Matrix {
  const shape = shapeA.map((d, t) => d * shapeB[t]);
  if (w.length !== sizeOf(shape)) throw new Error(`rearrange: ${w.length} values for shape [${shape.join(', ')}]`);
  const cols = sizeOf(shapeB);
  const m = matrix(sizeOf(shapeA), cols);
  const { row, col } = rearrangementIndex(shapeA, shapeB);
  for (let e = 0; e < w.length; e++) m.data[row[e] * cols + col[e]] = w[e];
  return m;
}

/** sum_k a[k] (x) b[k], with a: [r, ...shapeA] and b: [r, ...shapeB] row-major. */
export function kronSum(a: ArrayLike<number>, b: ArrayLike<number>, shapeA: readonly number[], shapeB: readonly number[], rank: number): Float32Array {
  const na = sizeOf(shapeA);
  const nb = sizeOf(shapeB);
  if (a.length !== rank * na || b.length !== rank * nb)
    throw new Error(`kronSum: factors have ${a.length} and ${b.length} values, rank ${rank} needs ${rank * na} and ${rank * nb}`);
  const { row, col } = rearrangementIndex(shapeA, shapeB);
  const out = new Float32Array(row.length);
  for (let e = 0; e < row.length; e++) {
    let s = 0;
    for (let k = 0; k < rank; k++) s += a[k * na + row[e]] * b[k * nb + col[e]];
    out[e] = s;
  }
  return out;
}

export interface NkpResult {
  /** [rank, ...shapeA] */
  a: Float32Array;
  /** [rank, ...shapeB] */
  b: Float32Array;
  /** The top `rank` singular values of the rearrangement. */
  singularValues: number[];
  /** ||W||_F^2. */
  energy: number;
  /** Sum of the squared singular values left out: ||W||^2 - sum of the kept ones squared. */
  tailEnergy: number;
  /** sqrt(tail / ||W||^2): the relative Frobenius error the singular values predict. */
  tailRelativeError: number;
  /** ||W - sum_k A_k (x) B_k||_F / ||W||_F, measured on the float32 factors. */
  relativeError: number;
  method: 'jacobi' | 'subspace';
  iterations: number;
}

/**
 * The best rank-`rank` Kronecker sum approximation of `w` (shape: elementwise shapeA * shapeB).
 * Each term's singular value is split evenly, A_k = sqrt(s_k) u_k and B_k = sqrt(s_k) v_k, so
 * both factors have the same norm when fine-tuning starts.
 */
export function nkp(w: ArrayLike<number>, shapeA: readonly number[], shapeB: readonly number[], rank: number, o: TopSvdOptions = {}): NkpResult {
  const r = rearrange(w, shapeA, shapeB);
  const maxRank = Math.min(r.rows, r.cols);
  if (!(Number.isInteger(rank) && rank >= 1 && rank <= maxRank)) {
    throw new Error(`rank must be an integer in [1, ${maxRank}] for factors [${shapeA.join(', ')}] (x) [${shapeB.join(', ')}], got ${rank}`);
  }
  const total = energy(r.data);
  const svd = topSvd(r, rank, o);
  const na = r.rows;
  const nb = r.cols;
  const a = new Float32Array(rank * na);
  const b = new Float32Array(rank * nb);
  svd.s.forEach((s, k) => {
    const root = Math.sqrt(s);
    for (let i = 0; i < na; i++) a[k * na + i] = root * svd.u[k][i];
    for (let j = 0; j < nb; j++) b[k * nb + j] = root * svd.v[k][j];
  });
  const tailEnergy = Math.max(total - energy(svd.s), 0);
  const approx = kronSum(a, b, shapeA, shapeB, rank);
  let diff = 0;
  for (let e = 0; e < approx.length; e++) diff += (w[e] - approx[e]) ** 2;
  return {
    a,
    b,
    singularValues: svd.s,
    energy: total,
    tailEnergy,
    tailRelativeError: total > 0 ? Math.sqrt(tailEnergy / total) : 0,
    relativeError: total > 0 ? Math.sqrt(diff / total) : 0,
    method: svd.method,
    iterations: svd.iterations,
  };
}
