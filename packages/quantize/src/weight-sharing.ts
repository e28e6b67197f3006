import { resolveLayerMap } from '@condense/core';
import { setCodebook, storageRounding, type Graph, type Param } from '@condense/ir';
import { QuantizeError } from './errors.js';
import { checkBits, errorStats } from './metrics.js';
import { kmeans1d, type KmeansInit } from './kmeans.js';
import { candidates, includeOf, selectParams, type ParamKind, type ParamUse, type Select } from './select.js';

export interface ShareWeightsOptions {
  /** Index width: the codebook holds at most 2^bits centroids. An integer in 1..16. */
  bits: number;
  /** Centroid initialisation (default 'linear', the paper's best). */
  init?: KmeansInit;
  /** Maximum k-means iterations (default 300). */
  iterations?: number;
  /** Seed for 'kmeans++' (default 1). */
  seed?: number;
}

export interface ShareReport {
  param: string;
  /** The node using the param (graph-level calls only). */
  layer?: string;
  op?: string;
  bits: number;
  /** 2^bits: the centroids the index width allows. */
  k: number;
  /** Centroids in the codebook: k, or fewer when the kept weights have fewer distinct values. */
  centroids: number;
  /** Centroids that at least one kept weight uses. */
  clustersUsed: number;
  /** Kept (unmasked) weights that were clustered. */
  weights: number;
  mse: number;
  maxAbsError: number;
  iterations: number;
  converged: boolean;
}

/** Bits per op type from Deep Compression (AlexNet/VGG: 8 for conv, 5 for fully connected). LeNet-300-100 used 6 everywhere. */
export const DEEP_COMPRESSION_BITS: Readonly<Record<string, number>> = { conv2d: 8, depthwiseConv2d: 8, dense: 5 };

/**
 * Weight sharing (Deep Compression 3.1): k-means over the param's kept weights, then
 * `setCodebook`, so data[i] = centroids[indices[i]]. Pruned weights (mask 0) take no part in the
 * clustering and are never given a centroid: they keep index 0 and data 0. The centroids are
 * rounded to what the param is stored as (`storageRounding`: float16 when marked, else the input
 * file's uint8/uint16 grid or float16), centroids that then coincide merged, so the shared values
 * still write back at the input's size, exactly. Replaces a previous codebook.
 */
export function shareWeights(p: Param, options: ShareWeightsOptions): ShareReport {
  const bits = checkBits(options.bits, `shareWeights: param '${p.name}': 'bits'`);
  if (p.quant)
    throw new QuantizeError(`shareWeights: param '${p.name}' is affine-quantized; weight sharing would break its quantization grid (delete param.quant first)`);
  const k = 2 ** bits;
  const kept = keptPositions(p);
  const values = new Float32Array(kept.length);
  for (let j = 0; j < kept.length; j++) values[j] = p.data[kept[j]];
  const indices = new Uint16Array(p.data.length);
  let centroids: Float32Array = Float32Array.of(0);
  let iterations = 0;
  let converged = true;
  if (kept.length > 0) {
    const result = kmeans1d(values, { k, init: options.init, iterations: options.iterations, seed: options.seed });
    const storable = storableCentroids(p, result.centroids);
    for (let j = 0; j < kept.length; j++) indices[kept[j]] = storable.index[result.indices[j]];
    centroids = storable.centroids;
    ({ iterations, converged } = result);
  }
  const before = p.data.slice();
  setCodebook(p, { centroids, indices, bits });
  const used = new Set<number>();
  for (const i of kept) used.add(indices[i]);
  const err = errorStats(before, p.data, p.mask);
  return {
    param: p.name,
    bits,
    k,
    centroids: centroids.length,
    clustersUsed: used.size,
    weights: kept.length,
    mse: err.mse,
    maxAbsError: err.maxAbsError,
    iterations,
    converged,
  };
}

/** Sorted centroids rounded to the param's storage, equal ones merged; `index` maps old positions to new. */
function storableCentroids(p: Param, sorted: Float32Array): { centroids: Float32Array; index: Uint16Array } {
  const round = storageRounding(p);
  if (!round) return { centroids: sorted, index: Uint16Array.from(sorted, (_, j) => j) };
  const out: number[] = [];
  const index = new Uint16Array(sorted.length);
  sorted.forEach((c, j) => {
    const r = round(c);
    if (out.length === 0 || out[out.length - 1] !== r) out.push(r);
    index[j] = out.length - 1;
  });
  return { centroids: Float32Array.from(out), index };
}

function keptPositions(p: Param): Uint32Array {
  const { mask } = p;
  if (!mask) return Uint32Array.from({ length: p.data.length }, (_, i) => i);
  const out: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) out.push(i);
  return Uint32Array.from(out);
}

export interface ShareGraphOptions extends Omit<ShareWeightsOptions, 'bits'> {
  /**
   * Bits for every selected param, or per layer: keys are patterns with @condense/core's
   * selector rule (the most specific key wins: an exact layer or param name, then a glob over
   * names, then an op type; the later of equally specific keys). With a record, params no key
   * covers are left alone.
   */
  bits: number | Readonly<Record<string, number>>;
  /** Restrict to these layers/params/op types (patterns) or a predicate; default all candidates. */
  include?: Select;
  /** @deprecated the old name of `include`. */
  layers?: Select;
  /** Patterns never quantized (wins over include). */
  exclude?: readonly string[];
  /** Param kinds that are candidates; default ['weight'] (dense and conv kernels). */
  kinds?: readonly ParamKind[];
}

/**
 * Weight sharing over a graph: each selected param is clustered with its own bits (see
 * `ShareGraphOptions.bits`), e.g. `{ conv2d: 8, dense: 5 }` as in the paper. A layer name or
 * glob that matches nothing is an error; an op-type key that is absent from this graph is not.
 */
export function shareGraphWeights(graph: Graph, options: ShareGraphOptions): ShareReport[] {
  const kinds = options.kinds ?? ['weight'];
  const caller = 'shareGraphWeights';
  const all = candidates(graph, kinds);
  const bitsOf = bitsPerParam(options.bits, all);
  const include = includeOf(options, caller);
  // Plan first, so that a bad option fails before any param is changed.
  const plan: [ParamUse, number][] = [];
  for (const use of selectParams(graph, { include, exclude: options.exclude, kinds, caller }, all)) {
    const bits = bitsOf(use);
    if (bits !== undefined) plan.push([use, bits]);
    else if (include !== undefined) {
      throw new QuantizeError(`${caller}: param '${use.param.name}' (layer '${use.node.name}') is selected by 'include' but no key of 'bits' covers it`);
    }
  }
  const { init, iterations, seed } = options;
  return plan.map(([use, bits]) => ({ ...shareWeights(use.param, { bits, init, iterations, seed }), layer: use.node.name, op: use.node.op }));
}

/** Validates the `bits` option and returns the bits of a param use (undefined: not covered). */
function bitsPerParam(bits: ShareGraphOptions['bits'], all: ParamUse[]): (use: ParamUse) => number | undefined {
  if (typeof bits === 'number') {
    const b = checkBits(bits, `shareGraphWeights: 'bits'`);
    return () => b;
  }
  if (bits === null || typeof bits !== 'object')
    throw new QuantizeError(`shareGraphWeights: 'bits' must be a number or a record of layer/op/glob -> bits, got ${JSON.stringify(bits)}`);
  for (const [key, b] of Object.entries(bits)) checkBits(b, `shareGraphWeights: 'bits.${key}'`);
  const resolved = resolveLayerMap(all, bits, 'shareGraphWeights', 'bits');
  return (use) => resolved.get(use);
}
