/**
 * GPTQ (Frantar et al. 2023, building on Optimal Brain Quantization, Frantar et al. 2022):
 * quantize a kernel one input row at a time, each row rounded to its grid and its error spread
 * over the rows not quantized yet through the damped inverse Hessian's upper Cholesky factor.
 */
import type { Codebook } from '@condense/ir';
import { layerError, type LayerError } from './error.js';
import { ReconstructError } from './errors.js';
import { checkFormat, createGrid, fitCodebook, fitRows, nearestCentroid, roundToGrid, slotOf, type AffineGrid } from './grid.js';
import { alignBlock, checkHessianOptions, checkKernel, compensate, type HessianOptions } from './obs.js';
import type { LayerStats } from './stats.js';

interface QuantOptions extends HessianOptions {
  /**
   * Quantize rows by descending H diagonal (GPTQ's act-order: the most active inputs first, while
   * the most rows are left to absorb their error). Default false. With groups, the grids are then
   * fitted up front on the original weights (GPTQ's static groups), so groups stay contiguous rows.
   */
  actOrder?: boolean;
  /** Zero the weights of inputs that were 0 on every calibration row (GPTQ's reference code). Default false: they are rounded like the rest. */
  zeroDead?: boolean;
  /** The kernel's mask (1 kept, 0 pruned): pruned weights stay exactly 0 and their share of the error is compensated. */
  mask?: Uint8Array;
  /** false: round every weight to nearest on the same grid or codebook, without error feedback (the baseline). Default true. */
  compensate?: boolean;
}

export interface GptqOptions extends QuantOptions {
  /** Code width, 2..8 (default 4). */
  bits?: number;
  /** Signed codes (4 bits: [-8, 7]); default true. */
  signed?: boolean;
  /** Symmetric range; default false: [min, max] with 0 exactly representable. */
  symmetric?: boolean;
  /**
   * Consecutive kernel rows sharing one scale per channel; default: all rows (per channel). Without
   * act-order each group's grid is fitted when the sweep reaches it, on the weights as updated so far.
   */
  groupSize?: number;
}

export interface GptqCodebookOptions extends QuantOptions {
  /** Codebook width: 2^bits centroids (default 4, at most 8). */
  bits?: number;
  /** Weight each element by its input's H_ii (the diagonal of the output error) when fitting the codebook; default true. */
  weighted?: boolean;
  /** Lloyd iterations when fitting the codebook (default 100). */
  iterations?: number;
}

interface QuantResult {
  /** The new kernel, flat like the input: dequantized (affine) or shared (codebook) values. */
  data: Float32Array;
  /** before: round-to-nearest on the same grid / codebook; after: GPTQ. */
  error: LayerError;
  /** The damping used, relative to H's mean diagonal (the largest over blocks). */
  damp: number;
  /** Kernel rows whose input was 0 on every calibration row. */
  dead: number;
  ms: number;
}

export interface GptqResult extends QuantResult {
  grid: AffineGrid;
}

export interface GptqCodebookResult extends QuantResult {
  codebook: Codebook;
}

type Kept = (b: number, r: number, c: number) => boolean;

function keptOf(stats: LayerStats, mask: Uint8Array | undefined): Kept {
  const { cols, stride } = stats.blocks;
  return mask ? (b, r, c) => mask[r * stride + b * cols + c] !== 0 : () => true;
}

/** Round every element to its nearest value: `nearest(b, r, c, w, i)` (i: the flat index), 0 where masked. */
function roundAll(
  stats: LayerStats,
  kernel: ArrayLike<number>,
  kept: Kept,
  nearest: (b: number, r: number, c: number, w: number, i: number) => number,
): Float32Array {
  const { count, rows, cols, stride } = stats.blocks;
  const out = new Float32Array(kernel.length);
  for (let b = 0; b < count; b++)
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const i = r * stride + b * cols + c;
        out[i] = kept(b, r, c) ? nearest(b, r, c, kernel[i], i) : 0;
      }
  return out;
}

function fitWholeKernel(grid: AffineGrid, stats: LayerStats, kernel: ArrayLike<number>, kept: Kept): void {
  const { count, rows, cols, stride } = stats.blocks;
  for (let b = 0; b < count; b++)
    fitRows(
      grid,
      stats.blocks,
      b,
      0,
      rows,
      (r, c) => kernel[r * stride + b * cols + c],
      (r, c) => kept(b, r, c),
    );
}

/** GPTQ onto an affine grid per channel, or per channel and group of rows. `kernel` is the layer's flat kernel (IR layout). */
export function gptq(stats: LayerStats, kernel: ArrayLike<number>, options: GptqOptions = {}): GptqResult {
  const t0 = performance.now();
  const where = `gptq: layer '${stats.spec.name}'`;
  checkKernel(stats, kernel, options.mask, where);
  const { blocks } = stats;
  const format = checkFormat(options, where);
  const hessian = checkHessianOptions(options, where);
  const kept = keptOf(stats, options.mask);
  // Round-to-nearest on grids fitted to the original weights: the uncompensated baseline.
  const rtn = createGrid(format, blocks, options.groupSize, where);
  fitWholeKernel(rtn, stats, kernel, kept);
  const naive = roundAll(stats, kernel, kept, (b, r, c, w) => roundToGrid(rtn, slotOf(rtn, blocks, b, r, c), w));

  if (options.compensate === false) return { data: naive, grid: rtn, ...uncompensated(stats, kernel, naive, t0) };

  const lazy = rtn.groupSize < blocks.rows && !options.actOrder;
  const grid = lazy ? createGrid(format, blocks, options.groupSize, where) : rtn;
  const blockSize = lazy ? alignBlock(hessian.blockSize, grid.groupSize) : hessian.blockSize;
  const { cols: n, rows: k } = blocks;
  const out = compensate(stats, kernel, { ...hessian, blockSize, actOrder: options.actOrder, zeroDead: options.zeroDead }, where, (b, w, { order }) => ({
    row(i, row, q) {
      const r = order[i];
      // Without act-order, step i is row i: the group's rows are current (its lazy block holds them all).
      if (lazy && r % grid.groupSize === 0)
        fitRows(
          grid,
          blocks,
          b,
          r,
          Math.min(r + grid.groupSize, k),
          (rr, c) => w[rr * n + c],
          (rr, c) => kept(b, rr, c),
        );
      for (let c = 0; c < n; c++) q[c] = kept(b, r, c) ? roundToGrid(grid, slotOf(grid, blocks, b, r, c), row[c]) : 0;
    },
  }));
  return { data: out.data, grid, error: layerError(stats, kernel, naive, out.data), damp: out.damp, dead: out.dead, ms: performance.now() - t0 };
}

/**
 * GPTQ onto a k-means codebook shared by the whole kernel: the codebook is fitted first on the
 * (kept) weights, then every row is assigned to its nearest centroids with error feedback.
 */
export function gptqCodebook(stats: LayerStats, kernel: ArrayLike<number>, options: GptqCodebookOptions = {}): GptqCodebookResult {
  const t0 = performance.now();
  const where = `gptqCodebook: layer '${stats.spec.name}'`;
  checkKernel(stats, kernel, options.mask, where);
  const { bits = 4, weighted = true, iterations = 100 } = options;
  if (!(Number.isInteger(bits) && bits >= 1 && bits <= 8)) throw new ReconstructError(`${where}: 'bits' must be an integer in 1..8, got ${bits}`);
  if (!(Number.isInteger(iterations) && iterations >= 1)) throw new ReconstructError(`${where}: 'iterations' must be a positive integer, got ${iterations}`);
  const hessian = checkHessianOptions(options, where);
  const kept = keptOf(stats, options.mask);
  const centroids = fitCodebook(...keptValues(stats, kernel, kept, weighted), 2 ** bits, iterations);
  const naiveIndices = new Uint16Array(kernel.length);
  const naive = roundAll(stats, kernel, kept, (_b, _r, _c, w, i) => centroids[(naiveIndices[i] = nearestCentroid(centroids, w))]);
  const codebook = (indices: Uint16Array): Codebook => ({ centroids, indices, bits });
  if (options.compensate === false) return { data: naive, codebook: codebook(naiveIndices), ...uncompensated(stats, kernel, naive, t0) };

  const indices = new Uint16Array(kernel.length);
  const { cols: n, stride } = stats.blocks;
  const out = compensate(stats, kernel, { ...hessian, actOrder: options.actOrder, zeroDead: options.zeroDead }, where, (b, _w, { order }) => ({
    row(i, row, q) {
      const r = order[i];
      for (let c = 0; c < n; c++) {
        if (!kept(b, r, c)) {
          q[c] = 0;
          continue;
        }
        const j = nearestCentroid(centroids, row[c]);
        indices[r * stride + b * n + c] = j;
        q[c] = centroids[j];
      }
    },
  }));
  return {
    data: out.data,
    codebook: codebook(indices),
    error: layerError(stats, kernel, naive, out.data),
    damp: out.damp,
    dead: out.dead,
    ms: performance.now() - t0,
  };
}

/** The result fields of the round-to-nearest baseline. */
function uncompensated(stats: LayerStats, kernel: ArrayLike<number>, naive: Float32Array, t0: number): Omit<QuantResult, 'data'> {
  let dead = 0;
  for (const h of stats.hessians) for (let r = 0; r < stats.blocks.rows; r++) dead += h[r * stats.blocks.rows + r] === 0 ? 1 : 0;
  return { error: layerError(stats, kernel, naive, naive), damp: 0, dead, ms: performance.now() - t0 };
}

/** The kept weights and their fitting weights (H_ii of their input, or 1). */
function keptValues(stats: LayerStats, kernel: ArrayLike<number>, kept: Kept, weighted: boolean): [Float64Array, Float64Array] {
  const { count, rows, cols, stride } = stats.blocks;
  const values: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < count; b++) {
    const h = stats.hessians[b];
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        if (!kept(b, r, c)) continue;
        values.push(kernel[r * stride + b * cols + c]);
        weights.push(weighted ? h[r * rows + r] : 1);
      }
  }
  // Inputs that were always 0 would get weight 0: if every one was, fall back to plain k-means.
  if (!weights.some((w) => w !== 0)) weights.fill(1);
  return [Float64Array.from(values), Float64Array.from(weights)];
}
