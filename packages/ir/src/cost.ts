import { countNonzero } from './annotations.js';
import { inferShapes, nodeParam } from './graph.js';
import { getOp } from './ops/registry.js';
import { bytesPerValue, fitsStored, isGrid, sourceBytes, storedEncoding } from './stored.js';
import type { Graph, Param, Shape } from './types.js';

/** 'grid': the input file's own uint8/uint16 grid (a TF.js manifest quantization), which the data still lies on. */
export type Encoding = 'float32' | 'float16' | 'affine' | 'codebook' | 'grid';

export interface ParamBytes {
  encoding: Encoding;
  /** Bits per stored value. */
  valueBits: number;
  /** Stored sparsely (relative positions) because that is smaller. */
  sparse: boolean;
  /** Relative-position width when sparse. */
  gapBits?: number;
  bytes: number;
}

export interface LayerCost {
  node: string;
  op: string;
  shape: Shape;
  params: number;
  nonzero: number;
  /** Multiply-accumulates per example, dense. */
  macs: number;
  /** MACs that touch a non-zero weight (what a sparse kernel would do). */
  effectiveMacs: number;
  bytes: number;
  /**
   * Bytes of the layer's params as the model came in: in the encodings their input file stored
   * them in (float32 where none), or under their annotations when they carry compression state.
   */
  sourceBytes: number;
}

export interface CostReport {
  layers: LayerCost[];
  totals: { params: number; nonzero: number; macs: number; effectiveMacs: number; bytes: number; sourceBytes: number; float32Bytes: number };
}

/**
 * Bits per value and side-table bytes of the param's current encoding: its annotation's, else the
 * encoding its input file stored it in while the data still fits that exactly, else float32.
 */
function valueEncoding(p: Param): { encoding: Encoding; valueBits: number; tableBytes: number } {
  if (p.codebook) return { encoding: 'codebook', valueBits: p.codebook.bits, tableBytes: p.codebook.centroids.length * 4 };
  if (p.quant) return { encoding: 'affine', valueBits: p.quant.bits, tableBytes: p.quant.scale.length * 8 };
  if (p.float16) return { encoding: 'float16', valueBits: 16, tableBytes: 0 };
  const stored = storedEncoding(p);
  if (stored.dtype !== 'float32' && fitsStored(p)) {
    // A grid's scale and min are two float64 numbers.
    return isGrid(stored) ? { encoding: 'grid', valueBits: bytesPerValue(stored) * 8, tableBytes: 16 } : { encoding: 'float16', valueBits: 16, tableBytes: 0 };
  }
  return { encoding: 'float32', valueBits: 32, tableBytes: 0 };
}

/** Relative-position widths the sparse form may use (Deep Compression used 8 for conv, 5 for fc; the smallest total wins). */
export const SPARSE_GAP_BITS = [3, 4, 5, 8] as const;

/**
 * Entries (kept values plus filler zeros) of a relative-position encoding with `gapBits`-bit gaps.
 * A gap is the distance from the previous kept position (the first from position -1), 1..2^gapBits
 * stored as gap - 1; a longer gap needs a filler zero every 2^gapBits positions.
 */
export function sparseEntries(keep: (i: number) => boolean, n: number, gapBits: number): number {
  const maxGap = 2 ** gapBits;
  let entries = 0;
  let last = -1;
  for (let i = 0; i < n; i++) {
    if (!keep(i)) continue;
    const gap = i - last;
    entries += Math.ceil(gap / maxGap);
    last = i;
  }
  return entries;
}

/**
 * Stored bytes of a param under its annotations, before entropy coding: dense values at the
 * encoding's width, or (when smaller) the Deep Compression sparse form: kept values plus
 * relative positions, with filler entries where a gap exceeds the position width.
 */
export function paramBytes(p: Param): ParamBytes {
  const { encoding, valueBits, tableBytes } = valueEncoding(p);
  const n = p.data.length;
  const dense: ParamBytes = { encoding, valueBits, sparse: false, bytes: Math.ceil((n * valueBits) / 8) + tableBytes };
  const keep = p.mask ? (i: number) => p.mask![i] !== 0 : (i: number) => p.data[i] !== 0;
  let kept = 0;
  for (let i = 0; i < n; i++) if (keep(i)) kept++;
  let best = dense;
  for (const gapBits of SPARSE_GAP_BITS) {
    // Every kept value is an entry: skip the count when even that cannot beat the best so far.
    if (Math.ceil((kept * (valueBits + gapBits)) / 8) + tableBytes >= best.bytes) continue;
    const entries = sparseEntries(keep, n, gapBits);
    const bytes = Math.ceil((entries * (valueBits + gapBits)) / 8) + tableBytes;
    if (bytes < best.bytes) best = { encoding, valueBits, sparse: true, gapBits, bytes };
  }
  return best;
}

function effectiveFraction(graph: Graph, node: Graph['nodes'][number]): number {
  const k = nodeParam(graph, node, 'kernel');
  return k ? countNonzero(k.data) / k.data.length : 1;
}

/** Per-layer and total cost: params, non-zeros, MACs (conv/dense only), stored bytes. */
export function cost(graph: Graph): CostReport {
  const shapes = inferShapes(graph);
  const counted = new Set<string>();
  const layers: LayerCost[] = [];
  for (const node of graph.nodes) {
    const def = getOp(node.op);
    const inputs = node.inputs.map((i) => shapes.get(i) as Shape);
    const shape = shapes.get(node.name) as Shape;
    const ctx = { node, inputs, param: (role: string) => nodeParam(graph, node, role) };
    const macs = def.macs?.(ctx, shape) ?? 0;
    let params = 0;
    let nonzero = 0;
    let bytes = 0;
    let source = 0;
    for (const name of Object.values(node.params)) {
      const p = graph.params.get(name);
      if (!p || counted.has(name)) continue;
      counted.add(name);
      params += p.data.length;
      nonzero += countNonzero(p.data);
      const b = paramBytes(p).bytes;
      bytes += b;
      source += p.mask || p.codebook || p.quant || p.float16 ? b : sourceBytes(p);
    }
    layers.push({
      node: node.name,
      op: node.op,
      shape,
      params,
      nonzero,
      macs,
      effectiveMacs: Math.round(macs * effectiveFraction(graph, node)),
      bytes,
      sourceBytes: source,
    });
  }
  const sum = (k: keyof LayerCost) => layers.reduce((a, l) => a + (l[k] as number), 0);
  return {
    layers,
    totals: {
      params: sum('params'),
      nonzero: sum('nonzero'),
      macs: sum('macs'),
      effectiveMacs: sum('effectiveMacs'),
      bytes: sum('bytes'),
      sourceBytes: sum('sourceBytes'),
      float32Bytes: sum('params') * 4,
    },
  };
}
