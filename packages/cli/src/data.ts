import { resolve } from 'node:path';
import { loadDataPath, loadFashionMnist, parseInputRange, parseNumbers, type FashionMnist, type Preprocess, type Split } from '@condense/datasets';
import { modelSpec, type PipelineData, type RecipeData } from '@condense/core';
import type { Graph } from '@condense/ir';
import { UserError } from './errors.js';

export interface DataOptions {
  data?: string;
  limitTrain?: number;
  limitTest?: number;
}

/** Fashion-MNIST from `--data`, FASHION_MNIST_DIR, /usr/share/datasets/fashion-mnist, or the embedded subset. */
export async function loadData(o: DataOptions): Promise<{ data: { train: Split; test: Split }; source: FashionMnist['source']; describe: string }> {
  const fm = await loadFashionMnist({ dir: o.data, limit: { train: o.limitTrain, test: o.limitTest } });
  return {
    data: { train: fm.train, test: fm.test },
    source: fm.source,
    describe: `Fashion-MNIST (${fm.source.kind === 'embedded' ? 'embedded subset' : fm.source.dir}): ${fm.train.count} train / ${fm.test.count} test`,
  };
}

/** The data of a `compress` run, from flags and the recipe's `data` section. */
export interface RunDataOptions {
  /** Training data: an image folder, .npy / .npz, .csv, an IDX file or a Fashion-MNIST directory. */
  data?: string;
  val?: string;
  test?: string;
  /** Examples of each set to read (the first ones); `limitTrain` / `limitTest` per set. */
  limit?: number;
  limitTrain?: number;
  limitTest?: number;
  inputRange?: string;
  mean?: string;
  std?: string;
  /** The recipe's data section, its paths relative to `recipeDir`. */
  recipe?: RecipeData;
  recipeDir?: string;
}

export interface RunData {
  data: PipelineData;
  describe: string;
  /** The files and folders read, so that no output can replace them. */
  paths: string[];
}

/**
 * Read the run's data before any work: `--data` (training), `--val`, `--test`, else what the
 * recipe names; nothing at all when neither does (a data-free recipe). Inputs are resized /
 * reshaped to the model's first input. Errors name the file (and the example).
 */
export async function loadRunData(o: RunDataOptions, graph: Graph): Promise<RunData> {
  const r = o.recipe ?? {};
  const fromRecipe = (p: string | undefined) => (p === undefined ? undefined : resolve(o.recipeDir ?? '.', p));
  const paths = { train: o.data ?? fromRecipe(r.train), validation: o.val ?? fromRecipe(r.val), test: o.test ?? fromRecipe(r.test) };
  const example = modelSpec(graph).inputs[0]?.shape.map((d) => d ?? -1);
  const pre: Preprocess = {
    ...((o.inputRange ?? r.inputRange) ? { inputRange: parseInputRange((o.inputRange ?? r.inputRange) as string) } : {}),
    ...(o.mean ? { mean: parseNumbers(o.mean, '--mean') } : r.mean ? { mean: r.mean } : {}),
    ...(o.std ? { std: parseNumbers(o.std, '--std') } : r.std ? { std: r.std } : {}),
  };
  const limit = o.limit ?? r.limit;
  const data: PipelineData = {};
  const lines: string[] = [];
  const read: string[] = [];
  for (const kind of ['train', 'validation', 'test'] as const) {
    const path = paths[kind];
    if (path === undefined) continue;
    const setLimit = kind === 'train' ? (o.limitTrain ?? limit) : kind === 'test' ? (o.limitTest ?? limit) : limit;
    const loaded = await loadDataPath(path, { ...pre, example, limit: setLimit }).catch((e: Error) => {
      throw new UserError(e.message);
    });
    data[kind] = loaded.source;
    read.push(loaded.read ?? path);
    lines.push(`${kind}: ${loaded.describe}`);
    // A Fashion-MNIST directory given as the training data brings its test split, unless --test says otherwise.
    if (kind === 'train' && loaded.test && paths.test === undefined) {
      data.test = loaded.test;
      lines.push('test: its t10k split');
    }
  }
  return { data, describe: lines.length ? lines.join('; ') : 'no data (data-free recipe)', paths: read };
}
