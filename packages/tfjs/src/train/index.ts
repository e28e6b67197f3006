export { train, type TrainOptions, type TrainEvent, type TrainSummary, type EpochRecord } from './train.js';
export { evaluate, predict, predictData, preflight, type EvaluateOptions, type EvaluateResult, type Preflight } from './evaluate.js';
export type { TrainingContribution, LossContext, StepContext } from './contribution.js';
export { createOptimizer, type Optimizer, type OptimizerConfig } from './optimizer.js';
export { learningRateAt, type LearningRateSchedule, type ScheduleInfo } from './schedule.js';
export { crossEntropy, correctCount, topKCount, accuracyMetric, topKMetric, errorMetric, userMetric, type Metric, type MetricFn } from './metrics.js';
export { builtinLoss, userLoss, type Loss, type LossFn, type OutputValue } from './losses.js';
export { resolveTask, metricKeys, taskLoss, metricSums, checkTargets, type Task, type OutputTask } from './task.js';
export { asSource, toTensors, type Augment, type Dataset, type TrainData, type TensorBatch } from './data.js';
