/**
 * SparseGPT (Frantar & Alistarh 2023): one-shot pruning with Optimal Brain Surgeon updates. In
 * each lazy block the weights with the smallest saliency w^2 / U_ii^2 (= w^2 / [H_F^-1]_ii, F the
 * rows not fixed yet) are pruned, and every pruned weight's error is spread over the rows after it.
 */
import { layerError, type LayerError } from './error.js';
import { ReconstructError } from './errors.js';
import { alignBlock, checkHessianOptions, checkKernel, compensate, type HessianOptions } from './obs.js';
import type { LayerStats } from './stats.js';

export type SparsityScope = 'layer' | 'output';

export interface SparseGptOptions extends HessianOptions {
  /** Unstructured: the fraction of weights to prune, in [0, 1). */
  sparsity?: number;
  /**
   * 'layer' (default, as the reference code): each lazy block prunes its share over all outputs
   * at once, so the layer hits the target and outputs may differ. 'output': every output
   * channel prunes the fraction of its own weights.
   */
  scope?: SparsityScope;
  /**
   * N:M instead: in every output column, of each m consecutive kernel rows (inputs, in HWIO row
   * order for convolutions) exactly n are pruned (SparseGPT's prunen:prunem; 2:4 prunes half).
   * The kernel's rows (per block) must be a multiple of m.
   */
  nm?: { n: number; m: number };
  /** Zero the weights of inputs that were 0 on every calibration row before pruning. Default false. */
  zeroDead?: boolean;
  /** Weights already pruned (0 in the mask) stay pruned and count towards the target. */
  mask?: Uint8Array;
}

export interface SparseGptResult {
  /** The pruned and updated kernel (pruned weights exactly 0). */
  data: Float32Array;
  /** 1 = kept, 0 = pruned, per kernel element. */
  mask: Uint8Array;
  /** Fraction of the kernel pruned. */
  sparsity: number;
  /** before: the same mask without the update; after: SparseGPT. */
  error: LayerError;
  damp: number;
  dead: number;
  ms: number;
}

interface Target {
  kind: 'fraction' | 'nm';
  sparsity: number;
  scope: SparsityScope;
  n: number;
  m: number;
}

function checkTarget(o: SparseGptOptions, rows: number, where: string): Target {
  const { scope = 'layer' } = o;
  if (scope !== 'layer' && scope !== 'output') throw new ReconstructError(`${where}: 'scope' must be 'layer' or 'output', got '${String(scope)}'`);
  if (o.nm) {
    const { n, m } = o.nm;
    if (o.sparsity !== undefined) throw new ReconstructError(`${where}: give 'sparsity' or 'nm', not both`);
    if (!(Number.isInteger(m) && m >= 1 && Number.isInteger(n) && n >= 0 && n <= m))
      throw new ReconstructError(`${where}: 'nm' must be integers with 0 <= n <= m, m >= 1, got ${n}:${m}`);
    if (rows % m !== 0) throw new ReconstructError(`${where}: ${n}:${m} sparsity needs the kernel's ${rows} input rows to be a multiple of ${m}`);
    return { kind: 'nm', sparsity: n / m, scope, n, m };
  }
  const s = o.sparsity;
  if (!(typeof s === 'number' && s >= 0 && s < 1)) throw new ReconstructError(`${where}: 'sparsity' must be a number in [0, 1), got ${s}`);
  return { kind: 'fraction', sparsity: s, scope, n: 0, m: 1 };
}

/** Indices of the `count` smallest scores (ties: the lower index first). */
function smallest(scores: Float64Array, count: number): Int32Array {
  if (count <= 0) return new Int32Array(0);
  return Int32Array.from({ length: scores.length }, (_, i) => i)
    .sort((a, b) => scores[a] - scores[b] || a - b)
    .subarray(0, count);
}

/** Prune a layer's kernel one-shot with SparseGPT. `kernel` is the layer's flat kernel (IR layout). */
export function sparseGpt(stats: LayerStats, kernel: ArrayLike<number>, options: SparseGptOptions): SparseGptResult {
  const t0 = performance.now();
  const where = `sparseGpt: layer '${stats.spec.name}'`;
  checkKernel(stats, kernel, options.mask, where);
  const { blocks } = stats;
  const { rows: k, cols: n, stride } = blocks;
  const target = checkTarget(options, k, where);
  const hessian = checkHessianOptions(options, where);
  const mask = options.mask ? Uint8Array.from(options.mask) : new Uint8Array(kernel.length).fill(1);
  // Pruned so far and seen so far, for the whole layer (scope 'layer') or per output channel, so
  // rounding never drifts: each lazy block prunes up to round(sparsity x seen) in all.
  const pruned = new Float64Array(target.scope === 'layer' ? 1 : blocks.count * n);
  const seen = new Float64Array(pruned.length);

  /** Prune the lowest-scored cells (flat kernel indices) of one quota slot; already pruned cells score -Infinity and count. */
  function pruneLowest(slot: number, cells: Int32Array, scores: Float64Array, count: number): void {
    for (const e of smallest(scores, count)) mask[cells[e]] = 0;
    seen[slot] += cells.length;
    for (const i of cells) pruned[slot] += mask[i] === 0 ? 1 : 0;
  }

  // No act-order: step i is kernel row i, so N:M groups and lazy blocks are contiguous rows.
  const out = compensate(stats, kernel, { ...hessian, blockSize: alignBlock(hessian.blockSize, target.m), zeroDead: options.zeroDead }, where, (b, w, p) => {
    const at = (i: number, c: number) => i * stride + b * n + c;
    const saliency = (i: number, c: number) => (mask[at(i, c)] ? (w[i * n + c] / p.u[i * k + i]) ** 2 : -Infinity);
    /** Cells of rows [from, to) in the given columns, with their saliencies. */
    const cellsOf = (from: number, to: number, cols: number[]) => {
      const cells = new Int32Array((to - from) * cols.length);
      const scores = new Float64Array(cells.length);
      let e = 0;
      for (let i = from; i < to; i++) for (const c of cols) [cells[e], scores[e++]] = [at(i, c), saliency(i, c)];
      return { cells, scores };
    };
    const all = Array.from({ length: n }, (_, c) => c);
    return {
      block(from, to) {
        if (target.kind !== 'fraction') return;
        const slots = target.scope === 'layer' ? [{ slot: 0, cols: all }] : all.map((c) => ({ slot: b * n + c, cols: [c] }));
        for (const { slot, cols } of slots) {
          const { cells, scores } = cellsOf(from, to, cols);
          pruneLowest(slot, cells, scores, Math.round(target.sparsity * (seen[slot] + cells.length)) - pruned[slot]);
        }
      },
      row(i, row, q) {
        if (target.kind === 'nm' && i % target.m === 0) {
          for (let c = 0; c < n; c++) {
            const { cells, scores } = cellsOf(i, i + target.m, [c]);
            for (const e of smallest(scores, target.n)) mask[cells[e]] = 0;
          }
        }
        for (let c = 0; c < n; c++) q[c] = mask[at(i, c)] ? row[c] : 0;
      },
    };
  });
  const naive = Float32Array.from(kernel, (v, i) => (mask[i] ? v : 0));
  let zeros = 0;
  for (const v of mask) zeros += v === 0 ? 1 : 0;
  return {
    data: out.data,
    mask,
    sparsity: zeros / mask.length,
    error: layerError(stats, kernel, naive, out.data),
    damp: out.damp,
    dead: out.dead,
    ms: performance.now() - t0,
  };
}
