import { cost, type Graph } from '@condense/ir';
import type { Agreement } from './data/agreement.js';

/** The measurable state of the model after a stage. */
export interface Snapshot {
  index: number;
  stage: string;
  params: number;
  nonzero: number;
  /**
   * Stored bytes. The input (index 0): its weights as its file stores them (uint8, float16 or
   * float32; float32 for a model built in memory). After a stage: under the params' annotations
   * and stored encodings, before entropy coding (the codec stage reports its file's bytes).
   */
  bytes: number;
  /** The same params as float32, for the ratio against float32 (reported beside, never instead of, the ratio against the input). */
  float32Bytes: number;
  macs: number;
  effectiveMacs: number;
  /** Epochs the stage trained (its fine-tunes through the runtime); 0 for the input. */
  epochs: number;
  /** Test accuracy (first output with an accuracy metric), when test data with targets was given. */
  accuracy?: number;
  /** Mean test loss. */
  loss?: number;
  /** Every test metric by name (the task's choice; see EvaluateResult.metrics). */
  metrics?: Record<string, number>;
  /** Outputs against the original model's on the same inputs (no labels needed); absent without data or runtime. */
  agreement?: Agreement;
  wallMs: number;
  notes?: string[];
}

export function snapshot(graph: Graph, index: number, stage: string, wallMs: number, epochs = 0): Snapshot {
  const { totals } = cost(graph);
  return {
    index,
    stage,
    params: totals.params,
    nonzero: totals.nonzero,
    bytes: index === 0 ? totals.sourceBytes : totals.bytes,
    float32Bytes: totals.float32Bytes,
    macs: totals.macs,
    effectiveMacs: totals.effectiveMacs,
    epochs,
    wallMs,
  };
}
