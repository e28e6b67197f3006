// Number formatting for the report; a missing value prints as an em dash.
import { finite } from './svg.js';

const DASH = '—';

/** Decimal units (kB = 1000 B), as the compression literature reports sizes. */
export function fmtBytes(v: unknown): string {
  const n = finite(v);
  if (n === undefined) return DASH;
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let x = n;
  let u = -1;
  while (x >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  // Three significant digits, no trailing zeros: 1.07 MB, 26.3 kB, 50 kB.
  return `${Number(x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2))} ${units[u]}`;
}

// One formatter for the whole page: toLocaleString builds a new one per call.
const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Exact integer with thousands separators (params, non-zeros). */
export function fmtInt(v: unknown): string {
  const n = finite(v);
  return n === undefined ? DASH : INT.format(Math.round(n));
}

/** Short count: 266k, 1.2M, 3.4G (MACs). */
export function fmtShort(v: unknown): string {
  const n = finite(v);
  if (n === undefined) return DASH;
  const units: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [d, s] of units) if (Math.abs(n) >= d) return `${trim(n / d)}${s}`;
  return trim(n);
}

function trim(x: number): string {
  return String(Number(x.toFixed(Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2)));
}

/** A fraction in [0, 1] as a percentage. */
export function fmtPct(v: unknown, digits = 2): string {
  const n = finite(v);
  return n === undefined ? DASH : `${(n * 100).toFixed(digits)}%`;
}

/** Signed difference of two fractions, in percentage points. */
export function fmtDeltaPts(v: unknown): string {
  const n = finite(v);
  if (n === undefined) return '';
  const pts = n * 100;
  return `${pts > 0 ? '+' : pts < 0 ? '−' : '±'}${Math.abs(pts).toFixed(2)} pt`;
}

export function fmtRatio(v: unknown): string {
  const n = finite(v);
  return n === undefined || n <= 0 ? DASH : `${n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)}×`;
}

export function fmtMs(v: unknown): string {
  const n = finite(v);
  if (n === undefined) return DASH;
  if (n < 1000) return `${Math.round(n)} ms`;
  const s = n / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** A compact tick label for weights: 0.05, -0.1, 1e-4. */
export function fmtNum(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e4) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

/** An ISO timestamp as "2025-01-31 14:05 UTC"; anything else verbatim. */
export function fmtDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
