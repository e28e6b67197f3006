// BENCHMARKS.md from benchmark results: one table per benchmark, our figure beside the target and
// the paper's. A metric with a `NAME_std` beside it is a mean over seeds and shows as mean ± std.
const fmt = (v) =>
  typeof v === 'number'
    ? Number.isInteger(v)
      ? v.toLocaleString('en-US')
      : Math.abs(v) >= 100
        ? v.toFixed(0)
        : v.toPrecision(4)
    : v === undefined
      ? '—'
      : String(v);

/** A metric as it reads: the mean ± its std (2 significant digits) when the result has one. */
const value = (m, k) => (typeof m[k] !== 'number' || typeof m[`${k}_std`] !== 'number' ? fmt(m[k]) : `${fmt(m[k])} ± ${+m[`${k}_std`].toPrecision(2)}`);

/** The benchmark a result belongs to (a merged split benchmark by its group). */
const benchOf = (benchmarks, r) => benchmarks.find((b) => (b.group ?? b.name) === r.benchmark);

/** Seeds a result measured: its seed runs, else the one seed of an earlier single-seed run. */
const seedsOf = (r) => r.seed_runs?.length ?? r.seeds?.length ?? 1;

export function renderBenchmarksMd(results, benchmarks) {
  const lines = [
    '# Benchmarks',
    '',
    'Generated from real runs by `npm run bench -- all` (or `npm run bench -- report` over saved results); every figure below is in `bench-results/<name>.json`, with the machine, backend, commit and seeds.',
    '',
  ];
  lines.push(...provenance(results), '');
  lines.push(...summary(results, benchmarks));
  for (const r of results) {
    const bench = benchOf(benchmarks, r);
    lines.push(`## ${r.benchmark}`, '', r.description, '');
    if (!bench) lines.push('**Earlier result of a benchmark since renamed or split: kept until the next full run replaces it.**', '');
    if (r.quick) lines.push('**Quick run (small data): indicative only; the full run is `' + r.command.replace(' --quick', '') + ' --data DIR`.**', '');
    const seeds = r.seed_runs ? r.seed_runs.map((s) => s.seed).join(', ') : String(r.seed);
    lines.push(
      `Command: \`${r.command}\` · backend: ${r.backend} · machine: ${r.machine.cores} cores, ${r.machine.cpu} · ${r.date.slice(0, 10)} · commit ${shortCommits(r.commit)} · seeds ${seeds}${r.seed_runs ? ' (metrics: mean ± sample std)' : ' (one seed, earlier method)'} · ${fmt(Math.round(r.wall_s))} s`,
      '',
    );
    if (r.dataset) lines.push(`Data: ${JSON.stringify(r.dataset)}`, '');
    if (r.protocol)
      lines.push(`Protocol: ${r.protocol.validation_split}. Test set measured ${r.protocol.test_uses.length} time(s): ${r.protocol.test_uses.join('; ')}.`, '');
    lines.push('| metric | ours | target | paper |', '|---|---|---|---|');
    for (const k of Object.keys(r.metrics)) {
      if (k.endsWith('_std') && k.slice(0, -4) in r.metrics) continue;
      lines.push(`| ${k} | ${value(r.metrics, k)} | ${bench?.targets?.[k] ?? ''} | ${bench?.paper?.[k] ?? ''} |`);
    }
    if ((r.seed_runs?.length ?? 0) > 1) lines.push(...table(`per seed (${r.seed_runs.length} seeds)`, perSeed(r, bench)));
    for (const [title, rows] of Object.entries(r.tables ?? {})) lines.push(...table(title, rows));
    for (const n of r.notes ?? []) lines.push('', `- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}

function table(title, rows) {
  if (!rows.length) return [];
  const cols = Object.keys(rows[0]);
  return [
    '',
    `**${title}**`,
    '',
    `| ${cols.join(' | ')} |`,
    `|${cols.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${cols.map((c) => fmt(row[c] ?? '')).join(' | ')} |`),
  ];
}

/** Per-seed rows of the benchmark's `seedColumns`, else of every accuracy metric and every checked one. */
function perSeed(r, bench) {
  const first = r.seed_runs[0].metrics;
  const cols = bench?.seedColumns ?? Object.keys(first).filter((k) => /accuracy|drop/.test(k) || k in (bench?.checks ?? {}));
  return r.seed_runs.map((s) => ({ seed: s.seed, ...Object.fromEntries(cols.map((k) => [k, s.metrics[k]])) }));
}

const shortCommits = (c) =>
  String(c)
    .split(', ')
    .map((x) => x.slice(0, 8) + (x.endsWith('-dirty') ? '-dirty' : ''))
    .join(', ');

/** Which commit(s) the results come from: one commit is the claim `npm run bench -- all` makes. */
function provenance(results) {
  const byCommit = new Map();
  for (const r of results) for (const c of String(r.commit).split(', ')) byCommit.set(c, [...(byCommit.get(c) ?? []), r.benchmark]);
  if (byCommit.size === 1) return [`All ${results.length} results were measured at commit ${shortCommits([...byCommit.keys()][0])}.`];
  return [
    `The results come from ${byCommit.size} commits (a full \`npm run bench -- all\` measures them all at one):`,
    '',
    ...[...byCommit].map(([c, names]) => `- ${shortCommits(c)}: ${[...new Set(names)].join(', ')}`),
  ];
}

/** Accuracy beside its reference, so a drop reads at a glance. */
function shown(key, m) {
  const ref =
    key === 'accuracy'
      ? m.baseline_accuracy !== undefined
        ? 'baseline_accuracy'
        : m.pruned_accuracy !== undefined
          ? 'pruned_accuracy'
          : undefined
      : undefined;
  if (ref === undefined || typeof m.accuracy !== 'number') return value(m, key);
  return `${value(m, 'accuracy')} (${((m.accuracy - m[ref]) * 100).toFixed(2)} points vs ${value(m, ref)})`;
}

/** Whether the metrics meet a check; 'not measured' when the check reads a metric the result lacks (e.g. one of an earlier method). */
function verdict(met, metrics, seeds) {
  const missing = [];
  const read = new Proxy(metrics, { get: (m, k) => (typeof k === 'string' && !(k in m) && missing.push(k), m[k]) });
  const ok = met(read);
  if (missing.length) return `not measured (no ${[...new Set(missing)].join(', ')})`;
  return ok ? (seeds >= 3 ? 'yes' : `yes (${seeds} seed${seeds > 1 ? 's' : ''})`) : '**no**';
}

/** One row per checked target: our figure (the mean over seeds), the target, whether the mean meets it, the paper's figure. */
function summary(results, benchmarks) {
  const lines = [
    '## Summary',
    '',
    '"met" compares the mean over seeds with the target; a result of fewer than 3 seeds (an earlier method) says so.',
    '',
    '| benchmark | metric | ours | target | met | seeds | paper |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const bench = benchOf(benchmarks, r);
    const name = `[${r.benchmark}](#${r.benchmark})${r.quick ? ' (quick run)' : ''}`;
    if (!bench) lines.push(`| ${name} | | earlier result of a benchmark since renamed or split | | rerun | ${seedsOf(r)} | |`);
    for (const [key, met] of Object.entries(bench?.checks ?? {})) {
      lines.push(
        `| ${name} | ${key} | ${shown(key, r.metrics)} | ${bench.targets?.[key] ?? ''} | ${verdict(met, r.metrics, seedsOf(r))} | ${seedsOf(r)} | ${bench.paper?.[key] ?? ''} |`,
      );
    }
  }
  lines.push('');
  return lines;
}
