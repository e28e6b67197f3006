import { cost, type Graph } from '@condense/ir';
import type { Agreement } from './data/agreement.js';

/** The measurable state of the model after a stage. */
export interface Snapshot {
  index: number;
  stage: string;
  params: number;
  nonzero: number;
  /** Stored bytes under the params' annotations (before entropy coding; the codec stage reports real file bytes). */
  bytes: number;
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
    bytes: totals.bytes,
    float32Bytes: totals.float32Bytes,
    macs: totals.macs,
    effectiveMacs: totals.effectiveMacs,
    epochs,
    wallMs,
  };
}
