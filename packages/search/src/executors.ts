/**
 * The executors a condense worker loads by default (`@condense/search/executors`): recipe trials
 * on the TF.js runtime, with every condense plugin package installed next to the worker (or
 * under `init.plugins`). Each pool thread and each queue worker imports this module once.
 */
import { selectBackend, tfjsRuntime, THREADS_ENV, type BackendChoice } from '@condense/tfjs';
import { Redis } from 'ioredis';
import { blobFetcher } from './blobs.js';
import { pluginRegistry, RECIPE_TRIAL, recipeExecutor } from './recipe-trial.js';
export { DEFAULT_EXECUTORS } from './recipe-trial.js';
import type { Executors } from './trial.js';

export interface DefaultExecutorsInit {
  /** TF.js backend (default: the best available, or CONDENSE_BACKEND). */
  backend?: BackendChoice;
  /** XNNPACK threads on WASM (pools give 1: one thread per core already fills the machine). */
  wasmThreads?: number;
  /** Where verified copies of fetched blobs are kept. */
  cacheDir?: string;
  /** The Redis URL `redis:` blobs are read from (a queue worker's --queue). */
  redis?: string;
  /** Plugin modules or package folders recipes name, besides the packages installed with condense. */
  plugins?: string[];
}

export async function createExecutors(raw: unknown): Promise<Executors> {
  const init = (raw ?? {}) as DefaultExecutorsInit;
  if (init.wasmThreads) process.env[THREADS_ENV] = String(init.wasmThreads);
  await selectBackend(init.backend);
  const registry = await pluginRegistry(init.plugins);
  let redis: Redis | undefined;
  const connect = () => {
    if (!redis) {
      redis = new Redis(init.redis as string, { maxRetriesPerRequest: 3 });
      redis.on('error', () => {}); // reconnects are ioredis's job; a read that fails names the blob
    }
    return redis;
  };
  const fetch = blobFetcher({ cacheDir: init.cacheDir, ...(init.redis ? { redis: connect } : {}) });
  return { [RECIPE_TRIAL]: recipeExecutor({ registry, runtime: tfjsRuntime(), fetch }) };
}
