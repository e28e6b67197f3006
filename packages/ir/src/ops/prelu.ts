/** PReLU: x for x > 0, alpha x otherwise, with a learned alpha per position and channel (shared along `sharedAxes`). */
import { formatShape } from '../errors.js';
import { fail, registerOp, type OpContext } from './registry.js';
import type { Attrs } from '../types.js';

/** Keras' shared_axes: non-batch axes numbered from 1 along which one alpha is shared. */
export const sharedAxes = (attrs: Attrs): number[] => (attrs.sharedAxes as number[] | undefined) ?? [];

/** alpha's shape: the input's without the batch, 1 along the shared axes. */
function alphaShape(ctx: OpContext): number[] {
  const s = ctx.inputs[0];
  const shared = sharedAxes(ctx.node.attrs);
  if (shared.some((a) => !(Number.isInteger(a) && a >= 1 && a < s.length)))
    fail(ctx, `sharedAxes ${JSON.stringify(shared)} must be non-batch axes of ${formatShape(s)}, numbered from 1`);
  return s.slice(1).map((d, i) => {
    if (shared.includes(i + 1)) return 1;
    if (d === null) fail(ctx, `dimension ${i + 1} of ${formatShape(s)} must be known or shared`);
    return d;
  });
}

registerOp({
  op: 'prelu',
  arity: 1,
  params: { alpha: { kind: 'other', shape: alphaShape } },
  inferShape: (ctx) => {
    if (ctx.inputs[0].length < 2) fail(ctx, `expects an input of rank >= 2, got ${formatShape(ctx.inputs[0])}`);
    return ctx.inputs[0];
  },
  // alpha's last axis follows the channels (unless shared along them: then the group keeps them whole).
  channels: { kind: 'elementwise', params: [{ role: 'alpha', axis: -1 }] },
  channelValues: () => ({ scale: 'nonNegative', constant: (k) => (k === undefined ? undefined : k >= 0 ? k : undefined) }),
});
