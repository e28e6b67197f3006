import type { Graph } from '@condense/ir';
import type { Batch } from './data/batches.js';
import type { DataInput, DataSource } from './data/source.js';
import type { TaskSpec } from './data/task.js';
import type { PipelineEvent } from './events.js';
import type { LayerPass, LayerPassOptions, ModelInputs } from './layerwise/pass.js';
import type { EvaluateRequest, EvaluateResult, LabelFreeSetting, Runtime, TrainingContribution, TrainResult } from './runtime.js';

/** Labelled images, NHWC float32 in [0, 1] (the shape `@condense/datasets` produces); one of the forms data may take. */
export interface Split {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  shape: readonly number[];
}

/** The data of a run, by use. Each entry is anything `dataSource` reads (arrays, a Split, a tf.data.Dataset, an iterable). */
export interface PipelineData<D = DataInput> {
  /** What fine-tunes train on; without targets, they recover label-free against the original model. */
  train?: D;
  /** For choices a stage makes on held-out data. */
  validation?: D;
  /** What each stage's snapshot is evaluated on (when it has targets). */
  test?: D;
  /** Examples for calibration-only stages (ThiNet, reconstruction); defaults to the training data. */
  calibration?: D;
}

export type DataKind = keyof PipelineData;

/** The pipeline's data as sources. */
export type PipelineSources = PipelineData<DataSource>;

export interface FinetuneOptions {
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  momentum: number;
  weightDecay: number;
  schedule: 'constant' | 'cosine';
  augment?: { shift?: number; flip?: boolean };
  /** Examples a streamed dataset's shuffle holds (memory stays bounded by it and the batch); default 1024. */
  shuffleBuffer?: number;
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
  /** Measure the test metrics after every stage (default: when test data with targets is given); needs a runtime. */
  evaluateEachStage?: boolean;
  /** Losses and metrics per output; default from the model (Keras training_config, else output activations). */
  task?: TaskSpec;
  /** Label-free recovery in fine-tunes: 'auto' (default) when the training data has no targets. */
  labelFree?: LabelFreeSetting;
  /** Examples per batch in every fine-tune, overriding the stages' own (e.g. the CLI's --batch-size). */
  batchSize?: number;
  /** Examples calibration-only stages read (`ctx.examples('calibration', ...)`); default all of a sized set, 1024 of a stream. */
  calibration?: number;
  /**
   * Examples on which every snapshot records its output agreement with the original model
   * (from test, else validation, calibration or train data); default 1000, 0 or false: none.
   */
  agreement?: number | false;
}

/** What a stage sees while it runs. */
export interface StageContext {
  stage: { index: number; name: string; total: number };
  data: PipelineSources;
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
   * this declares `runtime: ['train']` in its contract). Without targets in the data it recovers
   * label-free against the original model.
   */
  finetune(graph: Graph, options?: Partial<FinetuneOptions>, extra?: TrainingContribution[]): Promise<TrainResult>;
  /** Metrics on the test data (or `data`), through the pipeline's runtime (declare `runtime: ['evaluate']`). */
  evaluate(graph: Graph, data?: DataInput, request?: EvaluateRequest): Promise<EvaluateResult>;
  /** The data of `kind` (calibration falls back to train), or a clear error naming the stage. */
  requireData(kind: DataKind): DataSource;
  /**
   * The first `limit` examples of `kind` in memory, checked against `graph`'s inputs (calibration
   * falls back to train and defaults to the pipeline's `calibration` count).
   */
  examples(kind: DataKind, graph: Graph, limit?: number): Promise<Batch>;
  /**
   * A forward pass over `examples` taken a layer at a time, through the pipeline's runtime
   * (declare `runtime: ['forward']`): see `LayerPass`. Dispose it when done.
   */
  layerPass(graph: Graph, examples: ModelInputs, options?: LayerPassOptions): LayerPass;
}
