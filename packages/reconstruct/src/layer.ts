/**
 * The IR side: run a solver on a graph layer's kernel and leave the result as the kernel's
 * annotations (quant, codebook, mask), which every later stage, the exporter and the codec read.
 */
import { enforceAnnotations, getNode, nodeParam, setCodebook, setMask, setQuant, type AffineQuant, type Graph, type Param } from '@condense/ir';
import type { LayerError } from './error.js';
import { ReconstructError } from './errors.js';
import { gptq, gptqCodebook, type GptqCodebookOptions, type GptqOptions } from './gptq.js';
import type { AffineGrid } from './grid.js';
import { sparseGpt, type SparseGptOptions } from './sparsegpt.js';
import type { LayerStats } from './stats.js';

export interface LayerReport {
  layer: string;
  /** The kernel param written. */
  param: string;
  error: LayerError;
  damp: number;
  dead: number;
  ms: number;
}

export interface SparseLayerReport extends LayerReport {
  sparsity: number;
}

/** The kernel of the layer the statistics were gathered for, checked against them. */
function kernelOf(graph: Graph, stats: LayerStats, who: string): Param {
  const name = stats.spec.name;
  const kernel = nodeParam(graph, getNode(graph, name), 'kernel');
  if (!kernel) throw new ReconstructError(`${who}: layer '${name}' has no 'kernel' param`);
  const want = stats.spec.kernelShape;
  if (kernel.shape.length !== want.length || kernel.shape.some((d, i) => d !== want[i])) {
    throw new ReconstructError(`${who}: layer '${name}' kernel '${kernel.name}' is [${kernel.shape.join(', ')}], the statistics are for [${want.join(', ')}]`);
  }
  return kernel;
}

const report = (stats: LayerStats, p: Param, r: { error: LayerError; damp: number; dead: number; ms: number }): LayerReport => ({
  layer: stats.spec.name,
  param: p.name,
  error: r.error,
  damp: r.damp,
  dead: r.dead,
  ms: r.ms,
});

/**
 * GPTQ a layer's kernel to affine codes per channel (or per channel and group of `groupSize`
 * kernel rows) and write its `quant` annotation on the kernel's channel axis. A mask on the kernel
 * is honoured.
 */
export function gptqLayer(graph: Graph, stats: LayerStats, options: Omit<GptqOptions, 'mask'> = {}): LayerReport {
  const kernel = kernelOf(graph, stats, 'gptqLayer');
  const r = gptq(stats, kernel.data, { ...options, mask: kernel.mask });
  kernel.data.set(r.data);
  delete kernel.codebook;
  delete kernel.float16;
  setQuant(kernel, quantOf(r.grid, stats));
  return report(stats, kernel, r);
}

/**
 * The IR annotation of a grid. Its group-wise slots (`g * channels + channel`, g = the group of
 * the block's kernel row) are the IR's `group` layout: the IR's rows run over the kernel's axes
 * other than the channel axis, which are the block rows for dense and conv2d, and (tap,
 * multiplier) pairs for depthwise, so a depthwise group of `groupSize` taps is
 * `groupSize * multiplier` IR rows.
 */
function quantOf(grid: AffineGrid, stats: LayerStats): AffineQuant {
  const { bits, signed, scale, zeroPoint, groups, groupSize } = grid;
  const { channelAxis, cols } = stats.blocks;
  const q: AffineQuant = { bits, signed, scale, zeroPoint, axis: channelAxis };
  if (groups > 1) q.group = { size: groupSize * (stats.spec.op === 'depthwiseConv2d' ? cols : 1) };
  return q;
}

/** GPTQ a layer's kernel onto a fitted k-means codebook and write its `codebook` annotation. */
export function gptqCodebookLayer(graph: Graph, stats: LayerStats, options: Omit<GptqCodebookOptions, 'mask'> = {}): LayerReport {
  const kernel = kernelOf(graph, stats, 'gptqCodebookLayer');
  const r = gptqCodebook(stats, kernel.data, { ...options, mask: kernel.mask });
  kernel.data.set(r.data);
  delete kernel.quant;
  delete kernel.float16;
  setCodebook(kernel, r.codebook);
  return report(stats, kernel, r);
}

/** Prune a layer's kernel with SparseGPT and write its `mask` annotation (an existing mask's zeros stay). */
export function sparseGptLayer(graph: Graph, stats: LayerStats, options: Omit<SparseGptOptions, 'mask'>): SparseLayerReport {
  const kernel = kernelOf(graph, stats, 'sparseGptLayer');
  if (kernel.quant || kernel.codebook) {
    throw new ReconstructError(
      `sparseGptLayer: layer '${stats.spec.name}' kernel '${kernel.name}' is ${kernel.quant ? 'quantized' : 'weight-shared'}; prune before quantizing`,
    );
  }
  const r = sparseGpt(stats, kernel.data, { ...options, mask: kernel.mask });
  kernel.data.set(r.data);
  setMask(kernel, r.mask);
  enforceAnnotations(kernel); // float16 rounding of the updated weights
  return { ...report(stats, kernel, r), sparsity: r.sparsity };
}
