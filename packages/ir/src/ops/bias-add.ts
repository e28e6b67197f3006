import { lastDim } from './common.js';
import { registerOp } from './registry.js';

/** x + bias, one bias per channel (the last axis): a graph model's BiasAdd that no conv absorbed. */
registerOp({
  op: 'biasAdd',
  arity: 1,
  params: { bias: { kind: 'bias', shape: (ctx) => [lastDim(ctx, ctx.inputs[0])] } },
  inferShape: (ctx) => ctx.inputs[0],
  channels: { kind: 'elementwise', params: [{ role: 'bias', axis: 0 }] },
  reference: ([x], ctx) => {
    const b = ctx.param('bias')!.data;
    return { shape: x.shape, data: x.data.map((v, i) => v + b[i % b.length]) };
  },
  // A factor does not pass through an added constant; a constant channel k becomes k + bias[c].
  channelValues: () => ({ constant: (k, c, param) => (k === undefined ? undefined : k + param('bias')!.data[c]) }),
});
