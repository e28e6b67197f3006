import type { Graph } from '@condense/ir';
import type { PipelineEvent } from './events.js';
import type { LayerPass, LayerPassOptions, ModelInputs } from './layerwise/pass.js';
import type { EvaluateResult, Runtime, TrainingContribution, TrainResult } from './runtime.js';

/** Labelled images, NHWC float32 in [0, 1] (the shape `@condense/datasets` produces). */
export interface Split {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  shape: readonly number[];
}

export interface PipelineData {
  train?: Split;
  test?: Split;
  /** A few examples per class for data-driven stages (ThiNet, calibration); defaults to a slice of train. */
  calibration?: Split;
}

export interface FinetuneOptions {
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  momentum: number;
  weightDecay: number;
  schedule: 'constant' | 'cosine';
  augment?: { shift?: number; flip?: boolean };
}

export interface PipelineContext {
  data?: PipelineData;
  /** Trains and evaluates for the stages that need it (e.g. `tfjsRuntime()` from @condense/tfjs). */
  runtime?: Runtime;
  /** The teacher for distillation; defaults to the model before the pipeline. */
  teacher?: Graph;
  seed?: number;
  signal?: AbortSignal;
  onEvent?: (event: PipelineEvent) => void;
  /** Measure test accuracy after every stage (default: when test data is given); needs a runtime. */
  evaluateEachStage?: boolean;
}

/** What a stage sees while it runs. */
export interface StageContext {
  stage: { index: number; name: string; total: number };
  data: PipelineData;
  /** The model as it was before the pipeline (never modified). */
  original: Graph;
  teacher: Graph;
  seed: number;
  signal?: AbortSignal;
  emit(event: PipelineEvent): void;
  log(message: string): void;
  /**
   * Fine-tune through the pipeline's runtime with every active training contribution (plus
   * `extra`); annotations are honoured. The epochs count towards the stage's (a stage that calls
   * this declares `runtime: ['train']` in its contract).
   */
  finetune(graph: Graph, options?: Partial<FinetuneOptions>, extra?: TrainingContribution[]): Promise<TrainResult>;
  /** Accuracy and loss on the test split (or `split`), through the pipeline's runtime (declare `runtime: ['evaluate']`). */
  evaluate(graph: Graph, split?: Split): Promise<EvaluateResult>;
  /** Labelled data or a clear error naming the stage. */
  requireData(kind: keyof PipelineData): Split;
  /**
   * A forward pass over `examples` taken a layer at a time, through the pipeline's runtime
   * (declare `runtime: ['forward']`): see `LayerPass`. Dispose it when done.
   */
  layerPass(graph: Graph, examples: ModelInputs, options?: LayerPassOptions): LayerPass;
}
