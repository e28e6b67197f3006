import type { Snapshot, WrittenModel } from '@condense/core';
import { fmtBytes } from './progress.js';

/** A plain-text table with right-aligned numeric columns. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/**
 * The stage table: params, non-zeros, bytes, ratio against the input's own bytes (as its file
 * stores them) and against its float32 bytes, MACs, epochs trained, accuracy, time.
 */
export function stageTable(snapshots: Snapshot[]): string {
  const input = snapshots[0]?.bytes ?? 1;
  const float32 = snapshots[0]?.float32Bytes ?? 1;
  const rows = snapshots.map((s) => [
    `${s.index} ${s.stage}`,
    s.params.toLocaleString('en-US'),
    s.nonzero.toLocaleString('en-US'),
    fmtBytes(s.bytes),
    `${(input / s.bytes).toFixed(1)}x`,
    `${(float32 / s.bytes).toFixed(1)}x`,
    s.effectiveMacs.toLocaleString('en-US'),
    String(s.epochs ?? '-'),
    s.accuracy === undefined ? '-' : `${(s.accuracy * 100).toFixed(2)}%`,
    `${(s.wallMs / 1000).toFixed(1)} s`,
  ]);
  return textTable(['stage', 'params', 'non-zero', 'bytes', 'vs input', 'vs float32', 'eff. MACs', 'epochs', 'accuracy', 'time'], rows);
}

/** What a written model.json holds against the input: weight bytes, how many weights kept their encoding, which grew and why. */
export function writtenSummary(w: WrittenModel, float32Bytes: number, maxNotes = 5): string {
  const input = w.weights.reduce((a, x) => a + x.input.bytes, 0);
  const kept = w.weights.filter((x) => x.dtype === x.input.dtype && x.bytes === x.input.bytes).length;
  const byDtype = new Map<string, number>();
  for (const x of w.weights) byDtype.set(x.dtype, (byDtype.get(x.dtype) ?? 0) + 1);
  const mix = [...byDtype].map(([d, n]) => `${n} ${d}`).join(', ');
  const lines = [
    `${w.file}: ${fmtBytes(w.bytes)} of weights, ${(input / w.bytes).toFixed(1)}x vs the input's ${fmtBytes(input)}, ${(float32Bytes / w.bytes).toFixed(1)}x vs float32 (${mix}; ${kept} of ${w.weights.length} kept the input's encoding)`,
  ];
  if (w.bytes > input) lines.push(`  larger than the input: ${w.notes.length} weight(s) could not keep their input's size`);
  for (const n of w.notes.slice(0, maxNotes)) lines.push(`  ${n}`);
  if (w.notes.length > maxNotes) lines.push(`  ... and ${w.notes.length - maxNotes} more (report.html lists every weight)`);
  return lines.join('\n');
}
