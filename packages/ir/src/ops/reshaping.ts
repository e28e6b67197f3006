/**
 * Ops that move values without mixing channels: upSampling2d (nearest), cropping2d, repeatVector,
 * and permute (channels pass through it only when the last axis stays last).
 */
import { formatShape } from '../errors.js';
import { keepsConstant, pair, rank, sides2d } from './common.js';
import { fail, registerOp, type ChannelFlow } from './registry.js';
import type { Attrs, Node } from '../types.js';

export const upSampling = (attrs: Attrs): [number, number] => pair(attrs.size, 2);

registerOp({
  op: 'upSampling2d',
  arity: 1,
  inferShape: (ctx) => {
    const [n, h, w, c] = rank(ctx, 0, 4);
    const [sh, sw] = upSampling(ctx.node.attrs);
    if (![sh, sw].every((d) => Number.isInteger(d) && d >= 1)) fail(ctx, `size must be positive integers, got [${sh}, ${sw}]`);
    const interpolation = ctx.node.attrs.interpolation ?? 'nearest';
    if (interpolation !== 'nearest') fail(ctx, `interpolation '${String(interpolation)}' is not supported (only 'nearest')`);
    return [n, (h as number) * sh, (w as number) * sw, c];
  },
  channels: { kind: 'elementwise' },
  channelValues: keepsConstant('any'),
});

/** A Cropping2D's cropping: n, [h, w] or [[top, bottom], [left, right]] (default none). */
export const cropping2d = (p: unknown) => sides2d(p, 0);

registerOp({
  op: 'cropping2d',
  arity: 1,
  inferShape: (ctx) => {
    const [n, h, w, c] = rank(ctx, 0, 4);
    const [[t, b], [l, r]] = cropping2d(ctx.node.attrs.cropping);
    if (![t, b, l, r].every((d) => Number.isInteger(d) && d >= 0))
      fail(ctx, `cropping must be non-negative integers, got ${JSON.stringify(ctx.node.attrs.cropping)}`);
    const ho = (h as number) - t - b;
    const wo = (w as number) - l - r;
    if (ho < 1 || wo < 1) fail(ctx, `cropping [[${t}, ${b}], [${l}, ${r}]] leaves nothing of ${formatShape(ctx.inputs[0])}`);
    return [n, ho, wo, c];
  },
  channels: { kind: 'elementwise' },
  channelValues: keepsConstant('any'),
});

registerOp({
  op: 'repeatVector',
  arity: 1,
  inferShape: (ctx) => {
    const [n, c] = rank(ctx, 0, 2);
    const times = ctx.node.attrs.n;
    if (!(Number.isInteger(times) && (times as number) >= 1)) fail(ctx, `n must be a positive integer, got ${JSON.stringify(times)}`);
    return [n, times as number, c];
  },
  channels: { kind: 'elementwise' },
  channelValues: keepsConstant('any'),
});

/** Keras Permute's dims: the new order of the non-batch axes, numbered from 1. */
export const permuteDims = (attrs: Attrs): number[] => (attrs.dims as number[] | undefined) ?? [];

const keepsLastAxis = (node: Node) => {
  const dims = permuteDims(node.attrs);
  return dims.length > 0 && dims[dims.length - 1] === dims.length;
};

registerOp({
  op: 'permute',
  arity: 1,
  inferShape: (ctx) => {
    const s = ctx.inputs[0];
    const dims = permuteDims(ctx.node.attrs);
    const sorted = [...dims].sort((a, b) => a - b);
    if (dims.length !== s.length - 1 || sorted.some((d, i) => d !== i + 1)) {
      fail(ctx, `dims ${JSON.stringify(ctx.node.attrs.dims)} must order the ${s.length - 1} non-batch axes (numbered from 1) of ${formatShape(s)}`);
    }
    return [s[0], ...dims.map((d) => s[d])];
  },
  channels: (node): ChannelFlow => (keepsLastAxis(node) ? { kind: 'elementwise' } : { kind: 'opaque' }),
  channelValues: (node) => (keepsLastAxis(node) ? keepsConstant('any')() : undefined),
});
