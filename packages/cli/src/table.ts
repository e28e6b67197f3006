import type { Snapshot } from '@condense/core';
import { fmtBytes } from './progress.js';

/** A plain-text table with right-aligned numeric columns. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** The stage table: params, non-zeros, bytes, ratio against the input's float32 bytes, MACs, epochs trained, accuracy, time. */
export function stageTable(snapshots: Snapshot[]): string {
  const base = snapshots[0]?.float32Bytes ?? 1;
  const rows = snapshots.map((s) => [
    `${s.index} ${s.stage}`,
    s.params.toLocaleString('en-US'),
    s.nonzero.toLocaleString('en-US'),
    fmtBytes(s.bytes),
    `${(base / s.bytes).toFixed(1)}x`,
    s.effectiveMacs.toLocaleString('en-US'),
    String(s.epochs ?? '-'),
    s.accuracy === undefined ? '-' : `${(s.accuracy * 100).toFixed(2)}%`,
    `${(s.wallMs / 1000).toFixed(1)} s`,
  ]);
  return textTable(['stage', 'params', 'non-zero', 'bytes', 'ratio', 'eff. MACs', 'epochs', 'accuracy', 'time'], rows);
}
