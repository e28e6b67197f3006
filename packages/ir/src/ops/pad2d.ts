import { rank, zeroPadding } from './common.js';
import { fail, registerOp } from './registry.js';

export type PadMode = 'constant' | 'reflect' | 'symmetric';
const MODES: readonly PadMode[] = ['constant', 'reflect', 'symmetric'];

/**
 * Spatial padding of an NHWC tensor: `attrs.padding` [[top, bottom], [left, right]] (or a number, or
 * [h, w]), `attrs.mode` constant (with `attrs.value`, default 0), reflect or symmetric (TF's
 * MirrorPad modes: reflect does not repeat the edge, symmetric does). zeroPad2d is the constant-0 case.
 */
registerOp({
  op: 'pad2d',
  arity: 1,
  inferShape: (ctx) => {
    const [n, h, w, c] = rank(ctx, 0, 4);
    const [[t, b], [l, r]] = zeroPadding(ctx.node.attrs.padding);
    if (![t, b, l, r].every((d) => Number.isInteger(d) && d >= 0))
      fail(ctx, `padding must be non-negative integers, got ${JSON.stringify(ctx.node.attrs.padding)}`);
    const mode = (ctx.node.attrs.mode ?? 'constant') as PadMode;
    if (!MODES.includes(mode)) fail(ctx, `mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}`);
    const value = ctx.node.attrs.value ?? 0;
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(ctx, `value must be a finite number, got ${JSON.stringify(value)}`);
    // Mirror modes need the padding smaller than the size (reflect) or not larger (symmetric).
    const limit = (size: number | null, p: number) => size === null || (mode === 'reflect' ? p < size : mode === 'symmetric' ? p <= size : true);
    if (![t, b].every((p) => limit(h, p)) || ![l, r].every((p) => limit(w, p)))
      fail(ctx, `${mode} padding [[${t}, ${b}], [${l}, ${r}]] is too large for ${h}x${w}`);
    const grow = (d: number | null, a: number, z: number) => (d === null ? null : d + a + z);
    return [n, grow(h, t, b), grow(w, l, r), c];
  },
  channels: { kind: 'elementwise' },
  // Mirrored padding copies values, so a constant channel stays constant; a constant pad keeps only its own value.
  channelValues: (node) => {
    const mode = (node.attrs.mode ?? 'constant') as PadMode;
    const value = (node.attrs.value as number | undefined) ?? 0;
    if (mode !== 'constant') return { scale: 'any', constant: (k) => k };
    return { scale: value === 0 ? 'any' : undefined, constant: (k) => (k === value ? k : undefined) };
  },
});
