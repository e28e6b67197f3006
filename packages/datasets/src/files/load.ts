import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { memorySource, type ArrayTensor, type Chunk, type DataSource } from '@condense/core';
import { FASHION_MNIST_FILES, loadFashionMnist } from '../fashion-mnist.js';
import { readIdx } from '../idx.js';
import { readCsv } from './csv.js';
import { isFolder, readImageFolder } from './images.js';
import { readNpy, readNpz } from './npy.js';
import { pixelMap, type Preprocess } from './preprocess.js';

export interface LoadOptions extends Preprocess {
  /** Per-example shape of the model's first input: images are resized to it, CSV rows and flat arrays reshaped. */
  example?: readonly number[];
  /** Read at most this many examples (the first ones). */
  limit?: number;
}

export interface LoadedData {
  source: DataSource;
  /** Examples read. */
  count: number;
  /** One line for logs: what was read. */
  describe: string;
  /** Class names in label order (an image folder with class subfolders). */
  classes?: string[];
  /** A Fashion-MNIST directory also holds its test split. */
  test?: DataSource;
  /** The file or folder read, when it is not the path given (the name `fashion-mnist`). */
  read?: string;
}

const isFashionMnistDir = (dir: string) =>
  [FASHION_MNIST_FILES.trainImages, FASHION_MNIST_FILES.trainLabels].every((f) => existsSync(join(dir, f)) || existsSync(join(dir, `${f}.gz`)));
const isIdx = (path: string) => /-ubyte(\.gz)?$|\.idx\d?(\.gz)?$/.test(path);

/**
 * Data from a path, by what it is: a folder of images (one subfolder per class gives labels, a
 * flat folder none), a Fashion-MNIST directory (or the name `fashion-mnist`: found where it usually is), `.npy` (inputs), `.npz` (arrays `x`, `y`,
 * `weights`; other names are named inputs, `y_<output>` named targets), a CSV of numbers (a last
 * extra column is the label), or an IDX file (its `labels` sibling is the targets). Pixel bytes
 * (images, uint8 arrays) are mapped by `inputRange` and mean / std. Errors name the file.
 */
export async function loadDataPath(path: string, o: LoadOptions = {}): Promise<LoadedData> {
  if (path === FASHION_MNIST_NAME && !existsSync(path)) return fashionMnist(undefined, o);
  if (await isFolder(path)) {
    if (isFashionMnistDir(path)) return fashionMnist(path, o);
    const f = await readImageFolder(path, { ...o, example: o.example });
    return {
      source: f.source,
      count: f.count,
      ...(f.classes ? { classes: f.classes } : {}),
      describe: `${path}: ${f.count} images ${f.example.join('x')}${f.classes ? `, ${f.classes.length} classes` : ', unlabeled'}`,
    };
  }
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  const lower = path.toLowerCase();
  if (lower.endsWith('.npy')) {
    const x = fit(head(await readNpy(path), o.limit), o, path);
    return arrays({ inputs: [x] }, path, `${path}: ${x.shape[0]} examples, unlabeled`);
  }
  if (lower.endsWith('.npz')) return arrays(npzChunk(await readNpz(path), o, path), path, '');
  if (lower.endsWith('.csv')) {
    const size = o.example ? o.example.reduce((a, b) => a * b, 1) : undefined;
    if (size === undefined) throw new Error(`${path}: reading a CSV needs the model's input shape`);
    const csv = await readCsv(path, { inputSize: size, limit: o.limit });
    const n = csv.inputs.shape[0];
    const inputs = [{ ...csv.inputs, shape: [n, ...(o.example as number[])] }];
    return arrays(
      { inputs, ...(csv.targets ? { targets: [csv.targets] } : {}) },
      path,
      `${path}: ${n} rows${csv.targets ? ', last column the target' : ', unlabeled'}`,
    );
  }
  if (isIdx(lower)) return idxData(path, o);
  throw new Error(`${path}: unknown data format (an image folder, .npy, .npz, .csv or an IDX file)`);
}

/** The name `loadDataPath` takes for Fashion-MNIST found where it usually is (FASHION_MNIST_DIR, Debian's dataset-fashion-mnist, else the embedded subset). */
export const FASHION_MNIST_NAME = 'fashion-mnist';

function fashionMnist(dir: string | undefined, o: LoadOptions): LoadedData {
  const fm = loadFashionMnist({ dir, limit: { train: o.limit, test: o.limit } });
  const where = fm.source.kind === 'embedded' ? 'the embedded subset' : fm.source.dir;
  return {
    source: memorySource(splitChunk(fm.train), `${where} (train)`),
    test: memorySource(splitChunk(fm.test), `${where} (test)`),
    count: fm.train.count,
    describe: `Fashion-MNIST ${where}: ${fm.train.count} train / ${fm.test.count} test`,
    read: fm.source.dir,
  };
}

function arrays(chunk: Chunk, path: string, describe: string): LoadedData {
  const source = memorySource(chunk, path);
  const n = source.count ?? 0;
  return { source, count: n, describe: describe || `${path}: ${n} examples${chunk.targets ? '' : ', unlabeled'}` };
}

const splitChunk = (s: { images: Float32Array; labels: Uint8Array; count: number; shape: readonly number[] }): Chunk => ({
  inputs: [{ values: s.images, shape: [...s.shape], dtype: 'float32' }],
  targets: [{ values: s.labels, shape: [s.count], dtype: 'int32' }],
});

/** The first `limit` rows. */
function head(t: ArrayTensor, limit: number | undefined): ArrayTensor {
  if (limit === undefined || limit >= t.shape[0]) return t;
  const row = t.values.length / Math.max(t.shape[0], 1);
  return { ...t, values: t.values.subarray(0, limit * row), shape: [limit, ...t.shape.slice(1)] };
}

/** Pixel bytes mapped to floats; flat rows reshaped to the model input. */
function fit(t: ArrayTensor, o: LoadOptions, where: string): ArrayTensor {
  let out = t;
  if (t.values instanceof Uint8Array && t.dtype !== 'bool')
    out = { values: pixelMap(o, (o.example?.at(-1) as number | undefined) ?? 1, where)(t.values), shape: t.shape, dtype: 'float32' };
  const example = o.example;
  const n = out.shape[0];
  if (example && out.shape.length === 2 && example.length > 1 && out.shape[1] === example.reduce((a, b) => a * b, 1)) out = { ...out, shape: [n, ...example] };
  return out;
}

function npzChunk(arrays: Record<string, ArrayTensor>, o: LoadOptions, path: string): Chunk {
  const inputs: Record<string, ArrayTensor> = {};
  const targets: Record<string, ArrayTensor> = {};
  let weights: ArrayTensor | undefined;
  for (const [name, raw] of Object.entries(arrays)) {
    const t = head(raw, o.limit);
    if (['y', 'labels', 'targets'].includes(name)) targets[''] = t;
    else if (name.startsWith('y_')) targets[name.slice(2)] = t;
    else if (['weights', 'sample_weight', 'w'].includes(name)) weights = { ...t, dtype: 'float32' };
    else inputs[['x', 'inputs', 'images'].includes(name) ? '' : name.replace(/^x_/, '')] = fit(t, o, `${path}: ${name}`);
  }
  if (Object.keys(inputs).length === 0) throw new Error(`${path}: no input arrays (name them x, or after the model's inputs)`);
  const cols = (r: Record<string, ArrayTensor>) =>
    '' in r
      ? Object.keys(r).length === 1
        ? [r['']]
        : (() => {
            throw new Error(`${path}: mixes an unnamed array (x / y) with named ones (${Object.keys(r).filter(Boolean).join(', ')})`);
          })()
      : r;
  return { inputs: cols(inputs), ...(Object.keys(targets).length ? { targets: cols(targets) } : {}), ...(weights ? { weights } : {}) };
}

function idxData(path: string, o: LoadOptions): LoadedData {
  const t = readIdx(path);
  const n = Math.min(t.dims[0], o.limit ?? t.dims[0]);
  const row = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const raw = t.data.subarray(0, n * row);
  const shape = t.dims.length === 3 ? [n, t.dims[1], t.dims[2], 1] : [n, ...t.dims.slice(1)];
  const x =
    t.dtype === 'uint8'
      ? { values: pixelMap(o, shape.at(-1) as number, path)(raw), shape, dtype: 'float32' as const }
      : { values: Float32Array.from(raw), shape, dtype: 'float32' as const };
  const labelsPath = [basename(path).replace('images', 'labels').replace('idx3', 'idx1')]
    .map((b) => join(dirname(path), b))
    .find((p) => p !== path && existsSync(p));
  if (!labelsPath) return arrays({ inputs: [x] }, path, `${path}: ${n} examples, unlabeled`);
  const y = readIdx(labelsPath);
  if (y.dims[0] < n) throw new Error(`${labelsPath}: has ${y.dims[0]} labels, ${path} ${t.dims[0]} examples`);
  return arrays(
    { inputs: [x], targets: [{ values: Int32Array.from(y.data.subarray(0, n)), shape: [n], dtype: 'int32' }] },
    path,
    `${path}: ${n} examples, labels from ${labelsPath}`,
  );
}
