import { enforceAnnotations, getNode, nodeParam, param, type Graph } from '@condense/ir';
import { ReconstructError } from './errors.js';
import { outputEnergy } from './error.js';
import { outputChannels, readBlock } from './layout.js';
import { cholesky, choleskySolve, dampedFactor } from './linalg.js';
import { inputMean, type LayerStats } from './stats.js';

export interface BiasCorrection {
  /** Per output channel, the mean output change E[x]^T (W' - W) on the calibration set: subtract it from the bias. */
  shift: Float64Array;
  /** || X (W' - W) ||^2. */
  errorBefore: number;
  /**
   * The same with the bias corrected: || X (W' - W) - 1 shift^T ||^2 = errorBefore - rows |shift|^2
   * (the mean part of the error removed; what is left is the error's covariance part).
   */
  errorAfter: number;
}

/**
 * Bias correction (Nagel et al. 2019, "Data-Free Quantization", section 4.2, with the input mean
 * measured on calibration data): a weight change W -> W' moves every output channel's mean by
 * E[x]^T (W'_c - W_c), which the bias can take back.
 */
export function biasCorrection(stats: LayerStats, before: ArrayLike<number>, after: ArrayLike<number>): BiasCorrection {
  const { blocks } = stats;
  const { rows: k, cols: n } = blocks;
  const shift = new Float64Array(outputChannels(blocks));
  for (let b = 0; b < blocks.count; b++) {
    const mean = inputMean(stats, b);
    const w0 = readBlock(before, blocks, b);
    const w1 = readBlock(after, blocks, b);
    for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) shift[b * n + c] += mean[r] * (w1[r * n + c] - w0[r * n + c]);
  }
  const errorBefore = outputEnergy(stats, after, before);
  const meanPart = stats.rows * shift.reduce((a, v) => a + v * v, 0);
  return { shift, errorBefore, errorAfter: Math.max(0, errorBefore - meanPart) };
}

/**
 * Subtract `shift` from a layer's bias, creating a zero bias first when the layer has none.
 * Refuses a quantized or weight-shared bias (its values are pinned to a grid).
 */
export function correctBias(graph: Graph, nodeName: string, shift: ArrayLike<number>): void {
  const node = getNode(graph, nodeName);
  let bias = nodeParam(graph, node, 'bias');
  if (!bias) {
    let name = `${node.name}/bias`;
    for (let i = 1; graph.params.has(name); i++) name = `${node.name}/bias_${i}`;
    bias = param(name, [shift.length]);
    graph.params.set(name, bias);
    node.params.bias = name;
  }
  const where = `correctBias: layer '${nodeName}'`;
  if (bias.data.length !== shift.length) throw new ReconstructError(`${where}: bias '${bias.name}' has ${bias.data.length} values, the shift ${shift.length}`);
  if (bias.quant || bias.codebook) throw new ReconstructError(`${where}: bias '${bias.name}' is ${bias.quant ? 'quantized' : 'weight-shared'}; correct it before quantizing`);
  for (let c = 0; c < shift.length; c++) bias.data[c] -= shift[c];
  enforceAnnotations(bias);
}

/** Default ridge of the least-squares helpers, relative to H's mean diagonal: light, for stability only. */
export const DEFAULT_RIDGE = 1e-4;

/**
 * W' = argmin || X W' - T ||^2 + lambda || W' ||^2 from H = X^T X (k x k) and the cross term
 * C = X^T T (k x n, row-major): the solution of (H + lambda I) W' = C, lambda = ridge x the mean
 * diagonal of H (grown tenfold until H + lambda I factors, if it does not).
 */
export function ridgeSolve(h: Float64Array, k: number, cross: Float64Array, n: number, ridge = DEFAULT_RIDGE): Float64Array {
  if (h.length !== k * k) throw new ReconstructError(`ridgeSolve: H has ${h.length} entries, expected ${k} x ${k}`);
  if (cross.length !== k * n) throw new ReconstructError(`ridgeSolve: the cross term has ${cross.length} entries, expected ${k} x ${n}`);
  if (!(Number.isFinite(ridge) && ridge >= 0)) throw new ReconstructError(`ridgeSolve: 'ridge' must be a finite number >= 0, got ${ridge}`);
  const { factor } = dampedFactor(h, k, ridge, cholesky, 'ridgeSolve');
  return choleskySolve(factor, k, cross, n);
}

/**
 * Refit the weights of a subset of a layer's inputs so that they reproduce its full output: the
 * W' (kept.length x n) minimising || X_kept W' - X W ||^2 (+ the ridge), i.e.
 * (H_kept,kept + lambda I) W' = H_kept,: W. W is k x n row-major; `kept` lists row indices of W.
 * The least-squares step of channel pruning (ThiNet's rescaling, for one).
 */
export function refitRows(h: Float64Array, k: number, w: Float64Array, n: number, kept: readonly number[], ridge = DEFAULT_RIDGE): Float64Array {
  if (h.length !== k * k) throw new ReconstructError(`refitRows: H has ${h.length} entries, expected ${k} x ${k}`);
  if (w.length !== k * n) throw new ReconstructError(`refitRows: W has ${w.length} entries, expected ${k} x ${n}`);
  const bad = kept.find((r) => !(Number.isInteger(r) && r >= 0 && r < k));
  if (bad !== undefined) throw new ReconstructError(`refitRows: kept row ${bad} is not in 0..${k - 1}`);
  const m = kept.length;
  const hk = new Float64Array(m * m);
  const cross = new Float64Array(m * n);
  kept.forEach((p, i) => {
    kept.forEach((q, j) => (hk[i * m + j] = h[p * k + q]));
    // Row i of H_kept,: W.
    for (let r = 0; r < k; r++) {
      const f = h[p * k + r];
      if (f !== 0) for (let c = 0; c < n; c++) cross[i * n + c] += f * w[r * n + c];
    }
  });
  return ridgeSolve(hk, m, cross, n, ridge);
}
