import { broadcastIndex, broadcastInto, channelValue } from './broadcast.js';
import { fail, registerOp, type ChannelValues } from './registry.js';
import type { Node } from '../types.js';

/** The elementwise functions of `binaryConst`, as TF defines them (float64). */
const FNS = {
  add: (a: number, b: number) => a + b,
  sub: (a: number, b: number) => a - b,
  mul: (a: number, b: number) => a * b,
  div: (a: number, b: number) => a / b,
  maximum: (a: number, b: number) => Math.max(a, b),
  minimum: (a: number, b: number) => Math.min(a, b),
} as const;

export type BinaryFn = keyof typeof FNS;
export const BINARY_FNS = Object.keys(FNS) as BinaryFn[];

const fnOf = (node: Node): BinaryFn => node.attrs.fn as BinaryFn;

/** f(x, c), or f(c, x) when `attrs.constFirst`. */
function apply(node: Node): (x: number, c: number) => number {
  const f = FNS[fnOf(node)];
  return node.attrs.constFirst ? (x, c) => f(c, x) : f;
}

/** Which per-channel factors s pass, f(s x, c) = s f(x, c): multiplying or dividing by a constant, and x / c only. */
function scalePass(node: Node): ChannelValues['scale'] {
  const fn = fnOf(node);
  return fn === 'mul' || (fn === 'div' && !node.attrs.constFirst) ? 'any' : undefined;
}

/**
 * An elementwise op between a tensor and a constant operand (a param that broadcasts into the
 * tensor): `attrs.fn` is add, sub, mul, div, maximum or minimum, computing f(x, c), or f(c, x) with
 * `attrs.constFirst`. Graph models' unfolded batch norms and input scalings (Sub, Mul, RealDiv by
 * constants) import as this. The operand is sliced with the channels when it has a channel axis.
 */
registerOp({
  op: 'binaryConst',
  arity: 1,
  params: { operand: { kind: 'other', shape: (ctx) => broadcastInto(ctx, 'operand', ctx.inputs[0]) } },
  inferShape: (ctx) => {
    if (!Object.hasOwn(FNS, String(ctx.node.attrs.fn)))
      fail(ctx, `binaryConst needs attrs.fn, one of ${BINARY_FNS.join(', ')}; got ${JSON.stringify(ctx.node.attrs.fn)}`);
    return ctx.inputs[0];
  },
  channels: { kind: 'elementwise', params: [{ role: 'operand', axis: -1, broadcast: true }] },
  reference: ([x], ctx) => {
    const c = ctx.param('operand')!;
    const f = apply(ctx.node);
    const at = broadcastIndex(x.shape, c.shape);
    return { shape: x.shape, data: x.data.map((v, i) => f(v, c.data[at(i)])) };
  },
  channelValues: (node) => ({
    scale: scalePass(node),
    constant: (k, ch, param) => {
      const c = channelValue(param('operand'), ch);
      return k === undefined || c === undefined ? undefined : apply(node)(k, c);
    },
  }),
});
