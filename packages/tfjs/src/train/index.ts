export { train, type TrainOptions, type TrainEvent, type TrainSummary, type EpochRecord } from './train.js';
export { evaluate, predict, type EvaluateOptions, type EvaluateResult } from './evaluate.js';
export type { TrainingContribution, LossContext, StepContext } from './contribution.js';
export { createOptimizer, type Optimizer, type OptimizerConfig } from './optimizer.js';
export { learningRateAt, type LearningRateSchedule, type ScheduleInfo } from './schedule.js';
export { crossEntropy, correctCount, topKCount } from './metrics.js';
export type { Augment, Dataset } from './data.js';
