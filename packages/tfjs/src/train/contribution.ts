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
   * Factor on the task cross-entropy while this contribution is active (default 1). The trainer
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
  x: tf.Tensor;
  y: tf.Tensor /* int labels */;
  output: tf.Tensor;
  logits?: tf.Tensor;
  taps: Record<string, tf.Tensor>;
  variables: Map<string, tf.Variable>;
  batchIndices: Int32Array /* dataset indices of the batch, for caching teacher outputs */;
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
