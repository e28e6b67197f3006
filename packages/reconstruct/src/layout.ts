import { dilation2, getNode, nodeParam, strides2, type Graph, type Padding } from '@condense/ir';
import { ReconstructError } from './errors.js';

export type LayerOp = 'dense' | 'conv2d' | 'depthwiseConv2d';
export const LAYER_OPS: readonly LayerOp[] = ['dense', 'conv2d', 'depthwiseConv2d'];

/** What the statistics and the solvers need to know about a layer: its op, kernel shape and window. */
export interface LayerSpec {
  /** The layer's name, for messages and reports. */
  name: string;
  op: LayerOp;
  /**
   * dense [in, out]; conv2d HWIO [kh, kw, in / groups, out]; depthwiseConv2d [kh, kw, channels,
   * multiplier] (the IR's layouts).
   */
  kernelShape: number[];
  /** Convolutions: default [1, 1]. */
  strides?: [number, number];
  /** Convolutions: default [1, 1]. */
  dilation?: [number, number];
  /** Convolutions: default 'valid'. */
  padding?: Padding;
  /** conv2d only: input and output channels split into this many independent groups (default 1). */
  groups?: number;
}

/**
 * A kernel as independent least-squares blocks: block b maps `rows` inputs to `cols` outputs, and
 * its weight matrix W_b (rows x cols) is the kernel's elements at flat index
 * r * stride + b * cols + c. dense: 1 block, rows = fan-in. conv2d: one block per group, rows =
 * kh * kw * in / groups in HWIO order (so H's indices are kernel rows). depthwise: one block per
 * input channel, rows = kh * kw, cols = the depth multiplier. Every output channel is b * cols + c.
 */
export interface KernelBlocks {
  count: number;
  rows: number;
  cols: number;
  stride: number;
  /** The kernel axis that per-channel quantization runs along (dense 1, conv2d 3, depthwise 2). */
  channelAxis: number;
  /** Scale slots along `channelAxis`: output channels (dense, conv2d), input channels (depthwise). */
  channels: number;
}

export const outputChannels = (b: KernelBlocks): number => b.count * b.cols;

/** Per-channel quantization slot of column c of block b (a depthwise block shares one). */
export const channelOf = (blocks: KernelBlocks, b: number, c: number): number => (blocks.channelAxis === 2 ? b : b * blocks.cols + c);

const positive = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;

/** The block structure of a layer's kernel; throws, naming the layer, on a shape that does not fit the op. */
export function kernelBlocks(spec: LayerSpec): KernelBlocks {
  const s = spec.kernelShape;
  const where = `layer '${spec.name}'`;
  const rank = spec.op === 'dense' ? 2 : 4;
  if (!LAYER_OPS.includes(spec.op)) throw new ReconstructError(`${where}: op '${spec.op}' has no kernel to reconstruct (${LAYER_OPS.join(', ')})`);
  if (s.length !== rank || !s.every(positive))
    throw new ReconstructError(`${where}: a ${spec.op} kernel must be ${rank} positive integers, got [${s.join(', ')}]`);
  if (spec.op === 'dense') return { count: 1, rows: s[0], cols: s[1], stride: s[1], channelAxis: 1, channels: s[1] };
  const taps = s[0] * s[1];
  if (spec.op === 'depthwiseConv2d') return { count: s[2], rows: taps, cols: s[3], stride: s[2] * s[3], channelAxis: 2, channels: s[2] };
  const groups = spec.groups ?? 1;
  if (!positive(groups) || s[3] % groups !== 0)
    throw new ReconstructError(`${where}: groups must be a positive integer dividing the ${s[3]} output channels, got ${groups}`);
  return { count: groups, rows: taps * s[2], cols: s[3] / groups, stride: s[3], channelAxis: 3, channels: s[3] };
}

/** W_b (rows x cols, float64) out of the kernel's flat data. */
export function readBlock(data: ArrayLike<number>, blocks: KernelBlocks, b: number): Float64Array {
  const { rows, cols, stride } = blocks;
  const w = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w[r * cols + c] = data[r * stride + b * cols + c];
  return w;
}

/** Write W_b back into the kernel's flat data. */
export function writeBlock(data: { [i: number]: number }, blocks: KernelBlocks, b: number, w: ArrayLike<number>): void {
  const { rows, cols, stride } = blocks;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * stride + b * cols + c] = w[r * cols + c];
}

/** The LayerSpec of a dense, conv2d or depthwiseConv2d node of an IR graph. */
export function layerSpec(graph: Graph, nodeName: string): LayerSpec {
  const node = getNode(graph, nodeName);
  if (!LAYER_OPS.includes(node.op as LayerOp))
    throw new ReconstructError(`layer '${nodeName}': op '${node.op}' has no kernel to reconstruct (${LAYER_OPS.join(', ')})`);
  const kernel = nodeParam(graph, node, 'kernel');
  if (!kernel) throw new ReconstructError(`layer '${nodeName}': has no 'kernel' param`);
  const spec: LayerSpec = { name: node.name, op: node.op as LayerOp, kernelShape: [...kernel.shape] };
  if (node.op !== 'dense') {
    spec.strides = strides2(node.attrs);
    spec.dilation = dilation2(node.attrs);
    spec.padding = (node.attrs.padding as Padding | undefined) ?? 'valid';
  }
  return spec;
}
