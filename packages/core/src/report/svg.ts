// Small SVG building blocks for the report's charts: escaping, scales, ticks, axes.
// Charts are plain strings so the page renders without any script.

/** Escapes text for HTML/SVG text nodes and double- or single-quoted attributes. */
export function esc(text: unknown): string {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A finite number, or undefined (JSON turns NaN/Infinity into null). */
export function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Coordinates rounded to 0.01 px keep the markup short. */
export function r(v: number): number {
  return Math.round(v * 100) / 100;
}

export type Scale = (v: number) => number;

export function linearScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

export function logScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const s = linearScale(Math.log10(d0), Math.log10(d1), r0, r1);
  return (v) => s(Math.log10(v));
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 x 10^k, the closest to the ideal step). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const err = raw / mag;
  const step = mag * (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1);
  const ticks: number[] = [];
  // Multiples of the step, rounded, so 3 x 0.2 prints as 0.6 and not 0.6000000000000001.
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)) || 0);
  return ticks;
}

/** Widens [lo, hi] outward to the nearest nice tick step. */
export function niceDomain(lo: number, hi: number, count = 5): [number, number] {
  if (!(hi > lo)) return [lo - 1, hi + 1];
  const ticks = niceTicks(lo, hi, count);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : hi - lo;
  return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step];
}

/** Ticks for a log axis: every power of ten, plus 2 and 5 multiples when the range spans few decades. */
export function logTicks(lo: number, hi: number): number[] {
  const decades = Math.log10(hi / lo);
  const mults = decades < 1.2 ? [1, 2, 3, 5, 7] : decades < 3 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mults) {
      const t = m * 10 ** e;
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push(t);
    }
  }
  return ticks;
}

export interface Box {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export function plotArea(b: Box) {
  return { x0: b.left, x1: b.width - b.right, y0: b.height - b.bottom, y1: b.top };
}

/** The outer `<svg>` every chart shares: class "chart" and a data-chart kind that tests and CSS find. */
export function svgFrame(kind: string, b: Pick<Box, 'width' | 'height'>, label: string, body: string, attrs = ''): string {
  return (
    `<svg class="chart" data-chart="${esc(kind)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${b.width} ${b.height}" ` +
    `width="${b.width}" height="${b.height}" role="img" aria-label="${esc(label)}"${attrs}>` +
    `<title>${esc(label)}</title>${body}</svg>`
  );
}

/** Horizontal grid lines with labels on the left. */
export function yAxis(b: Box, ticks: number[], y: Scale, fmt: (v: number) => string, title?: string): string {
  const { x0, x1, y0, y1 } = plotArea(b);
  const lines = ticks
    .map((t) => {
      const py = r(y(t));
      return `<line class="grid" x1="${x0}" x2="${x1}" y1="${py}" y2="${py}"/><text class="tick" x="${x0 - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${esc(fmt(t))}</text>`;
    })
    .join('');
  const label = title ? `<text class="axis-title" transform="translate(14 ${r((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle">${esc(title)}</text>` : '';
  return lines + label;
}

/** Vertical grid lines (or short ticks) with labels below the plot. */
export function xAxis(b: Box, ticks: number[], x: Scale, fmt: (v: number) => string, title?: string, grid = true): string {
  const { x0, x1, y0, y1 } = plotArea(b);
  const lines = ticks
    .map((t) => {
      const px = r(x(t));
      const line = grid
        ? `<line class="grid" x1="${px}" x2="${px}" y1="${y1}" y2="${y0}"/>`
        : `<line class="axis" x1="${px}" x2="${px}" y1="${y0}" y2="${y0 + 4}"/>`;
      return `${line}<text class="tick" x="${px}" y="${y0 + 16}" text-anchor="middle">${esc(fmt(t))}</text>`;
    })
    .join('');
  const base = `<line class="axis" x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}"/>`;
  const label = title ? `<text class="axis-title" x="${r((x0 + x1) / 2)}" y="${b.height - 6}" text-anchor="middle">${esc(title)}</text>` : '';
  return lines + base + label;
}

/** Cuts long (user-supplied) names for axis labels; the full name goes in a <title>. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
