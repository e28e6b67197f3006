import type { BlobStore } from './blobs.js';

/**
 * Trials: independent, serialisable units of work (run a recipe on a model and measure; one
 * sensitivity point) whose results are small JSON records. A `TrialRunner` runs a batch of them
 * in-process, on a pool of worker threads or on BullMQ workers over Redis; all three return one
 * outcome per trial, in the order given, each recorded once.
 */

/** JSON data: what a trial's input and output may hold (they cross threads, processes and Redis). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** `input` must be plain JSON (it is sent as JSON); its type is the executor's. */
export interface Trial<I = unknown> {
  /** Unique within a batch: letters, digits, `_`, `.` and `-` (it becomes part of a BullMQ job id). */
  id: string;
  /** Which executor runs it (e.g. `recipe`). */
  kind: string;
  input: I;
}

export type TrialOutcome<O = unknown> =
  | { id: string; status: 'done'; output: O; attempts: number; worker: string; ms: number }
  | { id: string; status: 'failed'; error: string; attempts: number; worker?: string };

/** Progress of a batch; `done` counts finished trials of `total`. */
export type TrialEvent =
  | { type: 'trialStarted'; id: string; worker: string; attempt: number }
  | { type: 'trialFinished'; id: string; worker?: string; attempt: number; ok: boolean; ms?: number; error?: string; done: number; total: number }
  | { type: 'trialRetried'; id: string; attempt: number; reason: string };

export interface RunOptions {
  signal?: AbortSignal;
  onEvent?: (event: TrialEvent) => void;
}

export interface TrialRunner {
  /** Short description for messages, e.g. `2 worker threads`. */
  readonly name: string;
  /** Where to put the blobs (models, data) the trials reference, so that this runner's workers can read them. */
  readonly blobs: BlobStore;
  /** Run every trial; resolves with one outcome per trial in input order, rejects only when cancelled or the runner breaks. */
  run<O = unknown>(trials: readonly Trial[], options?: RunOptions): Promise<TrialOutcome<O>[]>;
  close(): Promise<void>;
}

/** What an executor sees while it runs one trial. */
export interface TrialContext {
  id: string;
  attempt: number;
  worker: string;
  signal: AbortSignal;
}

/**
 * Runs trials of one kind; its result must be plain JSON. Throwing fails the trial (no retry:
 * trials are deterministic); only a lost worker is retried.
 */
export type TrialExecutor = (input: unknown, ctx: TrialContext) => Promise<unknown>;

export type Executors = Record<string, TrialExecutor>;

/**
 * A module that workers load to get their executors (threads and worker processes cannot receive
 * functions): it exports `createExecutors(init)`, `init` being JSON the runner passes through.
 */
export interface ExecutorModule {
  createExecutors(init: unknown): Executors | Promise<Executors>;
}

const ID = /^[A-Za-z0-9_.-]{1,200}$/;

/** Trial ids must be unique and safe as job-id parts; errors name the trial. */
export function checkTrials(trials: readonly Trial<unknown>[]): void {
  const seen = new Set<string>();
  for (const [i, t] of trials.entries()) {
    if (typeof t?.id !== 'string' || !ID.test(t.id))
      throw new Error(`trial ${i + 1}: id must be 1-200 letters, digits, '_', '.' or '-', got ${JSON.stringify(t?.id)}`);
    if (/^\d+$/.test(t.id)) throw new Error(`trial '${t.id}': an id cannot be only digits`);
    if (seen.has(t.id)) throw new Error(`trial '${t.id}' appears twice in the batch`);
    if (typeof t.kind !== 'string' || t.kind === '') throw new Error(`trial '${t.id}': kind must be a non-empty string`);
    seen.add(t.id);
  }
}

/** The outputs of a batch, or an error naming the first trial that failed. */
export function trialOutputs<O>(outcomes: readonly TrialOutcome<O>[]): O[] {
  return outcomes.map((o) => {
    if (o.status === 'failed') throw new Error(`trial '${o.id}' failed: ${o.error}`);
    return o.output;
  });
}

/**
 * One outcome per trial id, the first recorded wins: whatever path reports a trial again (a
 * re-delivered event, a retry that raced a late completion) cannot record it twice.
 */
export class OutcomeBook<O> {
  private readonly byId = new Map<string, TrialOutcome<O>>();
  /** Reports ignored because the trial was already recorded. */
  duplicates = 0;
  constructor(
    private readonly ids: readonly string[],
    private readonly emit: (e: TrialEvent) => void = () => {},
  ) {}

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Record `outcome` unless its trial already has one; returns whether it was recorded. */
  record(outcome: TrialOutcome<O>): boolean {
    if (this.byId.has(outcome.id)) {
      this.duplicates++;
      return false;
    }
    this.byId.set(outcome.id, outcome);
    const ok = outcome.status === 'done';
    this.emit({
      type: 'trialFinished',
      id: outcome.id,
      worker: outcome.worker,
      attempt: outcome.attempts,
      ok,
      ...(ok ? { ms: outcome.ms } : { error: outcome.error }),
      done: this.byId.size,
      total: this.ids.length,
    });
    return true;
  }

  get complete(): boolean {
    return this.byId.size === this.ids.length;
  }

  /** Outcomes in the order of the batch. */
  inOrder(): TrialOutcome<O>[] {
    return this.ids.map((id) => this.byId.get(id) as TrialOutcome<O>);
  }
}

/** The message of an error as one line. */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
}

export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the trials were cancelled');
}
