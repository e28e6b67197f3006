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
  /** Stored bytes of the param under its annotations (the cost model's estimate, before entropy coding); absent in reports written before it was recorded. */
  bytes?: number;
  encoding: Encoding;
  /** Histogram of the non-zero weights. */
  histogram: Histogram;
  centroids?: number[];
}

/**
 * One layer's reconstruction on the calibration set, as layer-wise stages record it in their
 * details (`details.reconstruction`, a list): the report shows it next to the layer's size.
 */
export interface LayerReconstruction {
  /** The layer (node) whose output was reconstructed. */
  layer: string;
  /** Relative output error ||X W - X W'||^2 / ||X W||^2 of the uncompensated change (round to nearest, the mask alone, the removal alone). */
  errorBefore: number;
  /** The same after compensation (GPTQ's error feedback, SparseGPT's update, ThiNet's least squares). */
  errorAfter: number;
  /** Bytes the layer's statistics held while it was compressed. */
  bytes?: number;
  /** Time spent on the layer (statistics and solve), ms. */
  ms?: number;
}

/** The reconstruction rows of one stage. */
export interface StageReconstruction {
  index: number;
  stage: string;
  layers: LayerReconstruction[];
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
  /** Per-layer reconstruction errors of the layer-wise stages, in stage order. */
  reconstruction?: StageReconstruction[];
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
      bytes: paramBytes(p).bytes,
      encoding: enc,
      histogram: histogram(p.data),
      ...(p.codebook ? { centroids: [...p.codebook.centroids] } : {}),
    };
  });
}

/** Everything report.json and report.html show, from a pipeline run. */
export function buildReport(result: PipelineResult, meta: { title?: string; backend?: string; recipe?: string; written?: WrittenModel } = {}): Report {
  const sensitivity = result.stages.flatMap((s) => (s.details?.sensitivity as SensitivityCurve[] | undefined) ?? []);
  const reconstruction = result.stages.flatMap((s): StageReconstruction[] => {
    const rows = reconstructionRows(s.details?.reconstruction);
    return rows.length ? [{ index: s.index, stage: s.name, layers: rows }] : [];
  });
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
    ...(reconstruction.length ? { reconstruction } : {}),
    ...(meta.written ? { written: meta.written } : {}),
  };
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The well-formed rows of a stage's `details.reconstruction` (third-party stages may write anything there). */
function reconstructionRows(v: unknown): LayerReconstruction[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((r): LayerReconstruction[] => {
    if (typeof r !== 'object' || r === null) return [];
    const { layer, errorBefore, errorAfter, bytes, ms } = r as Record<string, unknown>;
    if (typeof layer !== 'string' || !isNumber(errorBefore) || !isNumber(errorAfter)) return [];
    return [{ layer, errorBefore, errorAfter, ...(isNumber(bytes) ? { bytes } : {}), ...(isNumber(ms) ? { ms } : {}) }];
  });
}
