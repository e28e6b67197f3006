import { formatShape } from '../errors.js';
import { rank } from './common.js';
import { fail, registerOp } from './registry.js';

/**
 * Resizes the spatial axes of an NHWC tensor (TF's ResizeBilinear / ResizeNearestNeighbor, Keras'
 * UpSampling2D): `attrs.method` bilinear or nearest, `attrs.alignCorners`, `attrs.halfPixelCenters`,
 * and the output size `attrs.size` [h, w], or a second input holding it (an int32 [2] tensor
 * computed at run time: the output's height and width are then unknown).
 */
registerOp({
  op: 'resize2d',
  arity: 'variadic',
  inferShape: (ctx) => {
    const [n, , , c] = rank(ctx, 0, 4);
    const method = ctx.node.attrs.method;
    if (method !== 'bilinear' && method !== 'nearest') fail(ctx, `method must be 'bilinear' or 'nearest', got ${JSON.stringify(method)}`);
    if (ctx.inputs.length > 2) fail(ctx, `takes the image and optionally a size tensor, got ${ctx.inputs.length} inputs`);
    if (ctx.inputs.length === 2) {
      // An opaque producer may not know its shape ([]); a known one must be a vector of 2.
      const s = ctx.inputs[1];
      if (s.length > 1 || (s.length === 1 && s[0] !== null && s[0] !== 2)) fail(ctx, `the size input must be a vector of 2, got ${formatShape(s)}`);
      return [n, null, null, c];
    }
    const size = ctx.node.attrs.size;
    if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 1))
      fail(ctx, `needs attrs.size [height, width] (positive integers) or a size input; got ${JSON.stringify(size)}`);
    return [n, size[0] as number, size[1] as number, c];
  },
  // Each output channel interpolates its own input channel: a constant channel stays that constant, factors pass.
  channels: { kind: 'elementwise' },
  channelValues: () => ({ scale: 'any', constant: (k) => k }),
});
