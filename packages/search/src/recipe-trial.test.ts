import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Split } from '@condense/core';
import { cost, lenet300100 } from '@condense/ir';
import { afterEach, describe, expect, it } from 'vitest';
import { blobFetcher, sha256 } from './blobs.js';
import { DEFAULT_EXECUTORS } from './recipe-trial.js';
import { inProcessRunner } from './host.js';
import { workerPool } from './pool.js';
import { recipeTrial, storeAssets, type RecipeTrialOutput } from './recipe-trial.js';
import { decodeSplit, encodeSplit } from './split.js';
import { trialOutputs, type TrialRunner } from './trial.js';

const built = existsSync(join(import.meta.dirname, '..', 'dist', 'thread.js'));

/** Labelled 28x28 images with a learnable-looking pattern (the model is untrained; only determinism matters). */
function split(n: number, seed: number): Split {
  return {
    images: Float32Array.from({ length: n * 784 }, (_, i) => ((i * 7919 + seed) % 97) / 97),
    labels: Uint8Array.from({ length: n }, (_, i) => (i * 3 + seed) % 10),
    count: n,
    shape: [n, 28, 28, 1],
  };
}

const prune = (layers: Record<string, number>) => ({ stages: [{ plugin: 'prune.magnitude', options: { layers } }] });

let runners: TrialRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.map((r) => r.close()));
  runners = [];
});

describe('split blobs', () => {
  it('round-trip exactly and name a bad blob', () => {
    const s = split(5, 2);
    const back = decodeSplit(encodeSplit(s));
    expect(back).toEqual({ ...s, shape: [5, 28, 28, 1] });
    expect(() => decodeSplit(new Uint8Array(10), 'val.bin')).toThrow('val.bin: not a condense data split (no CSPL magic)');
    expect(() => decodeSplit(encodeSplit(s).subarray(0, 100), 'val.bin')).toThrow(/val.bin: .*bytes for 5 examples/);
  });
});

describe('recipe trials', () => {
  it('run a recipe on the model and measure it; the same trials on two threads give the same records', async () => {
    const inProcess = inProcessRunner({ modules: [DEFAULT_EXECUTORS], init: { backend: 'cpu' } });
    runners.push(inProcess);
    const assets = await storeAssets(inProcess.blobs, lenet300100(), { validation: split(64, 1) });
    const trials = [
      recipeTrial('base', assets, { stages: [] }),
      recipeTrial('fc1-50', assets, prune({ fc1: 0.5 })),
      recipeTrial('fc1-90', assets, prune({ fc1: 0.9 }), { samples: 32 }),
    ];
    const here = trialOutputs(await inProcess.run<RecipeTrialOutput>(trials));
    const fc1 = 784 * 300;
    expect(here[0].nonzero - here[1].nonzero).toBeCloseTo(fc1 * 0.5, -1);
    expect(here[0].nonzero - here[2].nonzero).toBeCloseTo(fc1 * 0.9, -1);
    expect(here[2].bytes).toBeLessThan(here[1].bytes);
    for (const r of here) expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(here[0].macs).toBe(here[1].macs);
    // Every trial counts bytes by the cost model, the recipe with no stages too (its zero biases,
    // 300 + 100 + 10 of them, take none); the input's bytes are what its file stores: float32.
    const graph = lenet300100();
    expect(here[0].bytes).toBe(cost(graph).totals.bytes);
    for (const r of here) expect(r.inputBytes).toBe(cost(graph).totals.float32Bytes);
    expect(here[0].inputBytes - here[0].bytes).toBe(410 * 4);

    if (!built) return;
    const pool = workerPool({ workers: 2, modules: [DEFAULT_EXECUTORS], init: { backend: 'cpu' } });
    runners.push(pool);
    const poolAssets = await storeAssets(pool.blobs, lenet300100(), { validation: split(64, 1) });
    expect(poolAssets.model.sha256).toBe(assets.model.sha256);
    const there = trialOutputs(await pool.run<RecipeTrialOutput>(trials.map((t) => ({ ...t, input: { ...(t.input as object), ...poolAssets } }))));
    const strip = (r: RecipeTrialOutput) => ({ ...r, ms: 0 });
    expect(there.map(strip)).toEqual(here.map(strip));
  });

  it('a recipe that names no such layer fails its trial in one line', async () => {
    const runner = inProcessRunner({ modules: [DEFAULT_EXECUTORS], init: { backend: 'cpu' } });
    runners.push(runner);
    const assets = await storeAssets(runner.blobs, lenet300100(), { validation: split(8, 1) });
    const [out] = await runner.run([recipeTrial('typo', assets, prune({ fc9: 0.5 }))]);
    expect(out).toMatchObject({ status: 'failed', error: expect.stringMatching(/^prune.magnitude: layers key pattern 'fc9' matches no layer/) });
  });

  it('a worker checks the hash of what it reads: a model file changed after the trial was made is an error', async () => {
    const runner = inProcessRunner({ modules: [DEFAULT_EXECUTORS], init: { backend: 'cpu' } });
    runners.push(runner);
    const assets = await storeAssets(runner.blobs, lenet300100(), { validation: split(8, 1) });
    await writeFile(fileURLToPath(assets.model.location), new Uint8Array(16));
    const [out] = await runner.run([recipeTrial('stale', assets, { stages: [] })]);
    expect(out).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/blob file:.*: its content hash is [0-9a-f]{12}\.\.\., expected [0-9a-f]{12}\.\.\. \(it changed since the trial was made\)/),
    });
  });
});

describe('blobFetcher', () => {
  it('keeps verified copies of remote blobs by hash and never serves a corrupted copy', async () => {
    const { createServer } = await import('node:http');
    const { mkdtemp, readFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const body = new TextEncoder().encode('model bytes');
    let served = 0;
    const server = createServer((_req, res) => {
      served++;
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const cacheDir = await mkdtemp(join(tmpdir(), 'condense-cache-'));
      const ref = { sha256: sha256(body), bytes: body.length, location: `http://127.0.0.1:${(server.address() as { port: number }).port}/m` };
      const fetch = blobFetcher({ cacheDir });
      expect(await fetch(ref)).toEqual(body);
      expect(await readFile(join(cacheDir, ref.sha256))).toEqual(Buffer.from(body));
      expect(await fetch(ref)).toEqual(body);
      expect(served).toBe(1);
      await writeFile(join(cacheDir, ref.sha256), 'tampered');
      expect(await blobFetcher({ cacheDir })(ref)).toEqual(body);
      expect(served).toBe(2);
      await expect(fetch({ ...ref, sha256: '0'.repeat(64) })).rejects.toThrow(/its content hash is .*expected 000000000000/);
      await expect(fetch({ ...ref, sha256: '1'.repeat(64), location: 'redis:condense:blob:x' })).rejects.toThrow(/this worker has no Redis connection/);
    } finally {
      server.close();
    }
  });
});
