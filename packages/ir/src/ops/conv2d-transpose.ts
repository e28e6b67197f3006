import { formatShape } from '../errors.js';
import { lastDim, rank, strides2, type Padding } from './builtin.js';
import { fail, registerOp, type OpContext } from './registry.js';
import type { Shape } from '../types.js';

function kernelOf(ctx: OpContext): number[] {
  const k = ctx.param('kernel');
  if (!k) fail(ctx, `missing param role 'kernel'`);
  if (k.shape.length !== 4) fail(ctx, `param '${k.name}' (role 'kernel') must be rank 4 [h, w, out, in], got shape [${k.shape.join(', ')}]`);
  return k.shape;
}

/** TF's conv_transpose output size for an input size (Keras' deconv_output_length without output padding). */
function transposedSize(size: number | null, k: number, stride: number, padding: Padding): number | null {
  if (size === null) return null;
  return padding === 'same' ? size * stride : (size - 1) * stride + k;
}

/**
 * Transposed convolution (TF's Conv2DBackpropInput, Keras' Conv2DTranspose), NHWC, kernel
 * [h, w, out, in] (TF's layout: the forward conv's filter), optional bias [out]. The output size is `attrs.outputShape` [h, w] when given (TF's input_sizes),
 * else TF's size for the padding; a second input holding the output shape (an int32 [4] tensor
 * computed at run time) makes the height and width unknown.
 */
registerOp({
  op: 'conv2dTranspose',
  arity: 'variadic',
  params: {
    kernel: { kind: 'weight', shape: (ctx) => { const k = kernelOf(ctx); return [k[0], k[1], k[2], lastDim(ctx, ctx.inputs[0])]; } },
    bias: { kind: 'bias', optional: true, shape: (ctx) => [kernelOf(ctx)[2]] },
  },
  inferShape: (ctx): Shape => {
    const [n, h, w] = rank(ctx, 0, 4);
    const k = kernelOf(ctx);
    const padding = (ctx.node.attrs.padding ?? 'valid') as Padding;
    if (padding !== 'same' && padding !== 'valid') fail(ctx, `padding must be 'same' or 'valid', got '${String(padding)}'`);
    if (ctx.inputs.length > 2) fail(ctx, `takes the input and optionally an output-shape tensor, got ${ctx.inputs.length} inputs`);
    if (ctx.inputs.length === 2) {
      const s = ctx.inputs[1];
      if (s.length !== 1 || (s[0] !== null && s[0] !== 4)) fail(ctx, `the output-shape input must be a vector of 4, got ${formatShape(s)}`);
      return [n, null, null, k[2]];
    }
    const fixed = ctx.node.attrs.outputShape;
    if (fixed !== undefined) {
      if (!Array.isArray(fixed) || fixed.length !== 2 || !fixed.every((d) => Number.isInteger(d) && d >= 1)) fail(ctx, `outputShape must be [height, width], got ${JSON.stringify(fixed)}`);
      return [n, fixed[0] as number, fixed[1] as number, k[2]];
    }
    const [sh, sw] = strides2(ctx.node.attrs);
    return [n, transposedSize(h, k[0], sh, padding), transposedSize(w, k[1], sw, padding), k[2]];
  },
  // Every input position scatters a kh x kw x out patch.
  macs: (ctx) => {
    const [, h, w] = ctx.inputs[0];
    const k = kernelOf(ctx);
    return (h ?? 1) * (w ?? 1) * k[0] * k[1] * k[2] * k[3];
  },
  channels: { kind: 'produce', in: [{ role: 'kernel', axis: 3 }], out: [{ role: 'kernel', axis: 2 }, { role: 'bias', axis: 0 }] },
});
