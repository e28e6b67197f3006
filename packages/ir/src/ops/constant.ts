import { fail, registerOp } from './registry.js';

/**
 * A constant tensor: a float weight bound as a param (role `weight` for rank >= 2, `value` for
 * scalars and vectors, so that weight-level methods take matrices by default), or a non-float
 * constant (int32, bool, string) held in attrs: `{ dtype, shape, values }`. Its shape is the
 * tensor's own (there is no batch dimension). Imported graph models use it for the constants of
 * ops the IR does not model; channels cannot be traced through it.
 */
registerOp({
  op: 'constant',
  arity: 0,
  params: {
    weight: { kind: 'weight', optional: true, shape: (ctx) => ctx.param('weight')!.shape },
    value: { kind: 'other', optional: true, shape: (ctx) => ctx.param('value')!.shape },
  },
  inferShape: (ctx) => {
    const p = ctx.param('weight') ?? ctx.param('value');
    if (p) return [...p.shape];
    const shape = ctx.node.attrs.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      fail(ctx, `a constant needs a 'weight' or 'value' param, or attrs.shape (non-negative integers); got ${JSON.stringify(shape)}`);
    return [...(shape as number[])];
  },
  channels: { kind: 'opaque' },
  reference: (_inputs, ctx) => {
    const p = ctx.param('weight') ?? ctx.param('value');
    if (p) return { shape: [...p.shape], data: Float64Array.from(p.data) };
    return { shape: [...(ctx.node.attrs.shape as number[])], data: Float64Array.from((ctx.node.attrs.values as number[] | undefined) ?? []) };
  },
});
