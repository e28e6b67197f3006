// BENCHMARKS.md from benchmark results: one table per benchmark, our figure beside the target and the paper's.
const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4)) : String(v));

export function renderBenchmarksMd(results, benchmarks) {
  const lines = ['# Benchmarks', '', 'Generated from real runs by `npm run bench -- all` (or `npm run bench -- report` over saved results); every figure below is in `bench-results/<name>.json`, with the machine, backend, commit and seed.', ''];
  lines.push(...summary(results, benchmarks));
  for (const r of results) {
    const bench = benchmarks.find((b) => b.name === r.benchmark);
    lines.push(`## ${r.benchmark}`, '', r.description, '');
    if (r.quick) lines.push('**Quick run (small data): indicative only; the full run is `' + r.command.replace(' --quick', '') + ' --data DIR`.**', '');
    lines.push(`Command: \`${r.command}\` · backend: ${r.backend} · machine: ${r.machine.cores} cores, ${r.machine.cpu} · ${r.date.slice(0, 10)} · commit ${r.commit.slice(0, 8)} · seed ${r.seed}`, '');
    if (r.dataset) lines.push(`Data: ${JSON.stringify(r.dataset)}`, '');
    lines.push('| metric | ours | target | paper |', '|---|---|---|---|');
    for (const [k, v] of Object.entries(r.metrics)) {
      const t = bench?.targets?.[k];
      const p = bench?.paper?.[k];
      lines.push(`| ${k} | ${fmt(v)} | ${t ?? ''} | ${p ?? ''} |`);
    }
    for (const [title, rows] of Object.entries(r.tables ?? {})) {
      if (!rows.length) continue;
      const cols = Object.keys(rows[0]);
      lines.push('', `**${title}**`, '', `| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`);
      for (const row of rows) lines.push(`| ${cols.map((c) => fmt(row[c])).join(' | ')} |`);
    }
    for (const n of r.notes ?? []) lines.push('', `- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** Accuracy beside its reference, so a drop reads at a glance. */
function shown(key, m) {
  const ref = key === 'accuracy' ? (m.baseline_accuracy ?? m.pruned_accuracy) : undefined;
  if (ref === undefined || typeof m.accuracy !== 'number') return fmt(m[key]);
  return `${fmt(m.accuracy)} (${((m.accuracy - ref) * 100).toFixed(2)} points vs ${fmt(ref)})`;
}

/** One row per checked target: our figure, the target, whether it is met, the paper's figure. */
function summary(results, benchmarks) {
  const lines = ['## Summary', '', '| benchmark | metric | ours | target | met | paper |', '|---|---|---|---|---|---|'];
  for (const r of results) {
    const bench = benchmarks.find((b) => b.name === r.benchmark);
    for (const [key, met] of Object.entries(bench?.checks ?? {})) {
      const name = `[${r.benchmark}](#${r.benchmark})${r.quick ? ' (quick run)' : ''}`;
      const ok = r.metrics[key] === undefined && key !== 'accuracy' ? 'not measured' : met(r.metrics) ? 'yes' : '**no**';
      lines.push(`| ${name} | ${key} | ${shown(key, r.metrics)} | ${bench.targets?.[key] ?? ''} | ${ok} | ${bench.paper?.[key] ?? ''} |`);
    }
  }
  lines.push('');
  return lines;
}
