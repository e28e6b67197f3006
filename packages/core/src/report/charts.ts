// The report's charts, each an inline <svg class="chart" data-chart="..."> string.
// Marks carry <title> children, which browsers show as tooltips without any script.
import type { Snapshot } from '../snapshot.js';
import type { LayerReconstruction, LayerReport, Report, SensitivityCurve, StageReconstruction } from './data.js';
import { fmtBytes, fmtNum, fmtPct, fmtShort } from './format.js';
import { clip, esc, finite, linearScale, logScale, logTicks, niceDomain, niceTicks, plotArea, r, svgFrame, xAxis, yAxis, type Box } from './svg.js';

/** Categorical colours for per-layer series (colour-blind-friendly Okabe-Ito, then a few more). */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#8c6d31', '#7f7f7f', '#bcbd22', '#393b79'];

/** A chart with nothing to draw still renders, with a sentence saying why. */
function emptyChart(kind: string, width: number, message: string): string {
  const body = `<text class="empty" x="${width / 2}" y="60" text-anchor="middle">${esc(message)}</text>`;
  return svgFrame(kind, { width, height: 110 }, message, body, ' data-empty="true"');
}

/** Pads a value range so points do not sit on the frame; clamps to `limits`. */
function paddedDomain(values: number[], minPad: number, limits: [number, number]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = Math.max((hi - lo) * 0.12, minPad);
  const [a, b] = niceDomain(Math.max(limits[0], lo - pad), Math.min(limits[1], hi + pad), 5);
  return [Math.max(limits[0], a), Math.min(limits[1], b)];
}

function accuracyDomain(values: number[]): [number, number] {
  return paddedDomain(values, 0.005, [0, 1]);
}

export const WIDE = 1100;

/** Accuracy against stored bytes (log scale) for every stage that measured accuracy. */
export function accuracySizeChart(stages: Snapshot[]): string {
  const kind = 'accuracy-size';
  const pts = stages.filter((s) => finite(s.accuracy) !== undefined && (finite(s.bytes) ?? 0) > 0);
  if (pts.length === 0) return emptyChart(kind, WIDE, 'No accuracy was measured in this run (give the pipeline test data to evaluate each stage).');

  const b: Box = { width: WIDE, height: 360, left: 64, right: 28, top: 18, bottom: 46 };
  const { x0, x1, y0, y1 } = plotArea(b);
  const bytes = pts.map((s) => s.bytes);
  const lo = Math.min(...bytes);
  const hi = Math.max(...bytes);
  const [bx0, bx1] = lo === hi ? [lo / 2, hi * 2] : [lo / 1.35, hi * 1.35];
  const x = logScale(bx0, bx1, x0, x1);
  const [ay0, ay1] = accuracyDomain(pts.map((s) => s.accuracy as number));
  const y = linearScale(ay0, ay1, y0, y1);
  const xy = pts.map((s) => ({ px: x(s.bytes), py: y(s.accuracy as number) }));

  const grid = yAxis(b, niceTicks(ay0, ay1, 5), y, (v) => fmtPct(v, 1), 'accuracy') + xAxis(b, logTicks(bx0, bx1), x, fmtBytes, 'stored size (log scale)');
  const obstacles: LabelBox[] = xy.map(({ px, py }) => ({ x: px - 7, y: py - 7, w: 14, h: 14 }));
  let baseline = '';
  const inputAcc = finite(stages[0]?.accuracy);
  if (inputAcc !== undefined) {
    const by = r(y(inputAcc));
    // Its label sits under the line at the right end, away from the compressed (small, left) points.
    baseline = `<line class="baseline" x1="${x0}" x2="${x1}" y1="${by}" y2="${by}"/><text class="baseline-label" x="${x1 - 4}" y="${by + 14}" text-anchor="end">input accuracy</text>`;
    obstacles.push({ x: x1 - 80, y: by + 3, w: 80, h: 14 }, { x: x0, y: by - 1, w: x1 - x0, h: 2 });
  }
  const trail = `<path class="trail" d="${xy.map((p, i) => `${i ? 'L' : 'M'}${r(p.px)} ${r(p.py)}`).join('')}"/>`;
  const labels = placeLabels(
    pts.map((s, i) => ({ ...xy[i], text: `${s.index} · ${clip(s.stage, 24)}` })),
    obstacles,
    { x: x0, y: y1, w: x1 - x0, h: y0 - y1 },
  );
  const marks = pts.map((s, i) => stagePoint(s, xy[i].px, xy[i].py, i === pts.length - 1, labels[i])).join('');
  return svgFrame(kind, b, 'Accuracy against stored size, per stage', grid + baseline + trail + marks);
}

function stagePoint(s: Snapshot, px: number, py: number, last: boolean, label: string): string {
  const tip = `#${s.index} ${s.stage}: ${fmtPct(s.accuracy)} at ${fmtBytes(s.bytes)}`;
  return `<g class="stage-point"><circle class="point${last ? ' final' : ''}" cx="${r(px)}" cy="${r(py)}" r="${last ? 6 : 4.5}"><title>${esc(tip)}</title></circle>${label}</g>`;
}

interface LabelBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

function overlap(a: LabelBox, b: LabelBox): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Puts each point's label at the first nearby spot that hits no other label, point or frame edge (greedy). */
function placeLabels(points: { px: number; py: number; text: string }[], obstacles: LabelBox[], frame: LabelBox): string[] {
  const CHAR = 6.4; // average glyph width of 11.5px system-ui, enough to keep labels apart
  const spots: [number, number, 'start' | 'end' | 'middle'][] = [
    [9, -8, 'start'],
    [-9, -8, 'end'],
    [9, 16, 'start'],
    [-9, 16, 'end'],
    [0, -13, 'middle'],
    [0, 22, 'middle'],
    [9, -22, 'start'],
    [-9, -22, 'end'],
    [9, 30, 'start'],
    [-9, 30, 'end'],
  ];
  const taken = [...obstacles];
  return points.map(({ px, py, text }, i) => {
    const w = text.length * CHAR;
    const boxes = spots.map(([dx, dy, anchor]) => {
      const tx = px + dx;
      const left = anchor === 'start' ? tx : anchor === 'end' ? tx - w : tx - w / 2;
      return { tx, ty: py + dy, anchor, box: { x: left, y: py + dy - 11, w, h: 14 } };
    });
    const own = obstacles[i];
    const cost = (c: (typeof boxes)[number]) => {
      const outside = c.box.w * c.box.h - overlap(c.box, frame);
      return taken.reduce((sum, o) => sum + (o === own ? 0 : overlap(c.box, o)), 0) + outside * 2;
    };
    const best = boxes.reduce((a, c) => (cost(c) < cost(a) ? c : a));
    taken.push(best.box);
    return `<text class="point-label" x="${r(best.tx)}" y="${r(best.ty)}" text-anchor="${best.anchor}">${esc(text)}</text>`;
  });
}

/** One row per weight tensor, before and after compression, matched by node and param name. */
export interface LayerRow {
  label: string;
  before?: LayerReport;
  after?: LayerReport;
  /** Reconstruction errors the layer-wise stages recorded for this layer, in stage order. */
  reconstruction?: { index: number; stage: string; row: LayerReconstruction }[];
}

/** The rows of the layer table, each reconstruction row attached to its layer's first param row. */
export function layerRows(layers: Report['layers'], reconstruction: StageReconstruction[] = []): LayerRow[] {
  const rows = paramRows(layers);
  for (const { index, stage, layers: entries } of reconstruction) {
    for (const row of entries) {
      const target = rows.find((r) => (r.before ?? r.after)?.node === row.layer);
      if (target) (target.reconstruction ??= []).push({ index, stage, row });
    }
  }
  return rows;
}

function paramRows(layers: Report['layers']): LayerRow[] {
  const key = (l: LayerReport) => `${l.node}\u0000${l.param}`;
  const rows = new Map<string, LayerRow>();
  for (const l of layers.before) rows.set(key(l), { label: l.node, before: l });
  for (const l of layers.after) {
    const row = rows.get(key(l));
    if (row) row.after = l;
    else rows.set(key(l), { label: l.node, after: l });
  }
  // A node with several weight params (e.g. Kronecker factors) is named node/param.
  const nodes = new Map<string, number>();
  for (const row of rows.values()) nodes.set(row.label, (nodes.get(row.label) ?? 0) + 1);
  return [...rows.values()].map((row) => {
    const l = (row.before ?? row.after) as LayerReport;
    return (nodes.get(row.label) ?? 0) > 1 ? { ...row, label: `${l.node}/${l.param}` } : row;
  });
}

interface BarSpec {
  kind: string;
  title: string;
  value: (l: LayerReport) => number | undefined;
  domain: [number, number];
  ticks: number[];
  fmt: (v: number) => string;
}

/** Horizontal grouped bars, before (grey) above after (accent), one group per layer. */
export function layerBarChart(rows: LayerRow[], spec: BarSpec): string {
  if (rows.length === 0) return emptyChart(spec.kind, 520, 'The model has no weight tensors.');
  const barH = 10;
  const rowH = barH * 2 + 14;
  const b: Box = { width: 520, height: 44 + rows.length * rowH + 30, left: 150, right: 56, top: 44, bottom: 30 };
  const { x0, x1, y0 } = plotArea(b);
  const x = linearScale(spec.domain[0], spec.domain[1], x0, x1);
  const grid = xAxis(b, spec.ticks, x, spec.fmt);
  const legend = barLegend(x0, 16);
  const groups = rows
    .map((row, i) => {
      const top = b.top + i * rowH + 6;
      const name = `<text class="row-label" x="${x0 - 8}" y="${top + barH + 1}" text-anchor="end" dominant-baseline="middle">${esc(clip(row.label, 22))}<title>${esc(row.label)}</title></text>`;
      return `<g class="row">${name}${bar(row.before, 'before', top, barH, x, spec)}${bar(row.after, 'after', top + barH + 2, barH, x, spec)}</g>`;
    })
    .join('');
  const frame = `<line class="axis" x1="${x0}" x2="${x0}" y1="${b.top}" y2="${y0}"/>`;
  return svgFrame(spec.kind, b, spec.title, legend + grid + frame + groups);
}

function bar(l: LayerReport | undefined, which: 'before' | 'after', top: number, h: number, x: (v: number) => number, spec: BarSpec): string {
  const v = l ? finite(spec.value(l)) : undefined;
  const x0 = x(spec.domain[0]);
  if (v === undefined) {
    const why = l ? 'no value' : which === 'before' ? 'not in the input model' : 'removed';
    return `<text class="bar-value missing" x="${r(x0 + 4)}" y="${r(top + h / 2)}" dominant-baseline="middle">${why}</text>`;
  }
  const w = Math.max(0, x(Math.min(v, spec.domain[1])) - x0);
  const tip = `${l?.node}/${l?.param} ${which}: ${spec.fmt(v)}`;
  return (
    `<rect class="bar ${which}" x="${r(x0)}" y="${r(top)}" width="${r(w)}" height="${h}"><title>${esc(tip)}</title></rect>` +
    `<text class="bar-value" x="${r(x0 + w + 4)}" y="${r(top + h / 2)}" dominant-baseline="middle">${esc(spec.fmt(v))}</text>`
  );
}

function barLegend(x: number, y: number): string {
  const item = (dx: number, cls: string, text: string) =>
    `<rect class="swatch ${cls}" x="${x + dx}" y="${y - 9}" width="12" height="10"/><text class="legend" x="${x + dx + 17}" y="${y}">${text}</text>`;
  return `<g class="legend-group">${item(0, 'before', 'before')}${item(80, 'after', 'after')}</g>`;
}

export function sparsityChart(rows: LayerRow[]): string {
  return layerBarChart(rows, {
    kind: 'layer-sparsity',
    title: 'Per-layer sparsity, before and after',
    value: (l) => l.sparsity,
    domain: [0, 1],
    ticks: [0, 0.25, 0.5, 0.75, 1],
    fmt: (v) => fmtPct(v, v > 0 && v < 0.1 ? 1 : 0),
  });
}

export function bitsChart(rows: LayerRow[]): string {
  const max = Math.max(32, ...rows.flatMap((row) => [row.before?.bits ?? 0, row.after?.bits ?? 0]));
  // Bytes come in 8 bits: 0, 8, 16, 24, 32 for every float32 model.
  const hi = max <= 32 ? 32 : niceDomain(0, max, 4)[1];
  return layerBarChart(rows, {
    kind: 'layer-bits',
    title: 'Per-layer bits per stored weight, before and after',
    value: (l) => l.bits,
    domain: [0, hi],
    ticks: hi === 32 ? [0, 8, 16, 24, 32] : niceTicks(0, hi, 4),
    fmt: (v) => `${Number(v.toFixed(1))} b`,
  });
}

/** Histogram of one layer's non-zero weights, with codebook centroids as vertical lines. */
export function histogramChart(layer: LayerReport, label: string): string {
  const kind = 'histogram';
  const attrs = ` data-layer="${esc(label)}"`;
  const { edges, counts } = layer.histogram ?? { edges: [], counts: [] };
  const total = counts.reduce((a, c) => a + c, 0);
  const b: Box = { width: 340, height: 180, left: 46, right: 12, top: 12, bottom: 34 };
  if (total === 0 || edges.length !== counts.length + 1) {
    const body = `<text class="empty" x="${b.width / 2}" y="${b.height / 2}" text-anchor="middle">every weight is zero</text>`;
    return svgFrame(kind, b, `${label}: no non-zero weights`, body, `${attrs} data-empty="true"`);
  }
  const centroids = (layer.centroids ?? []).filter((c) => Number.isFinite(c));
  const dlo = Math.min(edges[0], ...centroids);
  const dhi = Math.max(edges[edges.length - 1], ...centroids);
  const pad = (dhi - dlo) * 0.04;
  const [lo, hi] = [dlo - pad, dhi + pad];
  const { x0, x1, y0, y1 } = plotArea(b);
  const x = linearScale(lo, hi, x0, x1);
  const [, cmax] = niceDomain(0, Math.max(...counts), 3);
  const y = linearScale(0, cmax, y0, y1);
  const axes = yAxis(b, niceTicks(0, cmax, 3), y, fmtShort) + xAxis(b, niceTicks(lo, hi, 4), x, fmtNum, 'weight value', false);
  const bars = counts
    .map((c, i) => {
      if (c === 0) return '';
      const bx = x(edges[i]);
      const w = Math.max(0.5, x(edges[i + 1]) - bx - 0.5);
      const tip = `[${fmtNum(edges[i])}, ${fmtNum(edges[i + 1])}): ${c}`;
      return `<rect class="bin" x="${r(bx)}" y="${r(y(c))}" width="${r(w)}" height="${r(y0 - y(c))}"><title>${esc(tip)}</title></rect>`;
    })
    .join('');
  const lines = centroids
    .map((c) => `<line class="centroid" x1="${r(x(c))}" x2="${r(x(c))}" y1="${y1}" y2="${y0}"><title>centroid ${esc(fmtNum(c))}</title></line>`)
    .join('');
  // Centroids go under the bars so the distribution stays readable.
  return svgFrame(kind, b, `Weight histogram of ${label}`, axes + lines + bars, attrs);
}

/** Accuracy against sparsity, one line per layer (Han et al. 2015, figure 5). */
export function sensitivityChart(curves: SensitivityCurve[]): string {
  const kind = 'sensitivity';
  const valid = curves
    .map((c) => ({ layer: c.layer, points: (c.points ?? []).filter((p) => finite(p.sparsity) !== undefined && finite(p.accuracy) !== undefined) }))
    .filter((c) => c.points.length > 0);
  if (valid.length === 0) return emptyChart(kind, WIDE, 'The sensitivity analysis produced no points.');
  const legendRow = 18;
  const b: Box = { width: WIDE, height: Math.max(360, 40 + valid.length * legendRow), left: 64, right: 180, top: 18, bottom: 46 };
  const { x0, x1, y0, y1 } = plotArea(b);
  const sp = valid.flatMap((c) => c.points.map((p) => p.sparsity));
  const [sx0, sx1] = niceDomain(Math.min(0, ...sp), Math.min(1, Math.max(...sp)), 5);
  const x = linearScale(sx0, Math.min(1, sx1), x0, x1);
  const [ay0, ay1] = accuracyDomain(valid.flatMap((c) => c.points.map((p) => p.accuracy)));
  const y = linearScale(ay0, ay1, y0, y1);
  const axes =
    yAxis(b, niceTicks(ay0, ay1, 5), y, (v) => fmtPct(v, 1), 'accuracy') +
    xAxis(b, niceTicks(sx0, Math.min(1, sx1), 5), x, (v) => fmtPct(v, 0), 'sparsity of the layer');
  const series = valid
    .map((c, i) => {
      const color = PALETTE[i % PALETTE.length];
      const pts = [...c.points].sort((a, p) => a.sparsity - p.sparsity);
      const d = pts.map((p, j) => `${j ? 'L' : 'M'}${r(x(p.sparsity))} ${r(y(p.accuracy))}`).join('');
      const dots = pts
        .map(
          (p) =>
            `<circle class="series-point" cx="${r(x(p.sparsity))}" cy="${r(y(p.accuracy))}" r="3" fill="${color}"><title>${esc(`${c.layer} at ${fmtPct(p.sparsity, 0)}: ${fmtPct(p.accuracy)}`)}</title></circle>`,
        )
        .join('');
      const ly = b.top + 8 + i * legendRow;
      const legend =
        `<line class="series" x1="${x1 + 16}" x2="${x1 + 36}" y1="${ly}" y2="${ly}" stroke="${color}"/>` +
        `<text class="legend" x="${x1 + 42}" y="${ly}" dominant-baseline="middle">${esc(clip(c.layer, 18))}<title>${esc(c.layer)}</title></text>`;
      return `<g class="curve" data-layer="${esc(c.layer)}"><path class="series" d="${d}" stroke="${color}"/>${dots}${legend}</g>`;
    })
    .join('');
  return svgFrame(kind, b, 'Accuracy against sparsity, per layer', axes + series);
}
