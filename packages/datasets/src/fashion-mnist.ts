import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readIdx, IdxFormatError, type IdxTensor } from './idx.js';
import type { Split } from './split.js';

/** Label i is FASHION_MNIST_CLASSES[i]. */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

/** Where Debian's dataset-fashion-mnist package installs the full data. */
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * The balanced subset committed in this package (10,000 train / 2,000 test).
 * src/ and dist/ are both one level below the package root, so this resolves from either.
 */
export const FASHION_MNIST_EMBEDDED_DIR = fileURLToPath(new URL('../data/fashion-mnist-subset', import.meta.url));

/** Base names of the four files; each may also be present gzip-compressed with a `.gz` suffix. */
export const FASHION_MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
type FileKey = keyof typeof FASHION_MNIST_FILES;

const SIDE = 28;

export interface FashionMnistOptions {
  /** Directory with the four IDX files. If given, it must contain them (no fallback). */
  dir?: string;
  /** Keep at most this many samples of each split (the first ones in file order). */
  limit?: { train?: number; test?: number };
}

export interface FashionMnist {
  /** Images are [count, 28, 28, 1] floats in [0, 1]; labels index FASHION_MNIST_CLASSES. */
  train: Split;
  test: Split;
  /** 'embedded' when the data is the subset shipped in this package. */
  source: { kind: 'dir' | 'embedded'; dir: string };
}

/**
 * Loads Fashion-MNIST from the first of: `options.dir`, `$FASHION_MNIST_DIR`,
 * FASHION_MNIST_SYSTEM_DIR, the embedded subset. An explicitly given directory
 * (option or env) that lacks a file is an error rather than a silent fallback.
 */
export function loadFashionMnist(options: FashionMnistOptions = {}): FashionMnist {
  const { dir, files } = resolveSource(options.dir);
  return {
    train: loadSplit(files.trainImages, files.trainLabels, options.limit?.train),
    test: loadSplit(files.testImages, files.testLabels, options.limit?.test),
    source: { kind: resolve(dir) === FASHION_MNIST_EMBEDDED_DIR ? 'embedded' : 'dir', dir },
  };
}

function resolveSource(dirOption: string | undefined): { dir: string; files: Record<FileKey, string> } {
  if (dirOption !== undefined) return { dir: dirOption, files: requireFiles(dirOption, 'the dir option') };
  const envDir = process.env.FASHION_MNIST_DIR;
  if (envDir) return { dir: envDir, files: requireFiles(envDir, 'FASHION_MNIST_DIR') };
  const system = findFiles(FASHION_MNIST_SYSTEM_DIR);
  if (system.missing.length === 0) return { dir: FASHION_MNIST_SYSTEM_DIR, files: system.files };
  return { dir: FASHION_MNIST_EMBEDDED_DIR, files: requireFiles(FASHION_MNIST_EMBEDDED_DIR, 'the embedded subset') };
}

function findFiles(dir: string): { files: Record<FileKey, string>; missing: string[] } {
  const files = {} as Record<FileKey, string>;
  const missing: string[] = [];
  for (const key of Object.keys(FASHION_MNIST_FILES) as FileKey[]) {
    const base = FASHION_MNIST_FILES[key];
    const found = [`${base}.gz`, base].map((name) => join(dir, name)).find((path) => existsSync(path));
    if (found) files[key] = found;
    else missing.push(`${base}(.gz)`);
  }
  return { files, missing };
}

function requireFiles(dir: string, from: string): Record<FileKey, string> {
  const { files, missing } = findFiles(dir);
  if (missing.length > 0) {
    throw new Error(`Fashion-MNIST directory ${dir} (from ${from}) is missing ${missing.join(', ')}`);
  }
  return files;
}

/** Reads one split, converting only the first `limit` images to floats. */
function loadSplit(imagesPath: string, labelsPath: string, limit: number | undefined): Split {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new RangeError(`loadFashionMnist: limit must be an integer >= 0, got ${limit}`);
  }
  const images = expectUint8(readIdx(imagesPath), imagesPath, 3);
  const labels = expectUint8(readIdx(labelsPath), labelsPath, 1);
  const [n, rows, cols] = images.dims;
  if (rows !== SIDE || cols !== SIDE) throw new IdxFormatError(imagesPath, `expected ${SIDE}x${SIDE} images, got ${rows}x${cols}`);
  if (labels.dims[0] !== n) throw new IdxFormatError(labelsPath, `has ${labels.dims[0]} labels but ${imagesPath} has ${n} images`);

  const count = Math.min(n, limit ?? n);
  const pixels = new Float32Array(count * SIDE * SIDE);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  const labelData = labels.data.slice(0, count);
  const bad = labelData.findIndex((l) => l >= FASHION_MNIST_CLASSES.length);
  if (bad >= 0) throw new IdxFormatError(labelsPath, `label ${labelData[bad]} at index ${bad} is not a Fashion-MNIST class (0-9)`);
  return { images: pixels, labels: labelData, count, shape: [count, SIDE, SIDE, 1] };
}

function expectUint8(t: IdxTensor, path: string, ndims: number): { dims: number[]; data: Uint8Array } {
  if (t.dtype !== 'uint8' || t.dims.length !== ndims) {
    throw new IdxFormatError(path, `expected ${ndims}-D uint8 data, got ${t.dims.length}-D ${t.dtype}`);
  }
  return t;
}
