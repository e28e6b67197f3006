/**
 * Normalizations besides batchNorm (builtin): layerNorm over the channels of each position,
 * normalization (Keras' preprocessing Normalization with its adapted statistics), and rescaling,
 * y = x * scale + offset (Keras' Rescaling; Keras 3's op nodes x + c and x * c too).
 */
import { formatShape } from '../errors.js';
import { lastDim } from './common.js';
import { fail, registerOp, type ChannelFlow, type OpContext } from './registry.js';
import type { Attrs, Node } from '../types.js';

const perChannel = (ctx: OpContext) => [lastDim(ctx, ctx.inputs[0])];

/**
 * (x - mean) / sqrt(variance + epsilon) * gamma + beta, the statistics over the last axis of each
 * position. Channels are sliced with gamma and beta, but the statistics mix them: removing a
 * channel changes the others' values, so the op gives no per-channel value facts.
 */
registerOp({
  op: 'layerNorm',
  arity: 1,
  params: {
    gamma: { kind: 'norm', optional: true, shape: perChannel },
    beta: { kind: 'norm', optional: true, shape: perChannel },
  },
  inferShape: (ctx) => {
    const s = ctx.inputs[0];
    if (s.length < 2) fail(ctx, `expects an input of rank >= 2, got ${formatShape(s)}`);
    lastDim(ctx, s);
    const eps = ctx.node.attrs.epsilon ?? 1e-3;
    if (!(typeof eps === 'number' && eps >= 0)) fail(ctx, `epsilon must be a non-negative number, got ${JSON.stringify(eps)}`);
    return s;
  },
  channels: {
    kind: 'elementwise',
    params: [
      { role: 'gamma', axis: 0 },
      { role: 'beta', axis: 0 },
    ],
  },
});

/** Keras 3's Normalization divides by max(sqrt(variance), 1e-7) (its backend epsilon). */
export const NORMALIZATION_EPSILON = 1e-7;

/** (x - mean) / max(sqrt(variance), 1e-7) per channel, in that order (Keras'). */
registerOp({
  op: 'normalization',
  arity: 1,
  params: {
    mean: { kind: 'norm', shape: perChannel },
    variance: { kind: 'norm', shape: perChannel },
  },
  inferShape: (ctx) => ctx.inputs[0],
  channels: {
    kind: 'elementwise',
    params: [
      { role: 'mean', axis: 0 },
      { role: 'variance', axis: 0 },
    ],
  },
  channelValues: () => ({
    constant: (k, c, param) => {
      if (k === undefined) return undefined;
      const at = (role: string, dflt: number) => param(role)?.data[c] ?? dflt;
      return (k - at('mean', 0)) / Math.max(Math.sqrt(at('variance', 1)), NORMALIZATION_EPSILON);
    },
  }),
});

/** Rescaling's factor and offset: numbers, or one per channel. */
export const rescaleOf = (attrs: Attrs): { scale: number | number[]; offset: number | number[] } => ({
  scale: (attrs.scale as number | number[] | undefined) ?? 1,
  offset: (attrs.offset as number | number[] | undefined) ?? 0,
});

/** Per-channel factors live in the attrs, not in params that channel removal slices: such a node keeps its channels whole. */
const scalarRescale = (node: Node) => {
  const { scale, offset } = rescaleOf(node.attrs);
  return typeof scale === 'number' && typeof offset === 'number' ? { scale, offset } : undefined;
};

registerOp({
  op: 'rescaling',
  arity: 1,
  inferShape: (ctx) => {
    const s = ctx.inputs[0];
    const c = s[s.length - 1];
    for (const [field, v] of Object.entries(rescaleOf(ctx.node.attrs))) {
      const ok = typeof v === 'number' ? Number.isFinite(v) : Array.isArray(v) && v.length === c && v.every(Number.isFinite);
      if (!ok) fail(ctx, `${field} must be a finite number or one per channel (${c}), got ${JSON.stringify(v)}`);
    }
    return s;
  },
  channels: (node): ChannelFlow => (scalarRescale(node) ? { kind: 'elementwise' } : { kind: 'opaque' }),
  channelValues: (node) => {
    const r = scalarRescale(node);
    if (!r) return undefined;
    return { scale: r.offset === 0 ? 'any' : undefined, constant: (k) => (k === undefined ? undefined : k * r.scale + r.offset) };
  },
});
