import { rank } from './common.js';
import { fail, registerOp } from './registry.js';

/**
 * Rearranges blocks of channels into space (TF DepthToSpace, NHWC): [N, H, W, C] -> [N, H*b, W*b,
 * C/(b*b)] with b = `attrs.blockSize`. Output channel c gathers input channels c, c + C/b^2, ...,
 * which no channel flow expresses, so channel groups stop here.
 */
registerOp({
  op: 'depthToSpace',
  arity: 1,
  inferShape: (ctx) => {
    const [n, h, w, c] = rank(ctx, 0, 4);
    const b = ctx.node.attrs.blockSize;
    if (!Number.isInteger(b) || (b as number) < 2) fail(ctx, `blockSize must be an integer >= 2, got ${JSON.stringify(b)}`);
    const bs = b as number;
    if (c === null || c % (bs * bs) !== 0) fail(ctx, `${c ?? 'unknown'} channels are not a multiple of blockSize^2 = ${bs * bs}`);
    return [n, h === null ? null : h * bs, w === null ? null : w * bs, c / (bs * bs)];
  },
  channels: { kind: 'opaque' },
});
