import { countNonzero, paramBytes, weightParams, type Encoding, type Graph } from '@condense/ir';
import type { PipelineResult } from '../pipeline.js';
import type { Snapshot } from '../snapshot.js';

export interface Histogram {
  /** bins + 1 edges. */
  edges: number[];
  counts: number[];
}

export interface LayerReport {
  node: string;
  op: string;
  param: string;
  shape: number[];
  params: number;
  nonzero: number;
  sparsity: number;
  /** Bits per stored value (32 float, 16 half, n for codebooks / affine / the input file's grid). */
  bits: number;
  encoding: Encoding;
  /** Histogram of the non-zero weights. */
  histogram: Histogram;
  centroids?: number[];
}

export interface SensitivityCurve {
  layer: string;
  points: { sparsity: number; accuracy: number }[];
}

/** How one weight was written to the output model file, and why (what @condense/tfjs's export reports). */
export interface WrittenWeight {
  param: string;
  weight: string;
  /** 'uint8' | 'uint16' | 'float16' | 'float32' (a TF.js manifest encoding). */
  dtype: string;
  bytes: number;
  /** How the input file stored it. */
  input: { dtype: string; bytes: number };
  /** Largest change storage made to a value (0: exact). */
  maxError: number;
  reason: string;
}

/** The model file written from the compressed graph (model.json + shards), weight by weight. */
export interface WrittenModel {
  /** e.g. 'model.json'. */
  file: string;
  /** Weight bytes written (the shards). */
  bytes: number;
  weights: WrittenWeight[];
  /** Weights written larger than their input stored them, and why. */
  notes: string[];
}

export interface Report {
  title: string;
  createdAt: string;
  model: string;
  backend?: string;
  recipe?: string;
  stages: Snapshot[];
  stageDetails: { index: number; name: string; options: unknown; details?: Record<string, unknown>; notes: string[] }[];
  /** Per-layer state of the input and the compressed model. */
  layers: { before: LayerReport[]; after: LayerReport[] };
  sensitivity?: SensitivityCurve[];
  /** The output model file's weights: encoding per weight and why. */
  written?: WrittenModel;
}

export function histogram(values: Float32Array, bins = 40): Histogram {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === 0) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return { edges: [0, 0], counts: [0] };
  if (lo === hi) hi = lo + 1e-6;
  const counts = new Array<number>(bins).fill(0);
  const width = (hi - lo) / bins;
  for (const v of values) if (v !== 0) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), counts };
}

export function layerReports(graph: Graph): LayerReport[] {
  return weightParams(graph).map(({ node, param: p }) => {
    const nonzero = countNonzero(p.data);
    const { encoding: enc, valueBits: bits } = paramBytes(p);
    return {
      node: node.name,
      op: node.op,
      param: p.name,
      shape: p.shape,
      params: p.data.length,
      nonzero,
      sparsity: 1 - nonzero / p.data.length,
      bits,
      encoding: enc,
      histogram: histogram(p.data),
      ...(p.codebook ? { centroids: [...p.codebook.centroids] } : {}),
    };
  });
}

/** Everything report.json and report.html show, from a pipeline run. */
export function buildReport(result: PipelineResult, meta: { title?: string; backend?: string; recipe?: string; written?: WrittenModel } = {}): Report {
  const sensitivity = result.stages.flatMap((s) => (s.details?.sensitivity as SensitivityCurve[] | undefined) ?? []);
  return {
    title: meta.title ?? `condense report: ${result.original.name}`,
    createdAt: new Date().toISOString(),
    model: result.original.name,
    backend: meta.backend,
    recipe: meta.recipe,
    stages: result.snapshots,
    stageDetails: result.stages,
    layers: { before: layerReports(result.original), after: layerReports(result.graph) },
    ...(sensitivity.length ? { sensitivity } : {}),
    ...(meta.written ? { written: meta.written } : {}),
  };
}
