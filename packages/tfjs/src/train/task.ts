import * as tf from '@tensorflow/tfjs-core';
import {
  forOutput,
  lossName,
  metricName,
  modelSpec,
  taskFromTrainingConfig,
  type ArrayTensor,
  type LossConfig,
  type LossSpec,
  type MetricSpec,
  type TaskSpec,
  type UserLoss,
  type UserMetric,
} from '@condense/core';
import type { Graph } from '@condense/ir';
import type { PredictResult } from '../exec/index.js';
import { builtinLoss, userLoss, type Loss, type LossFn, type OutputValue } from './losses.js';
import { accuracyMetric, errorMetric, topKMetric, userMetric, type Metric, type MetricFn } from './metrics.js';

/** The loss and metrics of one model output. */
export interface OutputTask {
  name: string;
  activation: string;
  /** Per-example shape of the output. */
  shape: number[];
  loss: Loss;
  /** Factor on this output's loss in the total. */
  weight: number;
  metrics: Metric[];
}

export interface Task {
  outputs: OutputTask[];
  /** Where the choice came from: 'given', 'training_config' or 'activations'. */
  source: 'given' | 'training_config' | 'activations';
}

const isUser = (v: unknown): v is UserLoss | UserMetric => typeof v === 'object' && v !== null && typeof (v as { fn?: unknown }).fn === 'function';
const isLossOne = (v: unknown) => typeof v === 'string' || isUser(v) || (typeof v === 'object' && v !== null && 'type' in v);

/** Whether targets look like class indices for this output: one axis fewer, integer values. */
function sparseTargets(y: ArrayTensor | undefined, output: number[]): boolean {
  if (!y || !(y.shape.length === output.length && output.length >= 1 && (output.at(-1) as number) > 1)) return false;
  return y.dtype !== 'float32' || y.values.every((v) => Number.isInteger(v));
}

/** The default loss of an output: class indices -> sparse CE; softmax -> categorical CE; sigmoid -> BCE; else MSE. */
function defaultLoss(activation: string, shape: number[], target?: ArrayTensor): LossConfig {
  if (sparseTargets(target, shape)) return { type: 'sparseCategoricalCrossentropy' };
  if (activation === 'softmax') return { type: target && target.shape.length === shape.length ? 'categoricalCrossentropy' : 'sparseCategoricalCrossentropy' };
  if (activation === 'sigmoid') return { type: 'binaryCrossentropy' };
  return { type: 'meanSquaredError' };
}

function toLoss(spec: LossSpec, activation: string, where: string): Loss {
  if (isUser(spec)) return userLoss(spec.name, spec.fn as unknown as LossFn);
  const config: LossConfig = typeof spec === 'string' ? { type: lossName(spec) as LossConfig['type'] } : { ...spec, type: lossName(spec.type) ?? spec.type };
  if (!config.type || !lossName(config.type))
    throw new Error(
      `${where}: unknown loss '${typeof spec === 'string' ? spec : (spec as LossConfig).type}' (sparseCategoricalCrossentropy, categoricalCrossentropy, binaryCrossentropy, meanSquaredError, meanAbsoluteError, huber, cosineSimilarity, or { name, fn })`,
    );
  return builtinLoss(config, activation);
}

const CLASSIFICATION = new Set(['sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'binaryCrossentropy']);

function defaultMetrics(loss: Loss, classes: number, k = 5): MetricSpec[] {
  if (loss.name === 'binaryCrossentropy') return ['accuracy'];
  if (CLASSIFICATION.has(loss.name)) return classes > k ? ['accuracy', { type: 'topK', k }] : ['accuracy'];
  if (loss.name === 'meanAbsoluteError') return ['meanSquaredError'];
  return ['meanAbsoluteError'];
}

function toMetric(spec: MetricSpec, loss: Loss, shape: number[], where: string): Metric {
  if (isUser(spec)) return userMetric(spec.name, spec.fn as unknown as MetricFn);
  const type = metricName(typeof spec === 'string' ? spec : spec.type);
  const classes = shape.at(-1) as number;
  const onehot = loss.name === 'categoricalCrossentropy';
  switch (type) {
    case 'accuracy':
      if (loss.name === 'binaryCrossentropy') return accuracyMetric('binary', loss.fromLogits ? 0 : 0.5);
      if (!CLASSIFICATION.has(loss.name) && !(classes > 1))
        throw new Error(`${where}: accuracy needs a classification output, this one has the loss ${loss.name} and ${classes} unit(s)`);
      return accuracyMetric(onehot ? 'onehot' : 'sparse');
    case 'topK':
      return topKMetric(typeof spec === 'object' && 'k' in spec && spec.k !== undefined ? spec.k : 5, classes, onehot);
    case 'meanSquaredError':
      return errorMetric('mse');
    case 'meanAbsoluteError':
      return errorMetric('mae');
    default:
      throw new Error(
        `${where}: unknown metric '${typeof spec === 'string' ? spec : String((spec as { type: unknown }).type)}' (accuracy, topK, meanSquaredError, meanAbsoluteError, or { name, fn })`,
      );
  }
}

/**
 * The loss and metrics of every output: as `spec` says, else as the model's Keras
 * `training_config` says, else from the output activations (and, for the loss, the targets:
 * integer class indices take sparse cross-entropy). `targets` is a first batch, when there is one;
 * `topK` the k of the default top-k metric of classification outputs (5).
 */
export function resolveTask(graph: Graph, spec?: TaskSpec, targets?: ArrayTensor[], options: { topK?: number } = {}): Task {
  const io = modelSpec(graph);
  const names = io.outputs.map((o) => o.name);
  const keras = (graph.meta.keras as { trainingConfig?: unknown } | undefined)?.trainingConfig;
  const fromModel = spec ? undefined : taskFromTrainingConfig(keras, names);
  const chosen = spec ?? fromModel ?? {};
  const source = spec ? 'given' : fromModel ? 'training_config' : 'activations';
  const count = names.length;
  const outputs = io.outputs.map((o, i): OutputTask => {
    const where = `task: output '${o.name}'`;
    const shape = o.shape.map((d) => d ?? -1);
    const activation = o.activation ?? 'linear';
    const given = forOutput(chosen.loss, i, o.name, count, 'task.loss', isLossOne);
    const loss = toLoss(given ?? defaultLoss(activation, shape, targets?.[i]), activation, where);
    const weight =
      forOutput(chosen.lossWeights as number[] | Record<string, number> | undefined, i, o.name, count, 'task.lossWeights', (v) => typeof v === 'number') ?? 1;
    if (!(Number.isFinite(weight) && weight >= 0)) throw new Error(`${where}: loss weight must be a finite number >= 0, got ${weight}`);
    const metricSpecs = Array.isArray(chosen.metrics) ? chosen.metrics : chosen.metrics?.[o.name];
    const metrics = (metricSpecs ?? defaultMetrics(loss, shape.at(-1) as number, options.topK)).map((m) => toMetric(m, loss, shape, where));
    return { name: o.name, activation, shape, loss, weight, metrics };
  });
  return { outputs, source };
}

/** Metric keys of a task: the metric name, prefixed by the output name when the model has several. */
export function metricKeys(task: Task): string[] {
  const many = task.outputs.length > 1;
  return task.outputs.flatMap((o) => o.metrics.map((m) => (many ? `${o.name}/${m.name}` : m.name)));
}

/** What a loss sees of output `i` of a forward pass. */
export const outputValue = (r: PredictResult, i: number, t: OutputTask): OutputValue => ({
  output: r.outputs[i],
  logits: r.outputLogits[i],
  activation: t.activation,
});

/**
 * The task loss of a batch: sum over outputs of weight * loss, each the batch mean, or with
 * per-example weights sum(w_i l_i) / n (Keras's reduction).
 */
export function taskLoss(task: Task, r: PredictResult, ys: tf.Tensor[], weights?: tf.Tensor1D): tf.Scalar {
  const terms = task.outputs.map((t, i) => {
    const v = outputValue(r, i, t);
    const l = weights ? tf.div(tf.sum(tf.mul(t.loss.perExample(ys[i], v), weights)), weights.shape[0]) : t.loss.mean(ys[i], v);
    return t.weight === 1 ? l : tf.mul(l, t.weight);
  });
  return (terms.length === 1 ? terms[0] : tf.addN(terms)) as tf.Scalar;
}

/** Sums of every metric over a batch, in `metricKeys` order, stacked into one tensor. */
export function metricSums(task: Task, r: PredictResult, ys: tf.Tensor[]): tf.Tensor1D {
  const sums = task.outputs.flatMap((t, i) => t.metrics.map((m) => m.sum(ys[i], r.outputs[i])));
  return (sums.length ? tf.stack(sums) : tf.zeros([0])) as tf.Tensor1D;
}

/** Check a batch's targets against the task (shapes, label ranges); errors name the data and the example. */
export function checkTargets(task: Task, targets: ArrayTensor[], where: string, indices: Int32Array): void {
  task.outputs.forEach((t, i) => t.loss.check(targets[i], t.shape, task.outputs.length > 1 ? `${where}: output '${t.name}'` : where, indices));
}
