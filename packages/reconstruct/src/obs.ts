/**
 * The Optimal Brain Surgeon machinery GPTQ and SparseGPT share: the damped inverse Hessian's upper
 * Cholesky factor and the row-by-row sweep that fixes one kernel row (one input) at a time and
 * spreads its error over the rows not fixed yet, with lazy block updates.
 */
import { ReconstructError } from './errors.js';
import { readBlock, writeBlock } from './layout.js';
import { dampedFactor } from '@condense/core';
import { upperInverseFactor } from './linalg.js';
import type { LayerStats } from './stats.js';

export const DEFAULT_DAMP = 0.01;
export const DEFAULT_BLOCK_SIZE = 128;

export interface HessianOptions {
  /** Dampening: lambda = damp x the mean diagonal of H is added to H's diagonal (default 0.01, GPTQ's percdamp). */
  damp?: number;
  /** Rows per lazy block update (default 128): results are identical for every size, only speed differs. */
  blockSize?: number;
}

export interface PreparedHessian {
  /** order[i]: the kernel row fixed at step i. */
  order: Int32Array;
  /** Upper factor of (P (H + lambda I) P^T)^-1, P the order's permutation. */
  u: Float64Array;
  /** The damping added, relative to H's mean diagonal (grows past `damp` only if H needed it). */
  damp: number;
  /** 1 for rows whose input was always 0 on the calibration set (H_ii = 0). */
  dead: Uint8Array;
}

export function checkHessianOptions(o: HessianOptions, where: string): { damp: number; blockSize: number } {
  const { damp = DEFAULT_DAMP, blockSize = DEFAULT_BLOCK_SIZE } = o;
  if (!(Number.isFinite(damp) && damp >= 0)) throw new ReconstructError(`${where}: 'damp' must be a finite number >= 0, got ${damp}`);
  if (!(Number.isInteger(blockSize) && blockSize >= 1)) throw new ReconstructError(`${where}: 'blockSize' must be a positive integer, got ${blockSize}`);
  return { damp, blockSize };
}

/**
 * Dead inputs (H_ii = 0, so their whole row and column are 0) get the mean live diagonal, which
 * decouples them: their rows are rounded on their own and pass no error on. The rest is damped;
 * `order` (default: kernel order) permutes rows and columns before factoring.
 */
export function prepareHessian(h: Float64Array, k: number, damp: number, where: string, order?: Int32Array): PreparedHessian {
  const dead = new Uint8Array(k);
  let live = 0;
  let liveSum = 0;
  for (let i = 0; i < k; i++) {
    const d = h[i * k + i];
    if (d === 0) dead[i] = 1;
    else [live, liveSum] = [live + 1, liveSum + d];
  }
  const fill = live > 0 ? liveSum / live : 1;
  const perm = order ?? Int32Array.from({ length: k }, (_, i) => i);
  const a = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    const ri = perm[i] * k;
    for (let j = 0; j < k; j++) a[i * k + j] = h[ri + perm[j]];
    if (dead[perm[i]]) a[i * k + i] = fill;
  }
  // The mean diagonal of `a` is `fill`: dampedFactor's lambda is relative to it.
  const { factor, lambda } = dampedFactor(a, k, damp, upperInverseFactor, where);
  return { order: perm, u: factor, damp: lambda / fill, dead };
}

/** Kernel rows by descending H diagonal (GPTQ's act-order: the most active inputs first); ties by index. */
export function actOrder(h: Float64Array, k: number): Int32Array {
  return Int32Array.from({ length: k }, (_, i) => i).sort((a, b) => h[b * k + b] - h[a * k + a] || a - b);
}

export interface SweepHooks {
  /** At the start of each lazy block of steps [from, to); the weights are current up to there. */
  block?(from: number, to: number): void;
  /** Write the fixed values of the row at step i (its current values: `row`) into `out`. */
  row(i: number, row: Float64Array, out: Float64Array): void;
}

/**
 * Fix the rows of W (k x n, row-major, rows in step order) one at a time: row i becomes `out`,
 * and its error e = (w_i - out) / U_ii moves every later row j by -U_ij e, the OBS update that
 * keeps X W's change smallest given the rows fixed so far. Within a block the updates are
 * immediate; rows past the block receive the block's updates at once when it ends ("lazy batch").
 * Mutates `w`.
 */
export function sweep(w: Float64Array, k: number, n: number, u: Float64Array, blockSize: number, hooks: SweepHooks): void {
  const err = new Float64Array(Math.min(blockSize, k) * n);
  const out = new Float64Array(n);
  for (let i1 = 0; i1 < k; i1 += blockSize) {
    const i2 = Math.min(i1 + blockSize, k);
    hooks.block?.(i1, i2);
    for (let i = i1; i < i2; i++) {
      const row = w.subarray(i * n, (i + 1) * n);
      hooks.row(i, row, out);
      const d = u[i * k + i];
      const e = err.subarray((i - i1) * n, (i - i1 + 1) * n);
      for (let c = 0; c < n; c++) {
        e[c] = (row[c] - out[c]) / d;
        row[c] = out[c];
      }
      for (let j = i + 1; j < i2; j++) subtractScaled(w, j * n, u[i * k + j], e, n);
    }
    for (let j = i2; j < k; j++) lazyUpdate(w, j * n, u, k, j, i1, i2, err, n);
  }
}

/** Row j of W minus the block's errors: w_j -= sum_{i1 <= i < i2} U[i][j] e_i, four rows of errors per pass over w_j. */
function lazyUpdate(w: Float64Array, at: number, u: Float64Array, k: number, j: number, i1: number, i2: number, err: Float64Array, n: number): void {
  let i = i1;
  for (; i + 3 < i2; i += 4) {
    const [f0, f1, f2, f3] = [u[i * k + j], u[(i + 1) * k + j], u[(i + 2) * k + j], u[(i + 3) * k + j]];
    if (f0 === 0 && f1 === 0 && f2 === 0 && f3 === 0) continue;
    const e0 = (i - i1) * n;
    const [e1, e2, e3] = [e0 + n, e0 + 2 * n, e0 + 3 * n];
    for (let c = 0; c < n; c++) w[at + c] -= f0 * err[e0 + c] + f1 * err[e1 + c] + f2 * err[e2 + c] + f3 * err[e3 + c];
  }
  for (; i < i2; i++) subtractScaled(w, at, u[i * k + j], err.subarray((i - i1) * n, (i - i1 + 1) * n), n);
}

function subtractScaled(w: Float64Array, at: number, f: number, e: Float64Array, n: number): void {
  if (f === 0) return;
  for (let c = 0; c < n; c++) w[at + c] -= f * e[c];
}

/** Rows of a block matrix (k x n) in step order: out[i] = w[order[i]]. */
export function permuteRows(w: Float64Array, n: number, order: Int32Array): Float64Array {
  const out = new Float64Array(w.length);
  order.forEach((r, i) => out.set(w.subarray(r * n, (r + 1) * n), i * n));
  return out;
}

/** The inverse of `permuteRows`. */
export function unpermuteRows(w: Float64Array, n: number, order: Int32Array): Float64Array {
  const out = new Float64Array(w.length);
  order.forEach((r, i) => out.set(w.subarray(i * n, (i + 1) * n), r * n));
  return out;
}

export interface CompensateOptions {
  damp: number;
  blockSize: number;
  actOrder?: boolean;
  /** Zero the rows of dead inputs first (GPTQ's reference code does); otherwise they are fixed like any other. */
  zeroDead?: boolean;
}

export interface Compensated {
  data: Float32Array;
  /** The largest relative damping any block needed. */
  damp: number;
  /** Dead kernel rows, over all blocks. */
  dead: number;
}

/**
 * Run the sweep on every block of a kernel: `hooksFor(b, w, p)` gives the hooks of block b,
 * whose weights `w` (rows in step order, `p.order`) the sweep updates in place. Returns the new kernel.
 */
export function compensate(
  stats: LayerStats,
  kernel: ArrayLike<number>,
  o: CompensateOptions,
  where: string,
  hooksFor: (b: number, w: Float64Array, p: PreparedHessian) => SweepHooks,
): Compensated {
  const { blocks } = stats;
  const { rows: k, cols: n } = blocks;
  const data = Float32Array.from(kernel);
  let [damp, dead] = [0, 0];
  for (let b = 0; b < blocks.count; b++) {
    const h = stats.hessians[b];
    const p = prepareHessian(h, k, o.damp, where, o.actOrder ? actOrder(h, k) : undefined);
    const w = readBlock(kernel, blocks, b);
    if (o.zeroDead) p.dead.forEach((d, r) => d && w.fill(0, r * n, (r + 1) * n));
    const wp = permuteRows(w, n, p.order);
    sweep(wp, k, n, p.u, o.blockSize, hooksFor(b, wp, p));
    writeBlock(data, blocks, b, unpermuteRows(wp, n, p.order));
    damp = Math.max(damp, p.damp);
    dead += p.dead.reduce((a, v) => a + v, 0);
  }
  return { data, damp, dead };
}

/** Throws unless the kernel (and mask) have the statistics' size. */
export function checkKernel(stats: LayerStats, kernel: ArrayLike<number>, mask: ArrayLike<number> | undefined, where: string): void {
  const size = stats.blocks.rows * stats.blocks.stride;
  const shape = `[${stats.spec.kernelShape.join(', ')}]`;
  if (kernel.length !== size) throw new ReconstructError(`${where}: kernel has ${kernel.length} values, the statistics are for ${shape} (${size})`);
  if (mask && mask.length !== size) throw new ReconstructError(`${where}: mask has ${mask.length} entries, the kernel ${shape} has ${size}`);
}

/** The smallest multiple of `unit` that is >= size: lazy blocks that never split a group of `unit` rows. */
export const alignBlock = (size: number, unit: number): number => Math.ceil(size / unit) * unit;
