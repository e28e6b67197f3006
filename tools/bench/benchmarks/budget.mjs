// Automatic per-layer budgets (search.budget) on LeNet-300-100 and Fashion-MNIST: size=40x within
// 0.5 points, the search run three ways (in this thread, on 2 worker threads, on 2 BullMQ workers
// over a local redis-server), then the chosen recipe fine-tuned.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cloneGraph, cost, lenet300100 } from '@condense/ir';
import { finetune, pipeline } from '@condense/core';
import { budget } from '@condense/search';
import { hasRedisServer, startRedis } from '@condense/search/testing';
import { mlpPrunePlan, pretrain } from '../deep-compression.mjs';
import { accuracy, benchBackend, benchData, pct, round, runtime } from '../lib.mjs';

const CLI = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
const TARGET = 'size=40x';
const MAX_DROP = 0.5;

/** `condense worker` processes on the queue, resolved once each takes trials. */
async function startWorkers(url, n, backend) {
  const procs = Array.from({ length: n }, () => spawn(process.execPath, [CLI, 'worker', '--queue', url, '--workers', '1', '--backend', backend, '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] }));
  await Promise.all(
    procs.map(
      (p) =>
        new Promise((resolve, reject) => {
          p.once('exit', (code) => reject(new Error(`condense worker exited with code ${code}`)));
          createInterface({ input: p.stdout }).on('line', (line) => line.includes('taking trials') && resolve());
        }),
    ),
  );
  return async () => {
    await Promise.all(procs.map((p) => new Promise((resolve) => (p.exitCode !== null ? resolve() : (p.once('exit', resolve), p.kill('SIGTERM'))))));
  };
}

export default {
  name: 'budget',
  order: 90,
  description: `Automatic per-layer budgets to ${TARGET} within ${MAX_DROP} points on LeNet-300-100 (search.budget: sensitivity curves, knapsack, greedy correction), searched in this thread, on 2 worker threads and on 2 BullMQ workers`,
  checks: {
    ratio: (m) => m.ratio >= 40,
    accuracy: (m) => m.checkpoint_accuracy - m.accuracy <= MAX_DROP / 100,
    same_choice: (m) => m.same_choice === 1,
  },
  targets: {
    ratio: '>= 40 (float32 weight bytes / stored bytes of the cost model, before entropy coding)',
    accuracy: `within ${MAX_DROP} points of the checkpoint the search started from, after fine-tuning`,
    same_choice: 'every runner chooses the same recipe (trials are deterministic)',
  },
  async run({ quick, data, seed, backend, log }) {
    const p = mlpPrunePlan(quick);
    const backendName = await benchBackend(backend);
    const fm = await benchData({ quick, data }, { train: p.train, test: p.test, quickTrain: p.train, quickTest: p.test });
    const { train, test } = fm;
    log(`backend ${backendName}; train ${train.count}, test ${test.count}`);
    const { checkpoint, checkpointAccuracy } = await pretrain(lenet300100, train, test, p, { seed, log });
    const options = { target: TARGET, maxDrop: MAX_DROP, samples: quick ? 500 : 2000, validation: quick ? 500 : 5000, steps: 3 };
    const engine = backendName.split(' ')[0];

    const search = async (label, extra) => {
      const t0 = performance.now();
      const r = await pipeline([budget({ ...options, ...extra })]).run(checkpoint, { data: { train }, runtime, seed, evaluateEachStage: false });
      const seconds = (performance.now() - t0) / 1000;
      const details = r.stages[0].details.search;
      log(`${label}: ${details.trials} trials in ${seconds.toFixed(1)} s; chose ${JSON.stringify(details.config)}`);
      return { graph: r.graph, seconds, details };
    };
    const one = await search('1 thread', { workers: 1 });
    const two = await search('2 worker threads', { workers: 2 });
    let queued;
    if (hasRedisServer) {
      const redis = await startRedis();
      const stop = await startWorkers(redis.url, 2, engine);
      try {
        queued = await search('2 BullMQ workers', { queue: redis.url });
      } finally {
        await stop();
        await redis.stop();
      }
    } else log('redis-server is not installed: no BullMQ timing');

    const chosen = one.details.config;
    const same = [two, queued].filter(Boolean).every((s) => JSON.stringify(s.details.config) === JSON.stringify(chosen));
    const epochs = quick ? 1 : 8;
    const tuned = cloneGraph(one.graph);
    await pipeline([finetune({ epochs, learningRate: 1e-4, batchSize: p.batchSize })]).run(tuned, { data: { train }, runtime, seed, evaluateEachStage: false });
    const acc = await accuracy(tuned, test);
    const c = cost(tuned).totals;
    log(`fine-tuned ${epochs} epochs: ${pct(acc)} (checkpoint ${pct(checkpointAccuracy)}), ${c.bytes} bytes, ${round(c.float32Bytes / c.bytes, 2)}x`);
    return {
      backend: backendName,
      dataset: fm.sizes,
      metrics: {
        ratio: round(c.float32Bytes / c.bytes, 2),
        accuracy: round(acc),
        checkpoint_accuracy: round(checkpointAccuracy),
        one_shot_accuracy: round(one.details.measured.accuracy),
        trials: one.details.trials,
        search_s_1_thread: round(one.seconds, 1),
        search_s_2_threads: round(two.seconds, 1),
        ...(queued ? { search_s_2_bullmq: round(queued.seconds, 1) } : {}),
        same_choice: same ? 1 : 0,
        finetune_epochs: epochs,
      },
      tables: { chosen: [...new Set([...Object.keys(chosen.prune), ...Object.keys(chosen.bits)])].map((layer) => ({ layer, sparsity: chosen.prune[layer] ?? 0, bits: chosen.bits[layer] ?? 32 })) },
      notes: [
        `Search on validation data held out of the training set (${options.validation} examples, ${options.samples} per trial); test accuracy measured once, after fine-tuning.`,
        `Pretraining ${p.pretrain.epochs} epochs; the hand-tuned comparison (deep-compression-mlp: same checkpoint recipe, ${quick ? 'quick' : 'full'} retraining) is not run here.`,
      ],
    };
  },
};
