import { broadcastIndex, broadcastInto, channelValue } from './broadcast.js';
import { lastDim } from './builtin.js';
import { registerOp } from './registry.js';

/**
 * Parametric ReLU: x for x > 0, alpha * x otherwise, with a learned alpha per channel (shape [C],
 * or broadcasting like Keras' [1, 1, C] for shared spatial axes, or one per position [H, W, C]).
 */
registerOp({
  op: 'prelu',
  arity: 1,
  params: { alpha: { kind: 'other', shape: (ctx) => broadcastInto(ctx, 'alpha', ctx.inputs[0]) } },
  inferShape: (ctx) => {
    lastDim(ctx, ctx.inputs[0]);
    return ctx.inputs[0];
  },
  channels: { kind: 'elementwise', params: [{ role: 'alpha', axis: -1, broadcast: true }] },
  reference: ([x], ctx) => {
    const a = ctx.param('alpha')!;
    const at = broadcastIndex(x.shape, a.shape);
    return { shape: x.shape, data: x.data.map((v, i) => (v > 0 ? v : a.data[at(i)] * v)) };
  },
  // prelu(s x) = s prelu(x) for s >= 0; a constant channel k becomes prelu(k) when alpha is per channel.
  channelValues: () => ({
    scale: 'nonNegative',
    constant: (k, c, param) => {
      if (k === undefined || k >= 0) return k;
      const a = channelValue(param('alpha'), c);
      return a === undefined ? undefined : a * k;
    },
  }),
});
