/**
 * Token inputs: embedding (a row of `embeddings` per integer id) and notEqual (the 0/1 mask of
 * ids other than a padding value, which recurrent layers read to skip padded steps).
 */
import { formatShape } from '../errors.js';
import { kernelOf } from './common.js';
import { fail, registerOp } from './registry.js';

registerOp({
  op: 'embedding',
  arity: 1,
  params: { embeddings: { kind: 'weight', shape: (ctx) => kernelOf(ctx, 2, 'embeddings') } },
  inferShape: (ctx) => {
    const s = ctx.inputs[0];
    if (s.length < 2) fail(ctx, `expects ids of rank >= 2 (batch included), got ${formatShape(s)}`);
    return [...s, kernelOf(ctx, 2, 'embeddings')[1]];
  },
  // The ids are not channels; the embedding dimension is a new channel space.
  channels: { kind: 'produce', in: [], out: [{ role: 'embeddings', axis: 1 }] },
});

registerOp({
  op: 'notEqual',
  arity: 1,
  inferShape: (ctx) => {
    const v = ctx.node.attrs.value ?? 0;
    if (typeof v !== 'number') fail(ctx, `value must be a number, got ${JSON.stringify(v)}`);
    return ctx.inputs[0];
  },
  channels: { kind: 'opaque' },
});
