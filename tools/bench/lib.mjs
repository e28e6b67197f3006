// Shared pieces of the benchmarks: data, backend, training and evaluation through the built packages.
// Benchmarks import the packages' dist builds: run `npm run build` first.
import { loadFashionMnist } from '@condense/datasets';
import * as tfjs from '@condense/tfjs';

/** Fashion-MNIST: --data DIR, else FASHION_MNIST_DIR, /usr/share/datasets/fashion-mnist, ../shared beside the repo, embedded. */
export async function benchData({ quick, data }, limits = {}) {
  const shared = new URL('../../../shared/datasets/fashion-mnist', import.meta.url).pathname;
  const { existsSync } = await import('node:fs');
  const dir = data ?? process.env.FASHION_MNIST_DIR ?? (existsSync('/usr/share/datasets/fashion-mnist') ? undefined : existsSync(shared) ? shared : undefined);
  const limit = quick ? { train: limits.quickTrain ?? 2000, test: limits.quickTest ?? 1000 } : { train: limits.train, test: limits.test };
  const fm = await loadFashionMnist({ dir, limit });
  return {
    train: fm.train,
    test: fm.test,
    source: fm.source,
    sizes: { train: fm.train.count, test: fm.test.count, source: fm.source.kind === 'embedded' ? 'embedded subset' : fm.source.dir },
  };
}

export const asData = (s) => ({ x: s.images, y: s.labels, count: s.count, shape: [...s.shape] });

/** Examples [from, to) of a split, as a split. */
export function rangeOf(split, from, to) {
  const size = split.images.length / split.count;
  const n = to - from;
  return { images: split.images.subarray(from * size, to * size), labels: split.labels.subarray(from, to), count: n, shape: [n, ...split.shape.slice(1)] };
}

/** The pipelines' runtime: train and evaluate through @condense/tfjs. */
export const runtime = tfjs.tfjsRuntime();

/** Select the backend (option, CONDENSE_BACKEND, best available) and return its description. */
export async function benchBackend(name) {
  await tfjs.selectBackend(name);
  return tfjs.describeBackend();
}

/** Train in place with Adam; logs one line per epoch. `schedule` and `stepsPerEpoch` as in @condense/tfjs train. */
export async function fit(
  graph,
  split,
  { epochs, lr = 1e-3, batchSize = 128, seed = 1, log = () => {}, contributions = [], label = 'train', schedule, stepsPerEpoch, augment },
) {
  return tfjs.train(graph, asData(split), {
    epochs,
    batchSize,
    learningRate: lr,
    seed,
    contributions,
    ...(schedule ? { schedule: typeof schedule === 'string' ? { type: schedule } : schedule } : {}),
    ...(stepsPerEpoch ? { stepsPerEpoch } : {}),
    ...(augment ? { augment } : {}),
    onEvent: (e) => {
      if (e.type === 'epochEnd')
        log(
          `${label} epoch ${e.epoch + 1}/${epochs} loss ${e.loss?.toFixed(4)} acc ${(e.accuracy * 100).toFixed(2)}% ${Math.round(e.samplesPerSec ?? 0)} samples/s`,
        );
    },
  });
}

export async function accuracy(graph, split) {
  return (await tfjs.evaluate(graph, asData(split), { batchSize: 512 })).accuracy;
}

/** Median of `repeats` timings of `fn` (ms), after `warmup` untimed calls. */
export async function medianMs(fn, { repeats = 7, warmup = 2 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Experiment overrides from a JSON environment variable, and a note saying they were used, so a
 * result run with them can never pass for the benchmark's own configuration.
 */
export function envOverrides(name) {
  const text = process.env[name];
  if (!text) return { overrides: {}, note: undefined };
  let overrides;
  try {
    overrides = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name} is not valid JSON: ${e.message}`);
  }
  return { overrides, note: `Not the benchmark's own configuration: ${name}=${text}` };
}

export const round = (x, digits = 4) => (Number.isFinite(x) ? +x.toFixed(digits) : x);

export const pct = (x) => `${(x * 100).toFixed(2)}%`;

/** Train in place through `phases` ([{ epochs, lr, schedule?, label? }]) in order; returns the epochs run. */
export async function fitPhases(graph, split, phases, common = {}) {
  for (const ph of phases) await fit(graph, split, { ...common, epochs: ph.epochs, lr: ph.lr, schedule: ph.schedule, label: ph.label ?? common.label });
  return phases.reduce((n, ph) => n + ph.epochs, 0);
}

/** Run `fn(dir)` with a fresh temporary directory, removed afterwards. */
export async function withTempDir(prefix, fn) {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Bytes of the weight shards `saveModel` writes for `graph` (model.json itself not counted). */
export async function shardBytes(graph) {
  const { stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  return withTempDir('condense-bench-', async (dir) => {
    const { files } = await tfjs.saveModel(graph, join(dir, 'model'));
    let total = 0;
    for (const f of files.slice(1)) total += (await stat(f)).size;
    return total;
  });
}
