/** Reference pooling: windowed (2-D and 1-D) and global max / average. */
import { sizeOf } from '../../graph.js';
import { pool2, single, strides2, type Padding } from '../../ops/common.js';
import type { PoolKind } from '../../ops/pooling.js';
import type { OpContext, RefTensor } from '../../ops/registry.js';
import { as2d, type Kernel } from './kernel.js';
import { taps, windowOf } from './windows.js';

const paddingOf = (ctx: OpContext) => (ctx.node.attrs.padding ?? 'valid') as Padding;

function poolWindows(kind: PoolKind, x: RefTensor, out: number[], k: [number, number], strides: [number, number], padding: Padding): Float64Array {
  const win = windowOf(x, out, k, strides, [1, 1], padding);
  const y = new Float64Array(sizeOf(out));
  for (let b = 0; b < win.n; b++)
    for (let oy = 0; oy < win.ho; oy++)
      for (let ox = 0; ox < win.wo; ox++) {
        const o = ((b * win.ho + oy) * win.wo + ox) * win.c;
        for (let c = 0; c < win.c; c++) {
          // Padded positions take no part: max ignores them, the average divides by real taps only.
          let acc = kind === 'max' ? -Infinity : 0;
          let count = 0;
          taps(win, b, oy, ox, (off) => {
            acc = kind === 'max' ? Math.max(acc, x.data[off + c]) : acc + x.data[off + c];
            count++;
          });
          y[o + c] = kind === 'max' ? acc : acc / count;
        }
      }
  return y;
}

export const pool2d =
  (kind: PoolKind): Kernel =>
  (inputs, ctx, out) => {
    const k = pool2(ctx.node.attrs);
    const strides = ctx.node.attrs.strides === undefined ? k : strides2(ctx.node.attrs);
    return poolWindows(kind, inputs[0], out, k, strides, paddingOf(ctx));
  };

export const pool1d =
  (kind: PoolKind): Kernel =>
  (inputs, ctx, out) => {
    const k = single(ctx.node.attrs.poolSize, 2);
    const s = single(ctx.node.attrs.strides, k);
    return poolWindows(kind, as2d(inputs[0]), [out[0], 1, out[1], out[2]], [1, k], [1, s], paddingOf(ctx));
  };

/** Max or mean over every position of each example's channels. */
export const globalPool =
  (kind: PoolKind): Kernel =>
  ([x], _ctx, out) => {
    const c = x.shape[x.shape.length - 1];
    const n = x.shape[0];
    const positions = x.data.length / (n * c);
    const y = new Float64Array(sizeOf(out)).fill(kind === 'max' ? -Infinity : 0);
    for (let b = 0; b < n; b++)
      for (let p = 0; p < positions; p++)
        for (let ch = 0; ch < c; ch++) {
          const v = x.data[(b * positions + p) * c + ch];
          y[b * c + ch] = kind === 'max' ? Math.max(y[b * c + ch], v) : y[b * c + ch] + v / positions;
        }
    return y;
  };
