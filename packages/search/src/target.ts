/**
 * What the search must reach: `size=20x` / `bytes=200kB` (stored bytes), `macs=3x`,
 * `params=100k` (non-zero params), `latency=2x` / `latency=5ms`; a factor `Nx` is relative to
 * the model before the search.
 */

/** The measured quantity a target bounds. */
export type TargetMetric = 'bytes' | 'macs' | 'nonzero' | 'latency';

export interface Target {
  /** As the user wrote it, e.g. `size=20x`. */
  text: string;
  metric: TargetMetric;
  /** `Nx`: at most 1/N of the model's value before the search. */
  factor?: number;
  /** An absolute bound, in bytes, MACs, params or milliseconds. */
  limit?: number;
}

const KEYS: Record<string, TargetMetric> = { size: 'bytes', bytes: 'bytes', macs: 'macs', params: 'nonzero', latency: 'latency' };

const UNITS: Record<TargetMetric, Record<string, number>> = {
  bytes: { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 },
  macs: { '': 1, k: 1e3, m: 1e6, g: 1e9 },
  nonzero: { '': 1, k: 1e3, m: 1e6, g: 1e9 },
  latency: { ms: 1, s: 1000, us: 1e-3 },
};

const EXAMPLE: Record<TargetMetric, string> = { bytes: '20x or 200kB', macs: '3x or 1.5M', nonzero: '10x or 100k', latency: '2x or 5ms' };

/** Parse `--target`; errors name the option and say what is expected. */
export function parseTarget(text: string, field = '--target'): Target {
  const m = /^\s*([a-z]+)\s*=\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) throw new Error(`${field}: '${text}' is not KIND=VALUE (e.g. size=20x, bytes=200kB, macs=3x, params=100k, latency=2x)`);
  const [, key, num, rawUnit] = m;
  const metric = KEYS[key.toLowerCase()];
  if (!metric) throw new Error(`${field}: unknown target '${key}' (expected one of ${Object.keys(KEYS).join(', ')})`);
  const value = Number(num);
  const unit = rawUnit.toLowerCase();
  if (unit === 'x') {
    if (!(value > 1)) throw new Error(`${field}: '${text}': a factor must be more than 1x`);
    return { text, metric, factor: value };
  }
  const scale = UNITS[metric][unit];
  if (scale === undefined)
    throw new Error(`${field}: '${text}': ${rawUnit ? `unknown unit '${rawUnit}'` : 'no unit'} for ${key} (write e.g. ${key}=${EXAMPLE[metric]})`);
  if (!(value > 0)) throw new Error(`${field}: '${text}': the bound must be positive`);
  return { text, metric, limit: value * scale };
}

/** The bound on the metric given its value before the search. */
export function targetLimit(target: Target, before: number): number {
  return target.limit ?? before / (target.factor as number);
}

/** `--max-drop` in points of the metric (1 = one percentage point of accuracy) as a fraction. */
export function parseMaxDrop(value: string | number, field = '--max-drop'): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n < 0 || n >= 100 || (typeof value === 'string' && value.trim() === ''))
    throw new Error(`${field}: expected points of accuracy in [0, 100) (e.g. 0.5), got '${value}'`);
  return n / 100;
}
