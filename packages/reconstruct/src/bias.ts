import { shiftOutput, type Graph } from '@condense/ir';
import { ReconstructError } from './errors.js';
import { outputEnergy } from './error.js';
import { outputChannels, readBlock } from './layout.js';
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
 * Take `shift` out of a layer's output (per output channel, before its activation): from its
 * bias, else from a batch norm that alone reads it (its moving mean), else from a new bias (see
 * `shiftOutput` in @condense/ir). Returns the param changed; refuses a quantized, weight-shared
 * or masked one (its values are pinned).
 */
export function correctBias(graph: Graph, nodeName: string, shift: ArrayLike<number>): string {
  const r = shiftOutput(
    graph,
    nodeName,
    Float64Array.from(shift, (v) => -v),
  );
  if ('reason' in r) throw new ReconstructError(`correctBias: layer '${nodeName}': ${r.reason}; correct the bias before quantizing it`);
  return r.param;
}
