import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempBlobs } from './blobs.js';
import {
  abortError,
  checkTrials,
  oneLine,
  OutcomeBook,
  type ExecutorModule,
  type Executors,
  type RunOptions,
  type Trial,
  type TrialContext,
  type TrialOutcome,
  type TrialRunner,
} from './trial.js';

/** Runs one trial at a time per slot: the in-process executors or a pool of worker threads. */
export interface TrialHost {
  readonly name: string;
  /** Trials it runs at once. */
  readonly capacity: number;
  /** One trial to its outcome (failed when the executor threw or its worker was lost too often); rejects only when cancelled. */
  execute(trial: Trial, options: RunOptions): Promise<TrialOutcome>;
  close(): Promise<void>;
}

/** A batch over a host: at most `capacity` trials at once, outcomes in input order, each recorded once. Blobs go to a temporary directory. */
export function hostRunner(host: TrialHost): TrialRunner {
  const blobs = tempBlobs();
  return {
    name: host.name,
    blobs,
    async run<O>(trials: readonly Trial[], options: RunOptions = {}) {
      checkTrials(trials);
      const book = new OutcomeBook<O>(
        trials.map((t) => t.id),
        options.onEvent,
      );
      let next = 0;
      const lane = async () => {
        while (next < trials.length) {
          if (options.signal?.aborted) throw abortError(options.signal);
          const trial = trials[next++];
          book.record((await host.execute(trial, options)) as TrialOutcome<O>);
        }
      };
      await Promise.all(Array.from({ length: Math.min(host.capacity, trials.length) }, lane));
      return book.inOrder();
    },
    async close() {
      await host.close();
      await blobs.dispose();
    },
  };
}

/** A module specifier workers can import: paths become file URLs (resolved against the working directory), package names stay. */
export function moduleSpecifier(spec: string): string {
  if (spec.startsWith('file:') || spec.startsWith('data:')) return spec;
  if (isAbsolute(spec) || spec.startsWith('.')) return pathToFileURL(resolve(spec)).href;
  return spec;
}

/** Import each executor module and merge their executors; a kind two modules define is an error naming both. */
export async function loadExecutors(modules: readonly string[], init: unknown): Promise<Executors> {
  const merged: Executors = {};
  const from: Record<string, string> = {};
  for (const spec of modules) {
    let mod: Partial<ExecutorModule>;
    try {
      mod = (await import(moduleSpecifier(spec))) as Partial<ExecutorModule>;
    } catch (e) {
      throw new Error(`executor module '${spec}' could not be loaded: ${oneLine(e)}`);
    }
    if (typeof mod.createExecutors !== 'function') throw new Error(`executor module '${spec}' exports no createExecutors(init) function`);
    for (const [kind, fn] of Object.entries(await mod.createExecutors(init))) {
      if (from[kind]) throw new Error(`trial kind '${kind}' is defined by both '${from[kind]}' and '${spec}'`);
      if (typeof fn !== 'function') throw new Error(`executor module '${spec}': executor '${kind}' is not a function`);
      merged[kind] = fn;
      from[kind] = spec;
    }
  }
  return merged;
}

export type LocalResult = { ok: true; output: unknown; ms: number } | { ok: false; error: string; ms: number };

/** Run one trial with local executors; an unknown kind or a throw becomes a one-line error. The output must survive JSON. */
export async function executeLocally(executors: Executors, trial: Trial, ctx: TrialContext): Promise<LocalResult> {
  const started = performance.now();
  const fn = executors[trial.kind];
  if (!fn)
    return { ok: false, error: `no executor for trial kind '${trial.kind}' on ${ctx.worker} (it has: ${Object.keys(executors).join(', ') || 'none'})`, ms: 0 };
  try {
    const output = await fn(trial.input, ctx);
    return { ok: true, output: JSON.parse(JSON.stringify(output ?? null)) as unknown, ms: performance.now() - started };
  } catch (e) {
    return { ok: false, error: oneLine(e), ms: performance.now() - started };
  }
}

export interface InProcessOptions {
  /** Executors by kind; or give `modules` (and `init`) to load them as workers do. */
  executors?: Executors;
  modules?: readonly string[];
  init?: unknown;
  /** Trials at once (they share the thread, so only asynchronous work overlaps); default 1. */
  concurrency?: number;
}

/** Trials run on this thread: for tests, one core, or executors that are async anyway. */
export function inProcessRunner(options: InProcessOptions = {}): TrialRunner {
  let executors: Promise<Executors> | undefined;
  const get = () => (executors ??= options.executors ? Promise.resolve(options.executors) : loadExecutors(options.modules ?? [], options.init ?? null));
  const worker = 'in-process';
  return hostRunner({
    name: 'this thread',
    capacity: Math.max(1, options.concurrency ?? 1),
    async execute(trial, { signal, onEvent }) {
      const own = new AbortController();
      const onAbort = () => own.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        onEvent?.({ type: 'trialStarted', id: trial.id, worker, attempt: 1 });
        const r = await executeLocally(await get(), trial, { id: trial.id, attempt: 1, worker, signal: own.signal });
        if (signal?.aborted) throw abortError(signal);
        return r.ok
          ? { id: trial.id, status: 'done', output: r.output, attempts: 1, worker, ms: r.ms }
          : { id: trial.id, status: 'failed', error: r.error, attempts: 1, worker };
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    close: async () => {},
  });
}
