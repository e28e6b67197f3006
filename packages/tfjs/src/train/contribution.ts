import type * as tf from '@tensorflow/tfjs-core';
import type { Graph } from '@condense/ir';
import type { CompiledModel } from '../exec/index.js';

/** What a plugin adds to fine-tuning: loss terms, gradient rewrites, after-step projections. */
export interface TrainingContribution {
  name: string;
  /** Node outputs this contribution reads in `loss` (taps). */
  taps?: string[];
  /** Extra loss term (a scalar), computed inside the gradient tape. */
  loss?(ctx: LossContext): tf.Scalar;
  /**
   * Factor on the task loss while this contribution is active (default 1). The trainer
   * multiplies the factors of all contributions: knowledge distillation sets 1 - alpha so that
   * total = alpha * T^2 * soft + (1 - alpha) * hard.
   */
  taskLossWeight?: number;
  /** Rewrite gradients before the optimizer step (keys: param names). */
  transformGradients?(grads: Map<string, tf.Tensor>, ctx: StepContext): Map<string, tf.Tensor>;
  /** After each optimizer step: proximal updates, projections, mask schedules. May change variables. */
  afterStep?(ctx: StepContext): void;
  /** Extra trainable variables the contribution owns (e.g. a hint adapter), keyed by a unique name. */
  variables?(): Map<string, tf.Variable>;
  begin?(ctx: StepContext): void;
  end?(ctx: StepContext): void;
}

export interface LossContext {
  /** The first input of the batch (`inputs[0]`). */
  x: tf.Tensor;
  /** Every input, in the model's input order. */
  inputs: tf.Tensor[];
  /** The first output's targets (class indices for a classifier); undefined when the data has none. */
  y?: tf.Tensor;
  /** Every output's targets, in output order; undefined when the data has none. */
  targets?: tf.Tensor[];
  /** The first output (`outputs[0]`). */
  output: tf.Tensor;
  outputs: tf.Tensor[];
  /** The first output's pre-softmax value, when it ends in a softmax. */
  logits?: tf.Tensor;
  /** Per output: its pre-softmax value when it ends in a softmax. */
  outputLogits: (tf.Tensor | undefined)[];
  taps: Record<string, tf.Tensor>;
  variables: Map<string, tf.Variable>;
  /** Position of each example in the data (before shuffling), for caching teacher outputs. */
  batchIndices: Int32Array;
  step: number;
}

export interface StepContext {
  step: number;
  epoch: number;
  stepsPerEpoch: number;
  totalSteps: number;
  learningRate: number;
  variables: Map<string, tf.Variable>;
  graph: Graph;
  model: CompiledModel;
}
