import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { subset } from './batches.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_EMBEDDED_DIR, FASHION_MNIST_SYSTEM_DIR, loadFashionMnist } from './fashion-mnist.js';
import type { Split } from './split.js';

// The full data lives next to the repo: <repo>/../shared/datasets/fashion-mnist.
const FULL_DIR = fileURLToPath(new URL('../../../../shared/datasets/fashion-mnist', import.meta.url));
const hasFull = existsSync(join(FULL_DIR, 'train-images-idx3-ubyte.gz'));
const SUBSET_SEED = 20170825; // see scripts/make-subset.mjs

function classCounts(split: Split): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const l of split.labels) counts[l]++;
  return counts;
}

/** Element-wise equality; expect().toEqual is far too slow on millions of floats. */
function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('loadFashionMnist', () => {
  it('exposes the 10 class names', () => {
    expect(FASHION_MNIST_CLASSES).toHaveLength(10);
    expect(FASHION_MNIST_CLASSES[9]).toBe('Ankle boot');
  });

  it('loads the embedded balanced subset', () => {
    const d = loadFashionMnist({ dir: FASHION_MNIST_EMBEDDED_DIR });
    expect(d.source).toEqual({ kind: 'embedded', dir: FASHION_MNIST_EMBEDDED_DIR });
    expect(d.train.count).toBe(10000);
    expect(d.test.count).toBe(2000);
    expect(d.train.shape).toEqual([10000, 28, 28, 1]);
    expect(d.test.shape).toEqual([2000, 28, 28, 1]);
    expect(d.train.images.length).toBe(10000 * 784);
    expect(d.train.labels.length).toBe(10000);
    expect(classCounts(d.train)).toEqual(new Array(10).fill(1000));
    expect(classCounts(d.test)).toEqual(new Array(10).fill(200));
    let min = Infinity;
    let max = -Infinity;
    for (const v of d.train.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  it.skipIf(existsSync(FASHION_MNIST_SYSTEM_DIR))('falls back to the embedded subset by default', () => {
    vi.stubEnv('FASHION_MNIST_DIR', '');
    const d = loadFashionMnist({ limit: { train: 5, test: 0 } });
    expect(d.source.kind).toBe('embedded');
    expect(d.train.count).toBe(5);
    expect(d.train.shape).toEqual([5, 28, 28, 1]);
    expect(d.train.images.length).toBe(5 * 784);
    expect(d.test.count).toBe(0);
  });

  it('rejects a bad limit', () => {
    expect(() => loadFashionMnist({ dir: FASHION_MNIST_EMBEDDED_DIR, limit: { train: -1 } })).toThrow(/limit must be/);
  });

  it('errors on a dir option missing files, naming the dir and the files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fmnist-'));
    copyFileSync(join(FASHION_MNIST_EMBEDDED_DIR, 't10k-labels-idx1-ubyte.gz'), join(dir, 't10k-labels-idx1-ubyte.gz'));
    expect(() => loadFashionMnist({ dir })).toThrow(
      `Fashion-MNIST directory ${dir} (from the dir option) is missing train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz)`,
    );
  });

  it('errors on a FASHION_MNIST_DIR missing files instead of falling back', () => {
    vi.stubEnv('FASHION_MNIST_DIR', '/nonexistent/fmnist');
    expect(() => loadFashionMnist()).toThrow(/\/nonexistent\/fmnist \(from FASHION_MNIST_DIR\) is missing train-images/);
  });

  it('names the corrupt file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fmnist-'));
    for (const f of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz']) {
      copyFileSync(join(FASHION_MNIST_EMBEDDED_DIR, f), join(dir, f));
    }
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 9)); // raw, 9 labels declared, none present
    expect(() => loadFashionMnist({ dir })).toThrow(`${join(dir, 't10k-labels-idx1-ubyte')}: truncated`);
  });

  it.skipIf(!hasFull)('FASHION_MNIST_DIR selects the full data, and the embedded subset is a seeded balanced subset of it', () => {
    vi.stubEnv('FASHION_MNIST_DIR', FULL_DIR);
    const full = loadFashionMnist();
    expect(full.source).toEqual({ kind: 'dir', dir: FULL_DIR });
    expect(full.train.count).toBe(60000);
    expect(full.test.count).toBe(10000);
    expect(classCounts(full.test)).toEqual(new Array(10).fill(1000));

    // Provenance: scripts/make-subset.mjs must agree with subset() from src/batches.ts.
    const embedded = loadFashionMnist({ dir: FASHION_MNIST_EMBEDDED_DIR });
    for (const key of ['train', 'test'] as const) {
      const expected = subset(full[key], embedded[key].count, { balanced: true, seed: SUBSET_SEED });
      expect(sameValues(embedded[key].labels, expected.labels)).toBe(true);
      expect(sameValues(embedded[key].images, expected.images)).toBe(true);
    }
  });
});
