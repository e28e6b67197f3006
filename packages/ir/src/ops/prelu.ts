/**
 * PReLU: x for x > 0, alpha x otherwise. alpha is any shape that broadcasts into the input without
 * its batch: one per channel [C] or [1, 1, C], one per position and channel [H, W, C], ... Keras'
 * `sharedAxes` (non-batch axes numbered from 1) fixes its layout: the input's, 1 along those axes.
 */
import { formatShape } from '../errors.js';
import { broadcastIndex, broadcastInto, channelValue } from './broadcast.js';
import { lastDim } from './common.js';
import { fail, registerOp, type OpContext } from './registry.js';
import type { Attrs } from '../types.js';

/** Keras' shared_axes: non-batch axes numbered from 1 along which one alpha is shared. */
export const sharedAxes = (attrs: Attrs): number[] => (attrs.sharedAxes as number[] | undefined) ?? [];

/** With `sharedAxes`, Keras' layout: the input's shape without the batch, 1 along the shared axes. */
function kerasAlphaShape(ctx: OpContext, shared: number[]): number[] {
  const s = ctx.inputs[0];
  if (shared.some((a) => !(Number.isInteger(a) && a >= 1 && a < s.length)))
    fail(ctx, `sharedAxes ${JSON.stringify(shared)} must be non-batch axes of ${formatShape(s)}, numbered from 1`);
  return s.slice(1).map((d, i) => {
    if (shared.includes(i + 1)) return 1;
    if (d === null) fail(ctx, `dimension ${i + 1} of ${formatShape(s)} must be known or shared`);
    return d;
  });
}

/** alpha's shape: Keras' layout when `sharedAxes` is set, else any shape that broadcasts into the input. */
function alphaShape(ctx: OpContext): number[] {
  const shared = sharedAxes(ctx.node.attrs);
  return shared.length ? kerasAlphaShape(ctx, shared) : broadcastInto(ctx, 'alpha', ctx.inputs[0]);
}

registerOp({
  op: 'prelu',
  arity: 1,
  params: { alpha: { kind: 'other', shape: alphaShape } },
  inferShape: (ctx) => {
    if (ctx.inputs[0].length < 2) fail(ctx, `expects an input of rank >= 2, got ${formatShape(ctx.inputs[0])}`);
    lastDim(ctx, ctx.inputs[0]);
    return ctx.inputs[0];
  },
  // alpha's last axis follows the channels; shared along them (length 1), it is not sliced.
  channels: { kind: 'elementwise', params: [{ role: 'alpha', axis: -1, broadcast: true }] },
  reference: ([x], ctx) => {
    const a = ctx.param('alpha')!;
    const at = broadcastIndex(x.shape, a.shape);
    return { shape: x.shape, data: x.data.map((v, i) => (v > 0 ? v : a.data[at(i)] * v)) };
  },
  // prelu(s x) = s prelu(x) for s >= 0; a constant channel k becomes alpha k when alpha is per channel.
  channelValues: () => ({
    scale: 'nonNegative',
    constant: (k, c, param) => {
      if (k === undefined || k >= 0) return k;
      const a = channelValue(param('alpha'), c);
      return a === undefined ? undefined : a * k;
    },
  }),
});
