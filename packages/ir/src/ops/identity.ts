import { registerOp } from './registry.js';

/** The identity: the output is the input (a graph model's Identity, often naming an output). */
registerOp({
  op: 'identity',
  arity: 1,
  inferShape: (ctx) => ctx.inputs[0],
  channels: { kind: 'elementwise' },
  reference: ([x]) => ({ shape: x.shape, data: x.data.slice() }),
  channelValues: () => ({ scale: 'any', constant: (k) => k }),
});
