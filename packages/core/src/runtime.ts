import type { Graph } from '@condense/ir';
import type { FinetuneOptions } from './context.js';
import type { DataSource } from './data/source.js';
import type { TaskSpec } from './data/task.js';
import type { ArrayTensor } from './data/tensors.js';
import type { Forward } from './layerwise/forward.js';

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

/**
 * Recovery from inputs alone: the model before compression is the teacher and the loss matches
 * its outputs (softened KL for softmax outputs, binary cross-entropy against its probabilities for
 * sigmoid outputs, MSE for the others), plus optional feature hints.
 */
export interface LabelFreeOptions {
  /** Temperature of the KL on softmax outputs (times T^2); default 2. */
  temperature?: number;
  /** Feature hints: L2 between a teacher and a student node's output (a learned adapter when the channels differ). */
  hints?: { teacherTap: string; studentTap: string; weight?: number }[];
  /** Bytes the cache of teacher outputs may hold (examples beyond it are recomputed); default 256 MiB, 0 turns it off. */
  cacheBytes?: number;
}

/** 'auto' (default): label-free when the data has no targets; true / options: always; false: never (targets required). */
export type LabelFreeSetting = 'auto' | boolean | LabelFreeOptions;

/** One fine-tune: the options of the `finetune` stage, plus what the pipeline adds. */
export interface TrainRequest extends FinetuneOptions {
  contributions: readonly TrainingContribution[];
  seed: number;
  /** Losses and metrics per output; default from the model. */
  task?: TaskSpec;
  /** The model before compression: the teacher of label-free recovery. */
  teacher?: Graph;
  labelFree?: LabelFreeSetting;
  /** Stop early; the runtime returns what it reached and the pipeline stops before the next stage. */
  signal?: AbortSignal;
  onEpoch?: (progress: EpochProgress) => void;
}

export interface TrainResult {
  /** Epochs run (a partial epoch after an abort counts). */
  epochs: number;
  finalLoss: number;
  /** Training accuracy of the last epoch (first output); NaN when no output has an accuracy metric. */
  trainAccuracy: number;
  /** Whether the fine-tune recovered against the teacher's outputs (no targets). */
  labelFree?: boolean;
}

export interface EvaluateRequest {
  task?: TaskSpec;
  /** Evaluate the first N examples only. */
  limit?: number;
}

export interface EvaluateResult {
  /** Top-1 accuracy of the first output with an accuracy metric, a fraction in [0, 1]. */
  accuracy?: number;
  /** Mean task loss. */
  loss: number;
  /** Every metric by name (`accuracy`, `top5`, `mae`; `output/name` for a model with several outputs). */
  metrics: Record<string, number>;
  /** Examples evaluated. */
  count: number;
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
  train(graph: Graph, data: DataSource, request: TrainRequest): Promise<TrainResult>;
  evaluate(graph: Graph, data: DataSource, request?: EvaluateRequest): Promise<EvaluateResult>;
  /**
   * Check data against the model before any work (shapes, dtypes, names; targets against the
   * task, labels in range): every example of an in-memory set, the first batch of a stream.
   * Errors name the data and the example.
   */
  check?(graph: Graph, data: DataSource, request: { task?: TaskSpec; what: string }): Promise<void>;
  /** The model's outputs (in `graph.outputs` order) on the first `limit` examples, in data order. */
  predict(graph: Graph, data: DataSource, request?: { limit?: number }): Promise<ArrayTensor[]>;
  /** Inference time of the graph on the backend at hand (optional: latency targets need it). */
  latency?(graph: Graph, request: LatencyRequest): Promise<LatencyResult>;
  /**
   * Compute `request.nodes` in inference mode from `request.feeds` (one batch) and return
   * `request.outputs`, on the params as they are now. Optional: layer-wise stages (calibration
   * statistics, ThiNet, BN re-estimation) need it, through `LayerPass`.
   */
  forward?: Forward;
}

/** Runtime work a stage does, declared in its contract (`contract.runtime`); 'forward' runs the model layer by layer. */
export type RuntimeTask = 'train' | 'evaluate' | 'forward';

/** How to pass a runtime, for the errors that find none. */
export const RUNTIME_HINT = "pass one as 'runtime' in the pipeline context, e.g. run(graph, { runtime: tfjsRuntime() }) with tfjsRuntime from @condense/tfjs";
