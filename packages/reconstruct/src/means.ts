/**
 * A layer's mean input, without its second moments: what the bias correction stage needs, at
 * the cost of one pass over the input (the patch sums of @condense/core for convolutions). Kept per kernel block like `LayerStats`, so `inputMean` reads both.
 */
import { convWindow, patchSums } from '@condense/core';
import { ReconstructError } from './errors.js';
import { kernelBlocks, outputChannels, type KernelBlocks, type LayerSpec } from './layout.js';
import { windowOf } from './stats.js';

/** Per block, the column sums of X_b (as in `LayerStats`), and the rows of X seen. */
export interface BlockSums {
  readonly spec: LayerSpec;
  readonly blocks: KernelBlocks;
  readonly sums: Float64Array[];
  rows: number;
}

export function createMeans(spec: LayerSpec): BlockSums {
  const blocks = kernelBlocks(spec);
  return { spec, blocks, sums: Array.from({ length: blocks.count }, () => new Float64Array(blocks.rows)), rows: 0 };
}

/** Fold one batch of the layer's input (dense: [..., in]; convolutions: NHWC) into the sums. */
export function accumulateMeans(m: BlockSums, x: ArrayLike<number>, shape: readonly number[]): void {
  const { spec, blocks } = m;
  const where = `layer '${spec.name}'`;
  if (spec.op === 'dense') {
    const k = blocks.rows;
    if (shape[shape.length - 1] !== k) throw new ReconstructError(`${where}: a dense input must be [..., ${k}], got [${shape.join(', ')}]`);
    const n = x.length / k;
    const s = m.sums[0];
    for (let r = 0; r < n; r++) for (let a = 0; a < k; a++) s[a] += x[r * k + a];
    m.rows += n;
    return;
  }
  const [kh, kw, kin] = spec.kernelShape;
  const cin = spec.op === 'depthwiseConv2d' ? 1 : kin;
  const channels = cin * blocks.count;
  if (shape.length !== 4 || shape[3] !== channels)
    throw new ReconstructError(`${where}: a ${spec.op} input must be NHWC [n, h, w, ${channels}], got [${shape.join(', ')}]`);
  const sums = patchSums(windowOf(spec), x, shape);
  // Patch entry (tap, channel) -> block b = channel / cin, row tap * cin + channel % cin.
  for (let b = 0; b < blocks.count; b++) {
    const s = m.sums[b];
    for (let tap = 0; tap < kh * kw; tap++) for (let ci = 0; ci < cin; ci++) s[tap * cin + ci] += sums[tap * channels + b * cin + ci];
  }
  const { ho, wo } = convWindow(windowOf(spec), shape[1], shape[2]);
  m.rows += shape[0] * ho * wo;
}

/**
 * The layer's mean output per output channel before its activation: E[x]^T W + bias, from the
 * mean input and a kernel (flat, IR layout) and bias.
 */
export function meanOutput(m: BlockSums, kernel: ArrayLike<number>, bias?: ArrayLike<number>): Float64Array {
  const { rows: k, cols: n, stride, count } = m.blocks;
  const out = new Float64Array(outputChannels(m.blocks));
  const rows = m.rows || 1;
  for (let b = 0; b < count; b++) {
    const s = m.sums[b];
    for (let r = 0; r < k; r++) {
      const mean = s[r] / rows;
      if (mean === 0) continue;
      for (let c = 0; c < n; c++) out[b * n + c] += mean * kernel[r * stride + b * n + c];
    }
  }
  if (bias) for (let c = 0; c < out.length; c++) out[c] += bias[c];
  return out;
}
