#!/usr/bin/env node
// Benchmark runner: `npm run bench -- NAME [--quick] [--data DIR] [--out FILE] [--seed N] [--backend B]`.
// One JSON result per run: a flat `metrics` object plus commit, backend, machine, dataset sizes, seed.
// `npm run bench -- all` runs every benchmark and regenerates BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '@condense/files';
import { renderBenchmarksMd } from './table.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

export async function loadBenchmarks() {
  const files = readdirSync(join(here, 'benchmarks')).filter((f) => f.endsWith('.mjs')).sort();
  const mods = await Promise.all(files.map((f) => import(pathToFileURL(join(here, 'benchmarks', f)).href)));
  // A file exports one benchmark, or several (e.g. one per network and seed).
  return mods.flatMap((m) => [m.default].flat()).sort((a, b) => a.order - b.order);
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machine() {
  const c = cpus();
  return { cores: c.length, cpu: c[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}` };
}

async function runOne(bench, opts) {
  const started = performance.now();
  const log = (msg) => console.error(`[${bench.name}] ${msg}`);
  log(`start${opts.quick ? ' (quick)' : ''}`);
  const commit = gitCommit();
  const out = await bench.run({ quick: opts.quick, data: opts.data, seed: opts.seed, backend: opts.backend, log, commit });
  const result = {
    benchmark: bench.name,
    description: bench.description,
    command: `npm run bench -- ${bench.name}${opts.quick ? ' --quick' : ''}`,
    date: new Date().toISOString(),
    commit,
    backend: out.backend,
    machine: machine(),
    seed: opts.seed,
    quick: opts.quick,
    dataset: out.dataset,
    metrics: out.metrics,
    tables: out.tables ?? {},
    targets: bench.targets ?? {},
    notes: out.notes ?? [],
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
      backend: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const benchmarks = await loadBenchmarks();
  const name = positionals[0];
  if (name === 'report') return regenerate(values.out ?? join(root, 'bench-results'), benchmarks);
  if (values.help || !name) {
    console.log(`usage: npm run bench -- NAME|all [--quick] ... | npm run bench -- report [--out DIR] (BENCHMARKS.md from DIR/*.json)\n       npm run bench -- NAME|all [--quick] [--data DIR] [--out FILE] [--seed N] [--backend wasm|cpu|node]\n\nbenchmarks:\n${benchmarks.map((b) => `  ${b.name.padEnd(24)} ${b.description}`).join('\n')}`);
    process.exit(name || values.help ? 0 : 2);
  }
  const opts = { quick: values.quick, data: values.data, seed: Number(values.seed), backend: values.backend };
  const selected = name === 'all' ? benchmarks : benchmarks.filter((b) => b.name === name);
  if (selected.length === 0) {
    console.error(`unknown benchmark '${name}'; known: ${benchmarks.map((b) => b.name).join(', ')}, all`);
    process.exit(2);
  }
  // Full runs land in bench-results/ (what BENCHMARKS.md shows); quick ones in bench-out/quick/.
  const dir = name === 'all' && values.out ? values.out : join(root, opts.quick ? 'bench-out/quick' : 'bench-results');
  for (const b of selected) {
    const r = await runOne(b, opts);
    const file = name !== 'all' && values.out ? values.out : join(dir, `${b.name}.json`);
    await writeFileAtomic(file, JSON.stringify(r, null, 2) + '\n');
    console.log(JSON.stringify(r, null, 2));
    console.error(`[${b.name}] result: ${file}`);
  }
  if (name === 'all' && !opts.quick) await regenerate(dir, benchmarks);
}

/** Rebuild BENCHMARKS.md from saved results (one JSON per benchmark, as `all` writes them). */
async function regenerate(dir, benchmarks) {
  const results = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
    .filter((r) => r.benchmark && r.metrics)
    .sort((a, b) => (benchmarks.find((x) => x.name === a.benchmark)?.order ?? 99) - (benchmarks.find((x) => x.name === b.benchmark)?.order ?? 99));
  await writeFileAtomic(join(root, 'BENCHMARKS.md'), renderBenchmarksMd(results, benchmarks));
  console.log(`BENCHMARKS.md from ${results.length} results in ${dir}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  });
}
