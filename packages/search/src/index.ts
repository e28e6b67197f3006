export * from './trial.js';
export { hostRunner, inProcessRunner, loadExecutors, executeLocally, moduleSpecifier, type TrialHost, type InProcessOptions, type LocalResult } from './host.js';
export { workerPool, poolHost, threadExecArgv, type PoolOptions } from './pool.js';
export { queueRunner, startQueueWorker, type QueueOptions, type QueueRunnerOptions, type QueueRunner, type QueueWorkerOptions, type QueueWorker } from './queue.js';
export { parseQueueUrl, connectRedis, type QueueAddress } from './redis.js';
export { blobFetcher, directoryBlobs, redisBlobs, tempBlobs, sha256, blobKey, defaultCacheDir, type BlobRef, type BlobStore, type BlobFetcher, type FetcherOptions } from './blobs.js';
export { encodeSplit, decodeSplit, sliceOf } from './split.js';
export { recipeExecutor, storeAssets, recipeTrial, RECIPE_TRIAL, DEFAULT_EXECUTORS, type RecipeTrialInput, type RecipeTrialOutput, type TrialEnvironment, type TrialAssets } from './recipe-trial.js';
export type { DefaultExecutorsInit } from './executors.js';
