/**
 * Pooling: windowed max / average over 2-D ([N, H, W, C]) and 1-D ([N, T, C]) inputs, and global
 * pooling over every position (optionally keeping the pooled axes as 1s). All act on each channel
 * alone; padded positions take no part, so a constant channel stays that constant, and
 * max(s x) = s max(x) needs s >= 0.
 */
import { formatShape } from '../errors.js';
import { checkPositive, keepsConstant, pool2, rank, single, spatialOut, strides2, windowOut, type Padding } from './common.js';
import { fail, registerOp } from './registry.js';

export type PoolKind = 'max' | 'avg';

const scalePass = (kind: PoolKind) => (kind === 'max' ? 'nonNegative' : 'any');

for (const kind of ['max', 'avg'] as const) {
  registerOp({
    op: `${kind}Pool2d`,
    arity: 1,
    inferShape: (ctx) => {
      const s = rank(ctx, 0, 4);
      const k = pool2(ctx.node.attrs);
      checkPositive(ctx, 'poolSize', k);
      const strides = ctx.node.attrs.strides === undefined ? k : strides2(ctx.node.attrs);
      const [ho, wo] = spatialOut(ctx, k, strides, [1, 1]);
      return [null, ho, wo, s[3]];
    },
    channels: { kind: 'elementwise' },
    channelValues: keepsConstant(scalePass(kind)),
  });

  registerOp({
    op: `${kind}Pool1d`,
    arity: 1,
    inferShape: (ctx) => {
      const [, t, c] = rank(ctx, 0, 3);
      const k = single(ctx.node.attrs.poolSize, 2);
      const stride = single(ctx.node.attrs.strides, k);
      checkPositive(ctx, 'poolSize and strides', [k, stride]);
      const padding = (ctx.node.attrs.padding ?? 'valid') as Padding;
      if (padding !== 'same' && padding !== 'valid') fail(ctx, `padding must be 'same' or 'valid', got '${String(padding)}'`);
      if (t === null) fail(ctx, `the steps must be known, got ${formatShape(ctx.inputs[0])}`);
      const out = windowOut(t, k, stride, 1, padding);
      if (out < 1) fail(ctx, `a window of ${k} does not fit ${t} steps`);
      return [null, out, c];
    },
    channels: { kind: 'elementwise' },
    channelValues: keepsConstant(scalePass(kind)),
  });

  // Global pooling over the positions of [N, H, W, C] (2d) or [N, T, C] (1d).
  for (const [dims, r] of [
    ['2d', 4],
    ['1d', 3],
  ] as const) {
    registerOp({
      op: `global${kind === 'max' ? 'Max' : 'Avg'}Pool${dims}`,
      arity: 1,
      inferShape: (ctx) => {
        const s = rank(ctx, 0, r);
        return ctx.node.attrs.keepDims ? [null, ...Array<number>(r - 2).fill(1), s[r - 1]] : [null, s[r - 1]];
      },
      channels: { kind: 'elementwise' },
      channelValues: keepsConstant(scalePass(kind)),
    });
  }
}
