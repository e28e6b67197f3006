import type { Graph } from '@condense/ir';
import type { FinetuneOptions, Split } from './context.js';

/**
 * What a plugin adds to fine-tuning: loss terms, gradient rewrites, after-step projections. Core
 * only carries contributions from the stage that made them to the training that consumes them;
 * their shape beyond a name belongs to the runtime that trains (for `@condense/tfjs`, its
 * `TrainingContribution`), which checks what it is given.
 */
export interface TrainingContribution {
  readonly name: string;
}

/** Progress after each epoch of a fine-tune. */
export interface EpochProgress {
  /** 1-based. */
  epoch: number;
  epochs: number;
  loss: number;
  accuracy?: number;
  samplesPerSec?: number;
}

/** One fine-tune: the options of the `finetune` stage, plus what the pipeline adds. */
export interface TrainRequest extends FinetuneOptions {
  contributions: readonly TrainingContribution[];
  seed: number;
  /** Stop early; the runtime returns what it reached and the pipeline stops before the next stage. */
  signal?: AbortSignal;
  onEpoch?: (progress: EpochProgress) => void;
}

export interface TrainResult {
  /** Epochs run (a partial epoch after an abort counts). */
  epochs: number;
  finalLoss: number;
  trainAccuracy: number;
}

export interface EvaluateResult {
  /** Top-1 accuracy, a fraction in [0, 1]. */
  accuracy: number;
  /** Mean cross-entropy. */
  loss: number;
}

/** How to time inference: `runs` timed passes over one batch of `batch` examples, after `warmup` untimed ones. */
export interface LatencyRequest {
  batch: number;
  runs: number;
  warmup?: number;
}

export interface LatencyResult {
  /** Median wall time of one pass over the batch, output read back included. */
  msPerBatch: number;
  /** Every timed pass, in order. */
  samples: number[];
  batch: number;
  /** The backend it ran on, e.g. `wasm (SIMD, 2 threads)`. */
  backend: string;
}

/**
 * Executes IR graphs for the pipeline, so core needs no ML framework: `@condense/tfjs` provides
 * `tfjsRuntime()`; the CLI, the benchmarks and user code pass one as `runtime` in the pipeline
 * context. Keyed on the IR: `train` updates the graph's params in place, honouring their
 * compression state (masks, codebooks, quantization, frozen), and leaves that state on them.
 */
export interface Runtime {
  /** Short name for messages and reports, e.g. `tfjs`. */
  readonly name: string;
  train(graph: Graph, data: Split, request: TrainRequest): Promise<TrainResult>;
  evaluate(graph: Graph, data: Split): Promise<EvaluateResult>;
  /** Inference time of the graph on the backend at hand (optional: latency targets need it). */
  latency?(graph: Graph, request: LatencyRequest): Promise<LatencyResult>;
}

/** Runtime work a stage does, declared in its contract (`contract.runtime`). */
export type RuntimeTask = 'train' | 'evaluate';

/** How to pass a runtime, for the errors that find none. */
export const RUNTIME_HINT = "pass one as 'runtime' in the pipeline context, e.g. run(graph, { runtime: tfjsRuntime() }) with tfjsRuntime from @condense/tfjs";
