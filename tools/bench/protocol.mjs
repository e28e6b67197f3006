// The measuring protocol every benchmark follows (DESIGN.md "Conventions", issue 26):
// - every choice is made on a validation split held out of the training set (`protocolData`);
// - the test split is measured once per final configuration, and only through `Protocol.test`,
//   which records each use (the result lists them; a second use of one label is an error);
// - headlines are mean ± std over seeds, for the compressed model and its fair baseline alike
//   (`overSeeds`, `seedMetrics`); a long benchmark can run as one part per seed (`seedParts`),
//   which the report merges back into one result (`mergeParts`).
import { accuracy, benchData, rangeOf } from './lib.mjs';

/** Validation images held out of the training set: the last 5,000 of the 60,000 (full runs). */
export const VALIDATION_COUNT = 5000;
/** --quick: the last 500 training images. */
export const QUICK_VALIDATION_COUNT = 500;
/** Seeds of a full run unless `--seeds` says otherwise; a --quick run uses one. */
export const FULL_SEEDS = 3;

/**
 * The data of one benchmark run under the protocol. `train` and `validation` are plain splits;
 * the test split is reachable only through `test(label)` (or `testAccuracy`), which records the use.
 */
export class Protocol {
  #test;
  #uses = [];

  constructor({ train, validation, test, source, validationSplit }) {
    this.train = train;
    this.validation = validation;
    this.#test = test;
    this.source = source;
    this.validationSplit = validationSplit;
  }

  /**
   * The test split, for measuring the final configuration `label` (e.g. 'seed 2: pruned'). Each
   * label may be measured once: a second call means something looked at the test set twice.
   */
  test(label) {
    if (typeof label !== 'string' || label === '') throw new Error('protocol: test(label) needs the name of the final configuration it measures');
    if (this.#uses.includes(label))
      throw new Error(`protocol: the test split was already measured for '${label}' (the test set is measured once per final configuration)`);
    this.#uses.push(label);
    return this.#test;
  }

  /** Test accuracy of `graph`, the final configuration `label` (recorded). */
  async testAccuracy(graph, label) {
    return accuracy(graph, this.test(label));
  }

  /** Every test use so far, in order. */
  get testUses() {
    return [...this.#uses];
  }

  /** What the result records: the split and every use of the test set. */
  record() {
    return { validation_split: this.validationSplit, test_uses: this.testUses };
  }

  /** Dataset sizes for the result. */
  sizes(extra = {}) {
    return { train: this.train.count, validation: this.validation.count, test: this.#test.count, source: this.source, ...extra };
  }
}

/**
 * Fashion-MNIST under the protocol. The validation split is the last `validation` images of the
 * training file (of the full 60,000: images 55,000-59,999), the same for every benchmark and
 * seed and never trained on; the training split is the first `train` images of the rest (all
 * of them by default). Sizes: `train`, `validation`, `test` (full runs), `quickTrain`,
 * `quickValidation`, `quickTest` (--quick).
 */
export async function protocolData({ quick, data }, limits = {}) {
  const want = quick
    ? { train: limits.quickTrain ?? 2000, validation: limits.quickValidation ?? QUICK_VALIDATION_COUNT, test: limits.quickTest ?? 1000 }
    : { train: limits.train, validation: limits.validation ?? VALIDATION_COUNT, test: limits.test };
  // The whole training file: the validation images are its last ones.
  const fm = await benchData({ quick: false, data }, { train: undefined, test: want.test });
  const all = fm.train;
  if (!(want.validation > 0 && want.validation < all.count)) throw new Error(`protocol: validation size must be in (0, ${all.count}), got ${want.validation}`);
  const cut = all.count - want.validation;
  const trainCount = Math.min(want.train ?? cut, cut);
  return new Protocol({
    train: rangeOf(all, 0, trainCount),
    validation: rangeOf(all, cut, all.count),
    test: fm.test,
    source: fm.sizes.source,
    validationSplit: `training images ${cut}-${all.count - 1} (the last ${want.validation} of ${all.count}) held out for every choice; training on images 0-${trainCount - 1}; test set (${fm.test.count}) measured once per final configuration`,
  });
}

/** The seeds of a run: `--seeds N` consecutive seeds from `--seed`; by default 3 (full) or 1 (--quick). */
export function seedList({ quick, seed = 1, seeds }) {
  const n = seeds ?? (quick ? 1 : FULL_SEEDS);
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`--seeds must be a whole number >= 1, got ${seeds}`);
  return Array.from({ length: n }, (_, i) => seed + i);
}

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Sample standard deviation (n - 1); 0 for a single value. */
export const std = (xs) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

/**
 * Run `fn(seed, index)` once per seed, in order; each call returns `{ metrics, ... }` (flat numeric
 * metrics of that seed: the compressed model's and its fair baseline's alike). Returns the runs
 * and their `seedMetrics`.
 */
export async function overSeeds(seeds, fn, { log = () => {} } = {}) {
  const runs = [];
  for (const [i, seed] of seeds.entries()) {
    log(`seed ${seed} (${i + 1}/${seeds.length})`);
    const out = await fn(seed, i);
    runs.push({ ...out, seed, metrics: out.metrics });
  }
  return { runs, metrics: seedMetrics(runs) };
}

/**
 * Mean and sample std over the runs of every metric numeric in all of them: `k` is the mean and
 * `k_std` its standard deviation (left out when the metric is the same in every run, e.g. a
 * fixed bit width); `seeds` counts the runs. Non-numeric metrics are kept when all runs agree.
 */
export function seedMetrics(runs) {
  const out = {};
  const keys = Object.keys(runs[0]?.metrics ?? {});
  for (const k of keys) {
    const values = runs.map((r) => r.metrics[k]);
    if (values.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      out[k] = +mean(values).toPrecision(6);
      if (new Set(values).size > 1) out[`${k}_std`] = +std(values).toPrecision(3);
    } else if (values.every((v) => v === values[0])) out[k] = values[0];
  }
  out.seeds = runs.length;
  return out;
}

/** One table row per seed: `keys` of each run's metrics. */
export const seedRows = (runs, keys) => runs.map((r) => ({ seed: r.seed, ...Object.fromEntries(keys.map((k) => [k, r.metrics[k]])) }));

/** What a benchmark result records of its seeds: the per-seed metrics, for the report and for merging parts. */
export const seedRecord = (runs) => runs.map((r) => ({ seed: r.seed, metrics: r.metrics }));

/**
 * A long benchmark as one part per seed (`NAME-seed1`, ...), each a full run of its own under two
 * hours; `npm run bench -- NAME` runs them all and the report merges them into one result.
 */
export function seedParts(bench, seeds = [1, 2, 3]) {
  return seeds.map((s, i) => ({
    ...bench,
    name: `${bench.name}-seed${s}`,
    group: bench.name,
    seeds: [s],
    order: bench.order + i / 100,
    description: `${bench.description} (seed ${s} of ${seeds.join(', ')})`,
  }));
}

/**
 * One result from the parts of a split benchmark (same group): metrics from every part's seed
 * runs, tables and notes of the first part plus a row per seed, every part's commit and test uses.
 */
export function mergeParts(parts) {
  if (parts.length === 1 && !parts[0].group) return parts[0];
  const sorted = [...parts].sort((a, b) => (a.seeds?.[0] ?? 0) - (b.seeds?.[0] ?? 0));
  const runs = sorted.flatMap((p) => p.seed_runs ?? []);
  const [first] = sorted;
  const commits = [...new Set(sorted.map((p) => p.commit))];
  return {
    ...first,
    benchmark: first.group,
    description: first.description.replace(/ \(seed [^)]*\)$/, ''),
    command: `npm run bench -- ${first.group}${first.quick ? ' --quick' : ''}`,
    commit: commits.length === 1 ? commits[0] : commits.join(', '),
    seeds: runs.map((r) => r.seed),
    quick: sorted.some((p) => p.quick),
    metrics: seedMetrics(runs),
    seed_runs: runs,
    protocol: { validation_split: first.protocol?.validation_split, test_uses: sorted.flatMap((p) => p.protocol?.test_uses ?? []) },
    notes: [
      sorted.length > 1
        ? `Merged from ${sorted.length} parts, one per seed (${sorted.map((p) => p.benchmark).join(', ')}).`
        : `Only part ${first.benchmark} has run (one seed of the split benchmark).`,
      ...(first.notes ?? []),
    ],
    wall_s: +sorted.reduce((a, p) => a + (p.wall_s ?? 0), 0).toFixed(1),
  };
}

/** A mean ± std cell (4 significant digits), or the value itself when every seed agrees. */
const cell = (values) => {
  if (values.every((v) => v === values[0])) return values[0];
  if (!values.every((v) => typeof v === 'number' && Number.isFinite(v))) return values.join(' / ');
  return `${+mean(values).toPrecision(4)} ± ${+std(values).toPrecision(2)}`;
};

/** Tables of the same shape, one per seed, as one: each cell the mean ± std of the seeds' cells. */
export function meanRows(tables) {
  return tables[0].map((row, i) => Object.fromEntries(Object.keys(row).map((k) => [k, cell(tables.map((t) => t[i][k]))])));
}
