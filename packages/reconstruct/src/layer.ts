/**
 * The IR side: run a solver on a graph layer's kernel and leave the result as the kernel's
 * annotations (quant, codebook, mask), which every later stage, the exporter and the codec read.
 */
import { enforceAnnotations, getNode, nodeParam, setCodebook, setMask, setQuant, type Graph, type Param } from '@condense/ir';
import type { LayerError } from './error.js';
import { ReconstructError } from './errors.js';
import { gptq, gptqCodebook, type GptqCodebookOptions, type GptqOptions } from './gptq.js';
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

const report = (stats: LayerStats, p: Param, r: { error: LayerError; damp: number; dead: number; ms: number }): LayerReport =>
  ({ layer: stats.spec.name, param: p.name, error: r.error, damp: r.damp, dead: r.dead, ms: r.ms });

/**
 * GPTQ a layer's kernel to affine codes per channel and write its `quant` annotation (axis: the
 * kernel's channel axis). A mask on the kernel is honoured. Group-wise grids (`groupSize`) have
 * no IR annotation yet: use `gptq` on the arrays for them.
 */
export function gptqLayer(graph: Graph, stats: LayerStats, options: Omit<GptqOptions, 'mask'> = {}): LayerReport {
  const kernel = kernelOf(graph, stats, 'gptqLayer');
  const { groupSize } = options;
  if (groupSize !== undefined && groupSize < stats.blocks.rows) {
    throw new ReconstructError(
      `gptqLayer: layer '${stats.spec.name}': group-wise scales (groupSize ${groupSize}) cannot be stored: the IR's quant annotation holds one scale per channel`,
    );
  }
  const r = gptq(stats, kernel.data, { ...options, mask: kernel.mask });
  kernel.data.set(r.data);
  delete kernel.codebook;
  delete kernel.float16;
  const { bits, signed, scale, zeroPoint } = r.grid;
  setQuant(kernel, { bits, signed, scale, zeroPoint, axis: stats.blocks.channelAxis });
  return report(stats, kernel, r);
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
    throw new ReconstructError(`sparseGptLayer: layer '${stats.spec.name}' kernel '${kernel.name}' is ${kernel.quant ? 'quantized' : 'weight-shared'}; prune before quantizing`);
  }
  const r = sparseGpt(stats, kernel.data, { ...options, mask: kernel.mask });
  kernel.data.set(r.data);
  setMask(kernel, r.mask);
  enforceAnnotations(kernel); // float16 rounding of the updated weights
  return { ...report(stats, kernel, r), sparsity: r.sparsity };
}
