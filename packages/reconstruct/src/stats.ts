import { windowOut, type Padding } from '@condense/ir';
import { ReconstructError } from './errors.js';
import { kernelBlocks, type KernelBlocks, type LayerSpec } from './layout.js';

/**
 * A layer's input statistics over a calibration set, per kernel block (see `kernelBlocks`):
 * the second moments H_b = X_b^T X_b and the sums X_b^T 1, where X_b has one row per output
 * position of one example (dense: every row of the input; conv: the im2col patch of every output
 * pixel, padding zeros included) and one column per kernel row. Accumulated in float64, one
 * batch at a time, so calibration data streams with bounded memory.
 */
export interface LayerStats {
  readonly spec: LayerSpec;
  readonly blocks: KernelBlocks;
  /** Per block: H_b, rows x rows, row-major, symmetric. Not normalised: divide by `rows` for the mean. */
  readonly hessians: Float64Array[];
  /** Per block: the column sums of X_b. */
  readonly sums: Float64Array[];
  /** Rows of X seen: examples x output positions. */
  rows: number;
  examples: number;
  batches: number;
  /** Time spent accumulating, in milliseconds. */
  ms: number;
}

export interface StatsReport {
  layer: string;
  op: string;
  blocks: number;
  /** Size of each block's H (its kernel rows). */
  size: number;
  rows: number;
  examples: number;
  /** Bytes the statistics hold (H and sums, float64) plus the patch buffer. */
  bytes: number;
  ms: number;
}

/** Patch rows gathered before one Gram update: large enough to amortise the H sweep, small enough for cache. */
const CHUNK = 128;

export function createStats(spec: LayerSpec): LayerStats {
  const blocks = kernelBlocks(spec);
  const k = blocks.rows;
  return {
    spec,
    blocks,
    hessians: Array.from({ length: blocks.count }, () => new Float64Array(k * k)),
    sums: Array.from({ length: blocks.count }, () => new Float64Array(k)),
    rows: 0,
    examples: 0,
    batches: 0,
    ms: 0,
  };
}

export function statsReport(stats: LayerStats): StatsReport {
  const { blocks } = stats;
  const k = blocks.rows;
  return {
    layer: stats.spec.name,
    op: stats.spec.op,
    blocks: blocks.count,
    size: k,
    rows: stats.rows,
    examples: stats.examples,
    bytes: 8 * blocks.count * (k * k + k) + 8 * k * CHUNK,
    ms: stats.ms,
  };
}

/** The mean input row of block b (the mean patch, for convolutions). */
export function inputMean(stats: LayerStats, b: number): Float64Array {
  const n = stats.rows || 1;
  return stats.sums[b].map((v) => v / n);
}

/**
 * Gathers rows of X_b transposed (kernel row a, sample r at a * CHUNK + r) and folds them into
 * H_b's upper triangle and the sums every CHUNK rows.
 */
class GramChunk {
  readonly pt: Float64Array;
  used = 0;

  constructor(readonly k: number) {
    this.pt = new Float64Array(k * CHUNK);
  }

  /** Call after writing column `used`; folds a full chunk into (h, sum). */
  next(h: Float64Array, sum: Float64Array): void {
    if (++this.used === CHUNK) this.flush(h, sum);
  }

  flush(h: Float64Array, sum: Float64Array): void {
    const { k, pt, used } = this;
    const live: number[] = [];
    for (let a = 0; a < k; a++) {
      let s = 0;
      let nz = false;
      for (let r = a * CHUNK, end = r + used; r < end; r++) {
        s += pt[r];
        nz ||= pt[r] !== 0;
      }
      sum[a] += s;
      if (nz) live.push(a);
    }
    const n = live.length;
    for (let i = 0; i < n; i++) {
      const a = live[i];
      const ra = a * CHUNK;
      const ha = a * k;
      let j = i;
      // Four columns of H per pass over row a of the chunk: half the loads, twice the speed.
      for (; j + 3 < n; j += 4) {
        const b0 = live[j], b1 = live[j + 1], b2 = live[j + 2], b3 = live[j + 3];
        const r0 = b0 * CHUNK, r1 = b1 * CHUNK, r2 = b2 * CHUNK, r3 = b3 * CHUNK;
        let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        for (let r = 0; r < used; r++) {
          const x = pt[ra + r];
          d0 += x * pt[r0 + r];
          d1 += x * pt[r1 + r];
          d2 += x * pt[r2 + r];
          d3 += x * pt[r3 + r];
        }
        h[ha + b0] += d0;
        h[ha + b1] += d1;
        h[ha + b2] += d2;
        h[ha + b3] += d3;
      }
      for (; j < n; j++) {
        const rb = live[j] * CHUNK;
        let d = 0;
        for (let r = 0; r < used; r++) d += pt[ra + r] * pt[rb + r];
        h[ha + live[j]] += d;
      }
    }
    this.used = 0;
  }
}

function mirrorUpper(h: Float64Array, k: number): void {
  for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) h[b * k + a] = h[a * k + b];
}

/**
 * Fold one batch of the layer's input into the statistics. `shape` includes the batch: dense
 * [..., in] (every leading position is a row), convolutions NHWC [n, h, w, channels].
 */
export function accumulate(stats: LayerStats, input: ArrayLike<number>, shape: readonly number[]): void {
  const t0 = performance.now();
  const where = `layer '${stats.spec.name}'`;
  const size = shape.reduce((a, b) => a * b, 1);
  if (input.length !== size) throw new ReconstructError(`${where}: input has ${input.length} values, shape [${shape.join(', ')}] needs ${size}`);
  const rows = stats.spec.op === 'dense' ? accumulateDense(stats, input, shape, where) : accumulateConv(stats, input, shape, where);
  for (const h of stats.hessians) mirrorUpper(h, stats.blocks.rows);
  stats.rows += rows;
  stats.examples += shape[0];
  stats.batches++;
  stats.ms += performance.now() - t0;
}

function accumulateDense(stats: LayerStats, x: ArrayLike<number>, shape: readonly number[], where: string): number {
  const k = stats.blocks.rows;
  if (shape.length < 2 || shape[shape.length - 1] !== k) throw new ReconstructError(`${where}: a dense input must be [..., ${k}], got [${shape.join(', ')}]`);
  const n = x.length / k;
  const chunk = new GramChunk(k);
  const [h, sum] = [stats.hessians[0], stats.sums[0]];
  for (let s = 0; s < n; s++) {
    for (let a = 0; a < k; a++) chunk.pt[a * CHUNK + chunk.used] = x[s * k + a];
    chunk.next(h, sum);
  }
  chunk.flush(h, sum);
  return n;
}

/** TF 'same' padding puts the smaller half before. */
function padBefore(size: number, out: number, k: number, stride: number, dilation: number, padding: Padding): number {
  if (padding === 'valid') return 0;
  return Math.floor(Math.max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0) / 2);
}

/** Output rows, columns and the top/left padding of a convolution over an h x w input. */
export function convWindow(spec: LayerSpec, h: number, w: number): { ho: number; wo: number; top: number; left: number } {
  const [kh, kw] = spec.kernelShape;
  const [sh, sw] = spec.strides ?? [1, 1];
  const [dh, dw] = spec.dilation ?? [1, 1];
  const padding = spec.padding ?? 'valid';
  if (padding !== 'same' && padding !== 'valid') throw new ReconstructError(`layer '${spec.name}': padding must be 'same' or 'valid', got '${String(padding)}'`);
  if (![sh, sw, dh, dw].every((v) => Number.isInteger(v) && v >= 1)) throw new ReconstructError(`layer '${spec.name}': strides and dilation must be positive integers, got [${sh}, ${sw}] and [${dh}, ${dw}]`);
  const ho = windowOut(h, kh, sh, dh, padding);
  const wo = windowOut(w, kw, sw, dw, padding);
  if (ho < 1 || wo < 1) throw new ReconstructError(`layer '${spec.name}': a ${kh}x${kw} window does not fit the ${h}x${w} input`);
  return { ho, wo, top: padBefore(h, ho, kh, sh, dh, padding), left: padBefore(w, wo, kw, sw, dw, padding) };
}

/**
 * im2col, one block at a time: block b reads input channels [b * cin, (b + 1) * cin) (cin = the
 * kernel's input channels per group; 1 for depthwise), and patch row (ky * kw + kx) * cin + ci
 * is the input at tap (ky, kx), channel ci, matching the HWIO kernel's flat row order.
 */
function accumulateConv(stats: LayerStats, x: ArrayLike<number>, shape: readonly number[], where: string): number {
  const { spec, blocks } = stats;
  const [kh, kw, kin] = spec.kernelShape;
  const cin = spec.op === 'depthwiseConv2d' ? 1 : kin;
  const channels = cin * blocks.count;
  if (shape.length !== 4 || shape[3] !== channels) throw new ReconstructError(`${where}: a ${spec.op} input must be NHWC [n, h, w, ${channels}], got [${shape.join(', ')}]`);
  const [n, h, w] = shape;
  const { ho, wo, top, left } = convWindow(spec, h, w);
  const [sh, sw] = spec.strides ?? [1, 1];
  const [dh, dw] = spec.dilation ?? [1, 1];
  const chunk = new GramChunk(blocks.rows);
  const pt = chunk.pt;
  for (let b = 0; b < blocks.count; b++) {
    const [hb, sum] = [stats.hessians[b], stats.sums[b]];
    const c0 = b * cin;
    for (let e = 0; e < n; e++) for (let oy = 0; oy < ho; oy++) for (let ox = 0; ox < wo; ox++) {
      const col = chunk.used;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh - top + ky * dh;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * sw - left + kx * dw;
          const row = (ky * kw + kx) * cin;
          const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
          const base = ((e * h + iy) * w + ix) * channels + c0;
          for (let ci = 0; ci < cin; ci++) pt[(row + ci) * CHUNK + col] = inside ? x[base + ci] : 0;
        }
      }
      chunk.next(hb, sum);
    }
    chunk.flush(hb, sum);
  }
  return n * ho * wo;
}
