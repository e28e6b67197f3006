import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { hostRunner, moduleSpecifier, type TrialHost } from './host.js';
import { abortError, type RunOptions, type Trial, type TrialOutcome, type TrialRunner } from './trial.js';

/** Messages between the pool and its threads. */
export type ToThread = { type: 'run'; trial: Trial; attempt: number } | { type: 'cancel'; id: string };
export type FromThread =
  | { type: 'ready' }
  | { type: 'initError'; error: string }
  | { type: 'result'; id: string; ok: true; output: unknown; ms: number }
  | { type: 'result'; id: string; ok: false; error: string; ms: number };

/** What a thread is given to start: its executor modules and their init, its name. */
export interface ThreadData {
  modules: string[];
  init: unknown;
  name: string;
}

export interface PoolOptions {
  /** Threads; default one per core (`os.availableParallelism()`). */
  workers?: number;
  /** Executor modules each thread imports (package names, file URLs or paths). */
  modules: readonly string[];
  /** JSON passed to every module's `createExecutors`. */
  init?: unknown;
  /** Runs of a trial whose thread died before it gives up; default 3. */
  maxAttempts?: number;
  /** Names the threads in events: `<name>/thread-<i>`; default `pool`. */
  name?: string;
}

/** The thread entry, next to this module once built; from the TypeScript sources (tests), the built one. */
function threadEntry(): URL {
  const here = new URL(import.meta.url);
  return new URL(here.pathname.endsWith('.ts') ? '../dist/thread.js' : './thread.js', here);
}

/**
 * The parent's Node flags minus `--conditions source`: condense packages export their TypeScript
 * under that condition (vitest runs with it), and threads run the built JavaScript.
 */
export function threadExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '--conditions' || argv[i] === '-C') && argv[i + 1] === 'source') i++;
    else if (argv[i] !== '--conditions=source') out.push(argv[i]);
  }
  return out;
}

interface Running {
  trial: Trial;
  attempt: number;
  settle: (r: Extract<FromThread, { type: 'result' }> | { type: 'lost'; reason: string }) => void;
}

/** One thread of the pool; replaced when it dies. */
class Slot {
  worker?: Worker;
  ready?: Promise<void>;
  running?: Running;
  /** Taken by a trial (from acquire to release, thread start included). */
  busy = false;
  constructor(
    readonly name: string,
    private readonly data: ThreadData,
    private readonly onBroken: (error: Error) => void,
  ) {}

  /** Start the thread if it is not running; resolves when its executors are loaded. */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(threadEntry(), { workerData: { ...this.data, name: this.name } satisfies ThreadData, execArgv: threadExecArgv() });
    this.worker = worker;
    worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromThread) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'initError') {
          const e = new Error(`${this.name}: ${m.error}`);
          reject(e);
          this.onBroken(e);
        } else if (m.type === 'result' && this.running?.trial.id === m.id) this.running.settle(m);
      });
      const lost = (reason: string) => {
        if (this.worker !== worker) return;
        this.worker = undefined;
        this.ready = undefined;
        reject(new Error(`${this.name} ${reason} while loading its executors`));
        this.running?.settle({ type: 'lost', reason });
      };
      worker.on('error', (e) => lost(`failed: ${e.message}`));
      worker.on('exit', (code) => lost(`exited with code ${code}`));
    });
    // A thread that dies while loading rejects `ready`; the caller sees it there.
    this.ready.catch(() => {});
    return this.ready;
  }

  /** Stop the thread now (cancellation, close); the next trial starts a fresh one. */
  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    this.running?.settle({ type: 'lost', reason: 'stopped' });
    await w?.terminate();
  }
}

/**
 * Trials on worker threads, one per core by default. A thread that dies mid-trial (a crash, an
 * exit, out of memory) is replaced and the trial runs again, up to `maxAttempts` runs; a trial
 * whose executor throws fails at once. Cancelling stops the threads that run the batch's trials.
 */
export function workerPool(options: PoolOptions): TrialRunner {
  return hostRunner(poolHost(options));
}

/** The pool as a `TrialHost` (what a queue worker runs its trials on). */
export function poolHost(options: PoolOptions): TrialHost {
  const count = Math.max(1, options.workers ?? availableParallelism());
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const name = options.name ?? 'pool';
  let broken: Error | undefined;
  const data: ThreadData = { modules: options.modules.map(moduleSpecifier), init: options.init ?? null, name };
  const slots = Array.from({ length: count }, (_, i) => new Slot(`${name}/thread-${i + 1}`, data, (e) => (broken ??= e)));
  const waiting: ((slot: Slot) => void)[] = [];

  const acquire = (): Promise<Slot> => {
    const free = slots.find((s) => !s.busy);
    if (free) free.busy = true;
    return free ? Promise.resolve(free) : new Promise((resolve) => waiting.push(resolve));
  };
  /** Hand the slot to the next waiting trial, or mark it free. */
  const release = (slot: Slot) => {
    slot.running = undefined;
    const next = waiting.shift();
    if (next) next(slot);
    else slot.busy = false;
  };

  /** One run of `trial` on `slot`: the thread's result, or why the thread was lost. */
  const attemptOn = async (slot: Slot, trial: Trial, attempt: number, signal?: AbortSignal) => {
    await slot.start();
    return new Promise<Extract<FromThread, { type: 'result' }> | { type: 'lost'; reason: string }>((resolve) => {
      let settled = false;
      const onAbort = () => void slot.stop();
      slot.running = {
        trial,
        attempt,
        settle: (r) => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          slot.worker?.unref();
          resolve(r);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) return onAbort();
      // An idle thread does not keep the process alive; one running a trial does.
      slot.worker?.ref();
      slot.worker?.postMessage({ type: 'run', trial, attempt } satisfies ToThread);
    });
  };

  return {
    name: `${count} worker thread${count === 1 ? '' : 's'}`,
    capacity: count,
    async execute(trial: Trial, { signal, onEvent }: RunOptions): Promise<TrialOutcome> {
      let lastLoss = '';
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        if (broken) throw broken;
        if (signal?.aborted) throw abortError(signal);
        const slot = await acquire();
        try {
          onEvent?.({ type: 'trialStarted', id: trial.id, worker: slot.name, attempt });
          const r = await attemptOn(slot, trial, attempt, signal);
          if (signal?.aborted) throw abortError(signal);
          if (r.type === 'result') {
            return r.ok
              ? { id: trial.id, status: 'done', output: r.output, attempts: attempt, worker: slot.name, ms: r.ms }
              : { id: trial.id, status: 'failed', error: r.error, attempts: attempt, worker: slot.name };
          }
          lastLoss = `${slot.name} ${r.reason}`;
          if (attempt < maxAttempts) onEvent?.({ type: 'trialRetried', id: trial.id, attempt: attempt + 1, reason: lastLoss });
        } catch (e) {
          if (broken) throw broken;
          throw e;
        } finally {
          release(slot);
        }
      }
      return { id: trial.id, status: 'failed', error: `lost its worker thread ${maxAttempts} times (last: ${lastLoss})`, attempts: maxAttempts };
    },
    async close() {
      await Promise.all(slots.map((s) => s.stop()));
    },
  };
}
