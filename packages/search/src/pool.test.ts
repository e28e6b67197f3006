import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inProcessRunner, loadExecutors } from './host.js';
import { workerPool } from './pool.js';
import { trialOutputs, type Trial, type TrialEvent, type TrialRunner } from './trial.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'executors.mjs');
const built = existsSync(join(import.meta.dirname, '..', 'dist', 'thread.js'));
const squares = (n: number, ms = 0): Trial[] => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, kind: 'square', input: { x: i, ms } }));

let runners: TrialRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.map((r) => r.close()));
  runners = [];
});
const keep = <R extends TrialRunner>(r: R) => (runners.push(r), r);

describe('inProcessRunner', () => {
  it('runs a batch in order, bounded, each outcome once; a throwing trial fails alone with its message', async () => {
    let running = 0;
    let peak = 0;
    const runner = keep(
      inProcessRunner({
        concurrency: 2,
        executors: {
          square: async (input) => {
            peak = Math.max(peak, ++running);
            await new Promise((r) => setTimeout(r, 5 * (5 - (input as { x: number }).x)));
            running--;
            return { y: (input as { x: number }).x ** 2 };
          },
          fail: async () => {
            throw new Error('bad\nrecipe');
          },
        },
      }),
    );
    const events: TrialEvent[] = [];
    const out = await runner.run([...squares(5), { id: 'f', kind: 'fail', input: null }, { id: 'u', kind: 'nope', input: null }], {
      onEvent: (e) => events.push(e),
    });
    expect(out.slice(0, 5).map((o) => o.status === 'done' && o.output)).toEqual([0, 1, 4, 9, 16].map((y) => ({ y })));
    expect(peak).toBe(2);
    expect(out[5]).toMatchObject({ id: 'f', status: 'failed', error: 'bad; recipe' });
    expect(out[6]).toMatchObject({ status: 'failed', error: expect.stringMatching(/no executor for trial kind 'nope' .*it has: square, fail/) });
    const finished = events.filter((e) => e.type === 'trialFinished');
    expect(finished.map((e) => e.id).sort()).toEqual(['f', 't0', 't1', 't2', 't3', 't4', 'u']);
    expect(finished.at(-1)).toMatchObject({ done: 7, total: 7 });
    expect(() => trialOutputs(out)).toThrow("trial 'f' failed: bad; recipe");
  });

  it('rejects bad batches naming the trial', async () => {
    const runner = keep(inProcessRunner({ executors: {} }));
    await expect(
      runner.run([
        { id: 'a', kind: 'k', input: 1 },
        { id: 'a', kind: 'k', input: 2 },
      ]),
    ).rejects.toThrow("trial 'a' appears twice");
    await expect(runner.run([{ id: 'a:b', kind: 'k', input: 1 }])).rejects.toThrow(/trial 1: id must be/);
    await expect(runner.run([{ id: '12', kind: 'k', input: 1 }])).rejects.toThrow(/only digits/);
  });

  it('loads executor modules and names a module that is missing or exports none', async () => {
    expect(Object.keys(await loadExecutors([FIXTURE], null))).toEqual(['square', 'fail', 'crashOnce', 'crash']);
    await expect(loadExecutors(['./no/such/module.mjs'], null)).rejects.toThrow(/executor module '.\/no\/such\/module.mjs' could not be loaded/);
    await expect(loadExecutors(['node:path'], null)).rejects.toThrow(/exports no createExecutors/);
    await expect(loadExecutors([FIXTURE, FIXTURE], null)).rejects.toThrow(/trial kind 'square' is defined by both/);
  });
});

describe.skipIf(!built)('workerPool (needs the built thread entry: npm run build)', () => {
  it('spreads a batch over the threads; outcomes in input order', async () => {
    const log = join(await mkdtemp(join(tmpdir(), 'condense-pool-')), 'log');
    const pool = keep(workerPool({ workers: 2, modules: [FIXTURE], init: { log } }));
    expect(pool.name).toBe('2 worker threads');
    const out = await pool.run(squares(6, 30));
    expect(trialOutputs(out)).toEqual([0, 1, 4, 9, 16, 25].map((y) => ({ y })));
    const workers = new Set(out.map((o) => o.worker));
    expect(workers).toEqual(new Set(['pool/thread-1', 'pool/thread-2']));
    const starts = (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('start'));
    expect(starts).toHaveLength(6);
  });

  it('a thread that dies mid-trial is replaced and the trial runs again; one that always dies fails after maxAttempts', async () => {
    const marker = join(await mkdtemp(join(tmpdir(), 'condense-pool-')), 'crashed');
    const pool = keep(workerPool({ workers: 1, modules: [FIXTURE], maxAttempts: 2 }));
    const events: TrialEvent[] = [];
    const out = await pool.run([{ id: 'once', kind: 'crashOnce', input: { marker } }, { id: 'always', kind: 'crash', input: null }, ...squares(2)], {
      onEvent: (e) => events.push(e),
    });
    expect(out[0]).toMatchObject({ status: 'done', output: { survived: true }, attempts: 2 });
    expect(out[1]).toMatchObject({ status: 'failed', attempts: 2, error: 'lost its worker thread 2 times (last: pool/thread-1 exited with code 4)' });
    expect(trialOutputs(out.slice(2))).toEqual([{ y: 0 }, { y: 1 }]);
    expect(events.filter((e) => e.type === 'trialRetried')).toEqual([
      { type: 'trialRetried', id: 'once', attempt: 2, reason: 'pool/thread-1 exited with code 3' },
      { type: 'trialRetried', id: 'always', attempt: 2, reason: 'pool/thread-1 exited with code 4' },
    ]);
  });

  it('cancelling stops the threads and rejects; the pool runs the next batch on fresh threads', async () => {
    const pool = keep(workerPool({ workers: 2, modules: [FIXTURE] }));
    const abort = new AbortController();
    const started = performance.now();
    const run = pool.run(squares(4, 5000), { signal: abort.signal, onEvent: (e) => e.type === 'trialStarted' && abort.abort(new Error('stop')) });
    await expect(run).rejects.toThrow('stop');
    expect(performance.now() - started).toBeLessThan(4000);
    expect(trialOutputs(await pool.run(squares(2)))).toEqual([{ y: 0 }, { y: 1 }]);
  });

  it('a module that fails to load breaks the batch with its message', async () => {
    const pool = keep(workerPool({ workers: 1, modules: ['./no/such.mjs'] }));
    await expect(pool.run(squares(1))).rejects.toThrow(/pool\/thread-1: executor module '.*no\/such.mjs' could not be loaded/);
  });
});
