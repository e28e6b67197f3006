#!/usr/bin/env node
// Benchmark runner: `npm run bench -- NAME [--quick] [--data DIR] [--out FILE] [--seed N] [--seeds N] [--backend B]`.
// One JSON result per run: a flat `metrics` object (means over the seeds, `_std` beside them) plus
// commit, backend, machine, dataset sizes, seeds, per-seed metrics and the protocol record (the
// validation split and every use of the test set; tools/bench/protocol.mjs).
// `npm run bench -- all` runs every benchmark and regenerates BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '@condense/files';
import { mergeParts, seedList } from './protocol.mjs';
import { renderBenchmarksMd } from './table.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

export async function loadBenchmarks() {
  const files = readdirSync(join(here, 'benchmarks'))
    .filter((f) => f.endsWith('.mjs'))
    .sort();
  const mods = await Promise.all(files.map((f) => import(pathToFileURL(join(here, 'benchmarks', f)).href)));
  // A file exports one benchmark, or several (e.g. one per network and seed).
  return mods.flatMap((m) => [m.default].flat()).sort((a, b) => a.order - b.order);
}

/** HEAD, with `-dirty` when tracked files other than the results differ from it (the numbers are then not that commit's). */
function gitCommit() {
  const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const dirty = git('status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench-results', ':!BENCHMARKS.md') !== '';
    return git('rev-parse', 'HEAD') + (dirty ? '-dirty' : '');
  } catch {
    return 'unknown';
  }
}

export function machine() {
  const c = cpus();
  return {
    cores: c.length,
    cpu: c[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

async function runOne(bench, opts) {
  const started = performance.now();
  const log = (msg) => console.error(`[${bench.name}] ${msg}`);
  log(`start${opts.quick ? ' (quick)' : ''}`);
  const commit = gitCommit();
  // A part of a split benchmark runs its own seed; any other the run's seeds (tools/bench/protocol.mjs).
  const seeds = bench.seeds ?? seedList(opts);
  const out = await bench.run({ quick: opts.quick, data: opts.data, seed: seeds[0], seeds, backend: opts.backend, log, commit });
  const result = {
    benchmark: bench.name,
    description: bench.description,
    ...(bench.group ? { group: bench.group } : {}),
    command: `npm run bench -- ${bench.name}${opts.quick ? ' --quick' : ''}`,
    date: new Date().toISOString(),
    commit,
    backend: out.backend,
    machine: machine(),
    seed: seeds[0],
    seeds,
    quick: opts.quick,
    dataset: out.dataset,
    metrics: out.metrics,
    tables: out.tables ?? {},
    targets: bench.targets ?? {},
    notes: out.notes ?? [],
    ...(out.protocol ? { protocol: out.protocol } : {}),
    ...(out.seedRuns ? { seed_runs: out.seedRuns } : {}),
    wall_s: +((performance.now() - started) / 1000).toFixed(1),
  };
  log(`done in ${result.wall_s}s`);
  return result;
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      data: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      seeds: { type: 'string' },
      backend: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const benchmarks = await loadBenchmarks();
  const name = positionals[0];
  if (name === 'report') return regenerate(values.out ?? join(root, 'bench-results'), benchmarks);
  if (values.help || !name) {
    console.log(
      `usage: npm run bench -- NAME|all [--quick] ... | npm run bench -- report [--out DIR] (BENCHMARKS.md from DIR/*.json)\n       npm run bench -- NAME|all [--quick] [--data DIR] [--out FILE] [--seed N] [--seeds N] [--backend wasm|cpu|node]\n       (--seeds: how many seeds from --seed; default 3, --quick 1)\n\nbenchmarks:\n${benchmarks.map((b) => `  ${b.name.padEnd(24)} ${b.description}`).join('\n')}`,
    );
    process.exit(name || values.help ? 0 : 2);
  }
  const opts = {
    quick: values.quick,
    data: values.data,
    seed: Number(values.seed),
    seeds: values.seeds === undefined ? undefined : Number(values.seeds),
    backend: values.backend,
  };
  // A split benchmark's name runs all its parts.
  // A --quick run uses one seed: of a split benchmark, its first part.
  const firstParts = (bs) => (opts.quick ? bs.filter((b) => !b.group || b === bs.find((x) => x.group === b.group)) : bs);
  const selected = firstParts(name === 'all' ? benchmarks : benchmarks.filter((b) => b.name === name || b.group === name));
  if (selected.length === 0) {
    console.error(`unknown benchmark '${name}'; known: ${benchmarks.map((b) => b.name).join(', ')}, all`);
    process.exit(2);
  }
  // Full runs land in bench-results/ (what BENCHMARKS.md shows); quick ones in bench-out/quick/.
  // --out is the file of one benchmark's result, or the directory of several (all, or a split benchmark's parts).
  const dir = selected.length > 1 && values.out ? values.out : join(root, opts.quick ? 'bench-out/quick' : 'bench-results');
  for (const b of selected) {
    const r = await runOne(b, opts);
    const file = selected.length === 1 && values.out ? values.out : join(dir, `${b.name}.json`);
    await writeFileAtomic(file, JSON.stringify(r, null, 2) + '\n');
    console.log(JSON.stringify(r, null, 2));
    console.error(`[${b.name}] result: ${file}`);
  }
  if (name === 'all' && !opts.quick) await regenerate(dir, benchmarks);
}

/** Rebuild BENCHMARKS.md from saved results (one JSON per benchmark, as `all` writes them). */
async function regenerate(dir, benchmarks) {
  const parts = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
    .filter((r) => r.benchmark && r.metrics);
  // The parts of a split benchmark (one per seed) become one result.
  const groups = new Map();
  for (const r of parts) groups.set(r.group ?? r.benchmark, [...(groups.get(r.group ?? r.benchmark) ?? []), r]);
  const order = (r) => benchmarks.find((x) => (x.group ?? x.name) === r.benchmark)?.order ?? 99;
  const results = [...groups.values()].map(mergeParts).sort((a, b) => order(a) - order(b));
  await writeFileAtomic(join(root, 'BENCHMARKS.md'), renderBenchmarksMd(results, benchmarks));
  console.log(`BENCHMARKS.md from ${results.length} results in ${dir}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  });
}
