import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, hasRedisServer, startRedis, type RedisServer } from './testing.js';
import { lenet300100 } from '@condense/ir';
import { queueRunner, type QueueRunner } from './queue.js';
import { DEFAULT_EXECUTORS, recipeTrial, storeAssets, type RecipeTrialOutput } from './recipe-trial.js';
import { parseQueueUrl } from './redis.js';
import { trialOutputs, type Trial, type TrialEvent } from './trial.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const built = existsSync(join(import.meta.dirname, '..', 'dist', 'index.js'));
if (!hasRedisServer) console.warn('queue tests skipped: redis-server is not installed (apt-get install redis-server; .ci/run does)');
if (!built) console.warn('queue tests skipped: @condense/search is not built (npm run build)');

// Short locks so that a lost worker's trial is back in the queue within about three seconds (long
// enough that a live worker on a loaded machine still renews its locks in time).
const LOCK_MS = 2500;
const STALLED_MS = 400;

const squares = (n: number, ms: number): Trial[] => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, kind: 'square', input: { x: i, ms } }));

interface WorkerProcess {
  name: string;
  proc: ChildProcess;
  events: TrialEvent[];
  ready: Promise<void>;
}

/** The test executors, logging every trial start and end to `log`; `init.ms`: how long each `square` trial lasts on this worker. */
const testExecutors = (log: string, init: { ms?: number } = {}) => ({ modules: [join(FIXTURES, 'executors.mjs')], init: { log, ...init } });

/** A `startQueueWorker` process with one thread, on the test executors or others. */
function spawnWorker(
  name: string,
  url: string,
  queue: string,
  log: string,
  executors: { modules: string[]; init: unknown } = testExecutors(log),
): WorkerProcess {
  const options = { url, queue, name, lockDuration: LOCK_MS, stalledInterval: STALLED_MS, ...executors };
  const proc = spawn(process.execPath, [join(FIXTURES, 'queue-worker.mjs'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: TrialEvent[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`worker ${name} exited with code ${code} before it was ready`)));
    createInterface({ input: proc.stdout as NonNullable<typeof proc.stdout> }).on('line', (line) => {
      if (line === 'ready') resolve();
      else if (line.startsWith('{')) events.push(JSON.parse(line) as TrialEvent);
    });
  });
  return { name, proc, events, ready };
}

/**
 * Send `signal` to `w` as soon as its executor has begun a trial (the log says so) and return that
 * trial's id. Give `w` trials slower than the test can be delayed (`setup(ms)`), so that this is
 * mid-trial: its first trial, however loaded the machine.
 */
async function signalFirstTrial(w: WorkerProcess, log: string, signal: NodeJS.Signals): Promise<string> {
  for (;;) {
    const started = [...(await logOf(log)).starts].find(([, on]) => on.includes(w.name));
    if (started) {
      w.proc.kill(signal);
      return started[0];
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null) return;
  const exited = new Promise((r) => w.proc.once('exit', r));
  w.proc.kill('SIGCONT');
  w.proc.kill('SIGKILL');
  await exited;
}

/** `start`/`end` lines of the executors' log, by trial. */
async function logOf(path: string): Promise<{ starts: Map<string, string[]>; ends: Map<string, string[]> }> {
  const starts = new Map<string, string[]>();
  const ends = new Map<string, string[]>();
  const text = existsSync(path) ? await readFile(path, 'utf8') : '';
  for (const line of text.split('\n').filter(Boolean)) {
    const [what, id, worker] = line.split(' ');
    const m = what === 'start' ? starts : ends;
    m.set(id, [...(m.get(id) ?? []), worker.split('/')[0]]);
  }
  return { starts, ends };
}

describe('queue URLs and unreachable Redis', () => {
  it('names a bad --queue value in one line', () => {
    expect(() => parseQueueUrl('localhost:6379')).toThrow(/--queue: expected a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => parseQueueUrl('not a url')).toThrow("--queue: 'not a url' is not a URL (expected redis://HOST:PORT)");
    expect(parseQueueUrl('redis://user:secret@h:7000/2').display).toBe('redis://h:7000/2');
  });

  it('a server nobody listens on is one line naming the address', async () => {
    const port = await freePort();
    const started = performance.now();
    await expect(queueRunner({ url: `redis://127.0.0.1:${port}` })).rejects.toThrow(
      `cannot reach Redis at redis://127.0.0.1:${port}: connection refused (is redis-server running there?)`,
    );
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

describe.skipIf(!hasRedisServer || !built)('BullMQ runner with a real redis-server and two worker processes', () => {
  let redis: RedisServer;
  let dir: string;
  let workers: WorkerProcess[] = [];
  let runner: QueueRunner | undefined;
  let queueNo = 0;
  let queue: string;
  let log: string;

  beforeAll(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'condense-queue-'));
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    await runner?.close();
    runner = undefined;
    await Promise.all(workers.map(stopWorker));
    workers = [];
  });

  /** A fresh queue, its log file and two ready workers A and B; with `aMs`, every trial on A lasts that long. */
  async function setup(aMs?: number): Promise<[WorkerProcess, WorkerProcess]> {
    queue = `q${++queueNo}`;
    log = join(dir, `${queue}.log`);
    workers = [spawnWorker('A', redis.url, queue, log, testExecutors(log, aMs ? { ms: aMs } : {})), spawnWorker('B', redis.url, queue, log)];
    await Promise.all(workers.map((w) => w.ready));
    runner = await queueRunner({ url: redis.url, queue, sweepMs: 200 });
    return workers as [WorkerProcess, WorkerProcess];
  }

  /** A Queue handle of the test's queue, for looking into Redis; closed with its connection after `fn`. */
  const inspect = async <T>(fn: (q: Queue) => Promise<T>): Promise<T> => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const q = new Queue(queue, { connection, prefix: 'condense' });
    try {
      return await fn(q);
    } finally {
      await q.close();
      connection.disconnect();
    }
  };
  const completedInRedis = () => inspect((q) => q.getJobs(['completed']));

  it('both workers take trials; outcomes come back in order; a rerun with the same runId reads them back', async () => {
    await setup();
    const trials = squares(8, 100);
    const out = await (runner as QueueRunner).run(trials);
    expect(trialOutputs(out)).toEqual(trials.map((_, i) => ({ y: i * i })));
    expect(new Set(out.map((o) => o.status === 'done' && o.worker.split('/')[0]))).toEqual(new Set(['A', 'B']));
    await runner?.close();

    const again = await queueRunner({ url: redis.url, queue, runId: 'fixed', sweepMs: 200 });
    runner = again;
    const first = await again.run(trials.slice(0, 3));
    const { starts } = await logOf(log);
    const rerun = await again.run(trials.slice(0, 3));
    expect(rerun).toEqual(first);
    expect((await logOf(log)).starts).toEqual(starts); // nothing ran again
  });

  it('a trial that throws fails alone, with its message, and is not retried', async () => {
    await setup();
    const out = await (runner as QueueRunner).run([{ id: 'bad', kind: 'fail', input: { message: 'no such layer fc9' } }, ...squares(2, 0)]);
    expect(out[0]).toMatchObject({ id: 'bad', status: 'failed', error: 'no such layer fc9', attempts: 1 });
    expect(trialOutputs(out.slice(1))).toEqual([{ y: 0 }, { y: 1 }]);
  });

  it('SIGKILL of a worker mid-trial: its trial is retried on the other worker; no trial lost, none recorded twice', async () => {
    // A's trials would take a minute: it is killed in the middle of its first one.
    const [a] = await setup(60_000);
    const trials = squares(8, 250);
    const events: TrialEvent[] = [];
    const killing = signalFirstTrial(a, log, 'SIGKILL');
    const out = await (runner as QueueRunner).run(trials, { onEvent: (e) => events.push(e) });
    const killed = await killing;
    // Every trial, in order, with its own value.
    expect(trialOutputs(out)).toEqual(trials.map((_, i) => ({ y: i * i })));
    const lost = out.find((o) => o.id === killed);
    expect(lost).toMatchObject({ status: 'done', attempts: 2, worker: expect.stringMatching(/^B/) });
    expect(events.filter((e) => e.type === 'trialRetried').map((e) => e.id)).toContain(killed);
    // Recorded once: one finished event per trial, one completed job per trial in Redis.
    const finished = events.filter((e) => e.type === 'trialFinished').map((e) => e.id);
    expect(finished.sort()).toEqual(trials.map((t) => t.id).sort());
    const jobs = await completedInRedis();
    expect(jobs.map((j) => j.data.trial.id).sort()).toEqual(trials.map((t) => t.id).sort());
    // Executed: the lost trial started on A and again on B and ended once, on B; every other trial once.
    const { starts, ends } = await logOf(log);
    expect(starts.get(killed)).toEqual(['A', 'B']);
    expect(ends.get(killed)).toEqual(['B']);
    // Every other trial ran on B once (twice only if a loaded machine delayed B's lock renewal past LOCK_MS).
    for (const t of trials.filter((x) => x.id !== killed)) expect(starts.get(t.id)?.length).toBeGreaterThanOrEqual(1);
    expect(a.events.filter((e) => e.type === 'trialFinished')).toEqual([]);
  });

  it('a worker frozen mid-trial (SIGSTOP) loses its job to the other; when it wakes, its late result is not recorded', async () => {
    // A's trials take 3 s: it is frozen in the middle of its first one, and finishes it soon after it wakes.
    const [a] = await setup(3000);
    const trials = squares(4, 300);
    const freezing = signalFirstTrial(a, log, 'SIGSTOP');
    const out = await (runner as QueueRunner).run(trials);
    const frozen = await freezing;
    expect(trialOutputs(out)).toEqual(trials.map((_, i) => ({ y: i * i })));
    expect(out.find((o) => o.id === frozen)).toMatchObject({ attempts: 2, worker: expect.stringMatching(/^B/) });
    a.proc.kill('SIGCONT');
    // A finishes its copy of the trial, and cannot complete the job it no longer holds.
    await expect.poll(async () => (await logOf(log)).ends.get(frozen), { timeout: 5000 }).toEqual(['B', 'A']);
    await new Promise((r) => setTimeout(r, 300));
    const jobs = await completedInRedis();
    expect(jobs.filter((j) => j.data.trial.id === frozen).map((j) => j.returnvalue.worker.split('/')[0])).toEqual(['B']);
    expect(jobs).toHaveLength(trials.length);
  });

  it('recipe trials: the model and data are stored once in Redis and every worker fetches them by hash', async () => {
    queue = `q${++queueNo}`;
    const cacheDir = (i: number) => join(dir, `cache-${queue}-${i}`);
    workers = [0, 1].map((i) =>
      spawnWorker(`R${i}`, redis.url, queue, '', { modules: [DEFAULT_EXECUTORS], init: { backend: 'cpu', redis: redis.url, cacheDir: cacheDir(i) } }),
    );
    await Promise.all(workers.map((w) => w.ready));
    runner = await queueRunner({ url: redis.url, queue, sweepMs: 200 });
    const n = 16;
    const validation = { images: new Float32Array(n * 784).fill(0.25), labels: new Uint8Array(n), count: n, shape: [n, 28, 28, 1] };
    const assets = await storeAssets(runner.blobs, lenet300100(), { validation });
    expect(assets.model.location).toBe(`redis:condense:blob:${assets.model.sha256}`);
    const prune = (s: number) => ({ stages: [{ plugin: 'prune.magnitude', options: { layers: { fc2: s } } }] });
    const outs = trialOutputs(await runner.run<RecipeTrialOutput>([0.2, 0.4, 0.6, 0.8].map((s, i) => recipeTrial(`r${i}`, assets, prune(s)))));
    // Each step prunes another fifth of fc2's 300 x 100 kernel.
    expect(outs.slice(1).map((o, i) => outs[i].nonzero - o.nonzero)).toEqual([6000, 6000, 6000]);
    // Each worker that ran a trial keeps one verified copy per blob.
    const cached = await Promise.all([0, 1].map((i) => readdir(cacheDir(i)).catch(() => [] as string[])));
    for (const files of cached.filter((f) => f.length)) expect(files.sort()).toEqual([assets.model.sha256, assets.data.validation.sha256].sort());
  });

  it('cancelling rejects, removes the waiting jobs and stops the running ones', async () => {
    await setup();
    const abort = new AbortController();
    const run = (runner as QueueRunner).run(squares(6, 3000), {
      signal: abort.signal,
      onEvent: (e) => e.type === 'trialStarted' && abort.abort(new Error('user stop')),
    });
    await expect(run).rejects.toThrow('user stop');
    await expect
      .poll(() => inspect((q) => q.getJobCounts('waiting', 'active', 'completed')), { timeout: 5000 })
      .toEqual({ waiting: 0, active: 0, completed: 0 });
  });
});
