export * from './trial.js';
export {
  hostRunner,
  inProcessRunner,
  loadExecutors,
  executeLocally,
  moduleSpecifier,
  type TrialHost,
  type InProcessOptions,
  type LocalResult,
} from './host.js';
export { workerPool, poolHost, threadExecArgv, type PoolOptions } from './pool.js';
export {
  queueRunner,
  startQueueWorker,
  type QueueOptions,
  type QueueRunnerOptions,
  type QueueRunner,
  type QueueWorkerOptions,
  type QueueWorker,
} from './queue.js';
export { parseQueueUrl, connectRedis, type QueueAddress } from './redis.js';
export {
  blobFetcher,
  directoryBlobs,
  redisBlobs,
  tempBlobs,
  sha256,
  blobKey,
  defaultCacheDir,
  type BlobRef,
  type BlobStore,
  type BlobFetcher,
  type FetcherOptions,
} from './blobs.js';
export { encodeSplit, decodeSplit, sliceOf } from './split.js';
export {
  recipeExecutor,
  storeAssets,
  recipeTrial,
  probeEncodings,
  pluginRegistry,
  RECIPE_TRIAL,
  DEFAULT_EXECUTORS,
  type EncodingProbe,
  type RecipeTrialInput,
  type RecipeTrialOutput,
  type TrialEnvironment,
  type TrialAssets,
} from './recipe-trial.js';
export type { DefaultExecutorsInit } from './executors.js';
export { parseTarget, targetLimit, parseMaxDrop, type Target, type TargetMetric } from './target.js';
export { allocate, maxSaving, type Choice, type Unit, type Allocation } from './allocate.js';
export {
  METHODS,
  DEFAULT_LEVELS,
  DEFAULT_OPS,
  FLOAT_BITS,
  defaultMethods,
  kernelUnits,
  groupUnits,
  configStages,
  configRecipe,
  emptyConfig,
  type Method,
  type Levels,
  type Config,
  type SpaceSelection,
  type KernelUnit,
  type GroupUnit,
} from './space.js';
export {
  searchBudget,
  ladder,
  correctionMoves,
  type Move,
  type BudgetOptions,
  type BudgetInput,
  type BudgetResult,
  type SearchEvent,
  type SearchPhase,
  type Curve,
  type CurvePoint,
  type Measured,
} from './budget.js';
export { budget } from './plugin.js';

import type { Registry } from '@condense/core';
import { budget } from './plugin.js';

export const plugins = [budget];

/** Register `search.budget`. */
export function register(registry: Registry): void {
  registry.register(budget);
}
