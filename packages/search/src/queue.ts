/**
 * Trials on BullMQ over Redis. The coordinator (`queueRunner`) adds one job per trial, its id
 * `<runId>.<trialId>`, and collects each trial's outcome from Redis; workers
 * (`startQueueWorker`, `condense worker --queue ...`), on this machine or others, take jobs and
 * run them on a pool of threads.
 *
 * Semantics:
 * - A trial is recorded once. BullMQ completes a job once (a completion must hold the job's
 *   lock), and the coordinator keeps the first outcome it reads per trial id and ignores any
 *   later report. Adding a job whose id exists is a no-op, so re-running a batch with the same
 *   `runId` picks up the outcomes already in Redis instead of running them again.
 * - A worker that dies (or freezes) mid-trial stops renewing the job's lock; after
 *   `lockDuration` a live worker's stalled check moves the job back to waiting and another
 *   worker runs it again, up to `maxStalledCount` times. Execution is at least once, recording
 *   exactly once: a frozen worker that wakes up cannot complete a job it no longer holds.
 * - A trial whose executor throws fails at once (trials are deterministic; retrying would throw again).
 */
import { hostname } from 'node:os';
import { Job, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisBlobs, type BlobStore } from './blobs.js';
import type { TrialHost } from './host.js';
import { connectRedis, parseQueueUrl, type QueueAddress } from './redis.js';
import { abortError, checkTrials, oneLine, OutcomeBook, type RunOptions, type Trial, type TrialEvent, type TrialOutcome, type TrialRunner } from './trial.js';

export interface QueueOptions {
  /** `redis://HOST:PORT` (also `rediss://`, credentials and a database number). */
  url: string;
  /** BullMQ queue name; default `condense-trials`. */
  queue?: string;
  /** Key prefix of everything condense stores in Redis; default `condense`. */
  prefix?: string;
}

/** What a job carries: the trial and the batch it belongs to. */
interface JobData {
  runId: string;
  trial: Trial;
}

/** What a worker returns for a job. */
interface JobResult {
  output: unknown;
  worker: string;
  ms: number;
  attempt: number;
}

/** What a worker reports when it starts a job (BullMQ job progress). */
interface StartedProgress {
  phase: 'started';
  worker: string;
  attempt: number;
}

const DEFAULT_QUEUE = 'condense-trials';
const DEFAULT_PREFIX = 'condense';

interface Resolved {
  address: QueueAddress;
  queue: string;
  prefix: string;
}

function resolve(o: QueueOptions): Resolved {
  return { address: parseQueueUrl(o.url), queue: o.queue ?? DEFAULT_QUEUE, prefix: o.prefix ?? DEFAULT_PREFIX };
}

const cancelKey = (r: Resolved, runId: string) => `${r.prefix}:${r.queue}:cancelled:${runId}`;

export interface QueueRunnerOptions extends QueueOptions {
  /** Names the batch's jobs; give the same one to resume a batch (its finished trials are read back, not rerun). Default: random. */
  runId?: string;
  /** How long finished jobs (and their outcomes) stay in Redis; default one day. */
  keepSeconds?: number;
  /** How often Redis is read for outcomes an event may have missed; default 2000 ms. */
  sweepMs?: number;
}

export interface QueueRunner extends TrialRunner {
  /** Blobs stored once in this Redis, which every worker of the queue can read. */
  readonly blobs: BlobStore;
  readonly address: string;
}

/** The coordinator side: connects (a one-line error when Redis cannot be reached) and runs batches on the queue's workers. */
export async function queueRunner(options: QueueRunnerOptions): Promise<QueueRunner> {
  const r = resolve(options);
  const client = await connectRedis(r.address);
  const queue = new Queue(r.queue, { connection: client, prefix: r.prefix });
  const keep = options.keepSeconds ?? 24 * 3600;
  const sweepMs = options.sweepMs ?? 2000;
  let batches = 0;
  return {
    name: `BullMQ queue '${r.queue}' at ${r.address.display}`,
    address: r.address.display,
    blobs: redisBlobs(client, r.prefix),
    async run<O>(trials: readonly Trial[], run: RunOptions = {}) {
      checkTrials(trials);
      const runId = options.runId ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${++batches}`;
      return runBatch<O>({ r, client, queue, runId, keep, sweepMs }, trials, run);
    },
    async close() {
      await queue.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

interface Batch {
  r: Resolved;
  client: Redis;
  queue: Queue;
  runId: string;
  keep: number;
  sweepMs: number;
}

async function runBatch<O>(b: Batch, trials: readonly Trial[], { signal, onEvent }: RunOptions): Promise<TrialOutcome<O>[]> {
  const emit = (e: TrialEvent) => onEvent?.(e);
  const jobId = (t: Trial) => `${b.runId}.${t.id}`;
  const byJob = new Map(trials.map((t) => [jobId(t), t]));
  const book = new OutcomeBook<O>(
    trials.map((t) => t.id),
    emit,
  );
  // QueueEvents blocks on its connection: its own, closed with it (BullMQ leaves a given one open).
  const eventsConnection = b.client.duplicate();
  eventsConnection.on('error', () => {});
  const events = new QueueEvents(b.r.queue, { connection: eventsConnection, prefix: b.r.prefix });
  const lastAttempt = new Map<string, number>();
  let wake: () => void = () => {};

  /** Read a job's state from Redis and record it if it is finished (events and the sweep both land here). */
  const settle = async (id: string) => {
    const trial = byJob.get(id);
    if (!trial || book.has(trial.id)) return;
    // State first: a job moves to completed/failed with its result in one step, so once the state
    // says finished the job's record has the result (read the other way round, it may not yet).
    const state = await b.queue.getJobState(id);
    if (state !== 'completed' && state !== 'failed') return;
    const job = await Job.fromId<JobData, JobResult>(b.queue, id);
    if (!job) return;
    if (state === 'completed') {
      const res = job.returnvalue;
      if (typeof res?.attempt !== 'number') return; // not a condense trial result (yet): the sweep looks again
      book.record({ id: trial.id, status: 'done', output: res.output as O, attempts: res.attempt, worker: res.worker, ms: res.ms });
    } else {
      book.record({ id: trial.id, status: 'failed', error: describeFailure(job), attempts: job.attemptsStarted, worker: job.processedBy });
    }
    if (book.complete) wake();
  };
  const settleLogged = (id: string) => void settle(id).catch(() => {}); // the sweep retries

  events.on('progress', ({ jobId: id, data }) => {
    const trial = byJob.get(id);
    const p = data as Partial<StartedProgress>;
    if (!trial || p?.phase !== 'started' || book.has(trial.id)) return;
    lastAttempt.set(trial.id, Number(p.attempt));
    emit({ type: 'trialStarted', id: trial.id, worker: String(p.worker), attempt: Number(p.attempt) });
  });
  events.on('stalled', ({ jobId: id }) => {
    const trial = byJob.get(id);
    if (trial && !book.has(trial.id))
      emit({
        type: 'trialRetried',
        id: trial.id,
        attempt: (lastAttempt.get(trial.id) ?? 1) + 1,
        reason: 'its worker stopped renewing the lock (died or froze); back in the queue',
      });
  });
  events.on('completed', ({ jobId: id }) => settleLogged(id));
  events.on('failed', ({ jobId: id }) => settleLogged(id));

  const onAbort = () => wake();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await events.waitUntilReady();
    await b.queue.addBulk(
      trials.map((t) => ({
        name: t.kind,
        data: { runId: b.runId, trial: t } satisfies JobData,
        opts: { jobId: jobId(t), removeOnComplete: { age: b.keep }, removeOnFail: { age: b.keep } },
      })),
    );
    while (!book.complete) {
      if (signal?.aborted) {
        await cancelBatch(b, [...byJob.keys()]);
        throw abortError(signal);
      }
      // Outcomes already in Redis (a resumed batch) and any an event missed.
      for (const id of byJob.keys()) await settle(id);
      if (book.complete) break;
      await new Promise<void>((res) => {
        const t = setTimeout(res, b.sweepMs);
        wake = () => {
          clearTimeout(t);
          res();
        };
      });
    }
    return book.inOrder();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await events.close();
    eventsConnection.disconnect();
  }
}

/** A job's failure as one line; a job that stalled too often says that its workers kept dying. */
function describeFailure(job: Job): string {
  const reason = job.failedReason ?? 'failed';
  if (/stalled more than allowable limit/i.test(reason)) return `lost its worker ${job.stalledCounter ?? job.attemptsStarted} times (died or froze mid-trial)`;
  return reason;
}

/** Cancelling: workers skip the batch's jobs from now on; jobs still waiting are removed. */
async function cancelBatch(b: Batch, jobIds: string[]): Promise<void> {
  await b.client.set(cancelKey(b.r, b.runId), '1', 'EX', b.keep);
  for (const id of jobIds) await b.queue.remove(id).catch(() => 0); // an active (locked) job cannot be removed; its worker sees the cancel key
}

export interface QueueWorkerOptions extends QueueOptions {
  /** Runs the trials: a pool of threads (`poolHost`), or in-process executors for async work. */
  host: TrialHost;
  /** Names this worker in events and job records; default `<hostname>:<pid>`. */
  name?: string;
  /** How long a job's lock lasts without renewal before the job counts as stalled; default 30000 ms. */
  lockDuration?: number;
  /** How often this worker checks for stalled jobs; default 30000 ms (BullMQ's). */
  stalledInterval?: number;
  /** Times a job may stall (its worker lost) and go back to the queue before it fails; default 2. */
  maxStalledCount?: number;
  /** How often a running trial checks whether its batch was cancelled; default 1000 ms. */
  cancelPollMs?: number;
  onEvent?: (event: TrialEvent) => void;
}

export interface QueueWorker {
  readonly name: string;
  /** Stop taking jobs, let running trials finish, disconnect. */
  close(): Promise<void>;
}

/** A worker process's side: take trials from the queue and run them on `host`. */
export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const r = resolve(options);
  const client = await connectRedis(r.address);
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const host = options.host;
  const emit = (e: TrialEvent) => options.onEvent?.(e);
  let finished = 0;
  let active = 0;
  const isCancelled = async (runId: string) => (await client.exists(cancelKey(r, runId))) === 1;

  const worker = new Worker<JobData, JobResult>(
    r.queue,
    async (job, _token, jobSignal) => {
      const { runId, trial } = job.data;
      if (await isCancelled(runId)) throw new UnrecoverableError('cancelled');
      const attempt = job.attemptsStarted;
      await job.updateProgress({ phase: 'started', worker: name, attempt } satisfies StartedProgress);
      const abort = new AbortController();
      jobSignal?.addEventListener('abort', () => abort.abort(), { once: true });
      const poll = setInterval(
        () =>
          void isCancelled(runId).then(
            (c) => c && abort.abort(),
            () => {},
          ),
        options.cancelPollMs ?? 1000,
      );
      let outcome: TrialOutcome;
      active++;
      try {
        outcome = await host.execute(trial, { signal: abort.signal, onEvent: (e) => emit(e.type === 'trialStarted' ? { ...e, attempt } : e) });
      } catch (e) {
        throw new UnrecoverableError(abort.signal.aborted ? 'cancelled' : oneLine(e));
      } finally {
        clearInterval(poll);
        active--;
      }
      // For a worker, `done` counts the trials it finished and `total` adds those it is running.
      finished++;
      emit({
        type: 'trialFinished',
        id: trial.id,
        worker: outcome.worker,
        attempt,
        ok: outcome.status === 'done',
        ...(outcome.status === 'done' ? { ms: outcome.ms } : { error: outcome.error }),
        done: finished,
        total: finished + active,
      });
      if (outcome.status === 'failed') throw new UnrecoverableError(outcome.error);
      return { output: outcome.output, worker: outcome.worker, ms: outcome.ms, attempt };
    },
    {
      connection: client,
      prefix: r.prefix,
      name,
      concurrency: host.capacity,
      lockDuration: options.lockDuration ?? 30_000,
      stalledInterval: options.stalledInterval ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 2,
    },
  );
  worker.on('error', () => {}); // connection blips: ioredis reconnects
  await worker.waitUntilReady();
  return {
    name,
    async close() {
      await worker.close();
      await host.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
