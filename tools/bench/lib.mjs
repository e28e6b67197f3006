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
  return { train: fm.train, test: fm.test, source: fm.source, sizes: { train: fm.train.count, test: fm.test.count, source: fm.source.kind === 'embedded' ? 'embedded subset' : fm.source.dir } };
}

export const asData = (s) => ({ x: s.images, y: s.labels, count: s.count, shape: [...s.shape] });

/** Select the backend (option, CONDENSE_BACKEND, best available) and return its description. */
export async function benchBackend(name) {
  await tfjs.selectBackend(name);
  return tfjs.describeBackend();
}

/** Train in place with Adam; logs one line per epoch. */
export async function fit(graph, split, { epochs, lr = 1e-3, batchSize = 128, seed = 1, log = () => {}, contributions = [], label = 'train' }) {
  return tfjs.train(graph, asData(split), {
    epochs,
    batchSize,
    learningRate: lr,
    seed,
    contributions,
    onEvent: (e) => {
      if (e.type === 'epochEnd') log(`${label} epoch ${e.epoch + 1}/${epochs} loss ${e.loss?.toFixed(4)} acc ${(e.accuracy * 100).toFixed(2)}% ${Math.round(e.samplesPerSec ?? 0)} samples/s`);
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

export const round = (x, digits = 4) => (Number.isFinite(x) ? +x.toFixed(digits) : x);
