/** Reference ops that move values: concat, zeroPad2d, upSampling2d, cropping2d, repeatVector, permute. */
import { sizeOf } from '../../graph.js';
import { zeroPadding } from '../../ops/common.js';
import { cropping2d, permuteDims, upSampling } from '../../ops/reshaping.js';
import type { Kernel } from './kernel.js';

export const concat: Kernel = (inputs, _ctx, out) => {
  const cout = out[out.length - 1];
  const rows = sizeOf(out) / cout;
  const y = new Float64Array(sizeOf(out));
  let off = 0;
  for (const t of inputs) {
    const c = t.shape[t.shape.length - 1];
    for (let r = 0; r < rows; r++) for (let i = 0; i < c; i++) y[r * cout + off + i] = t.data[r * c + i];
    off += c;
  }
  return y;
};

/** y[b, oy, ox, c] = x[b, at(oy), at(ox), c] where the source row/column is inside x (else 0). */
function remap2d(x: { shape: number[]; data: Float64Array }, out: number[], row: (oy: number) => number, col: (ox: number) => number): Float64Array {
  const [n, h, w, c] = x.shape;
  const [, ho, wo] = out;
  const y = new Float64Array(sizeOf(out));
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++) {
        const [iy, ix] = [row(oy), col(ox)];
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
        for (let ch = 0; ch < c; ch++) y[((b * ho + oy) * wo + ox) * c + ch] = x.data[((b * h + iy) * w + ix) * c + ch];
      }
  return y;
}

export const zeroPad2d: Kernel = ([x], ctx, out) => {
  const [[top], [left]] = zeroPadding(ctx.node.attrs.padding);
  return remap2d(
    x,
    out,
    (oy) => oy - top,
    (ox) => ox - left,
  );
};

export const cropping: Kernel = ([x], ctx, out) => {
  const [[top], [left]] = cropping2d(ctx.node.attrs.cropping);
  return remap2d(
    x,
    out,
    (oy) => oy + top,
    (ox) => ox + left,
  );
};

export const upSampling2d: Kernel = ([x], ctx, out) => {
  const [sh, sw] = upSampling(ctx.node.attrs);
  return remap2d(
    x,
    out,
    (oy) => Math.floor(oy / sh),
    (ox) => Math.floor(ox / sw),
  );
};

export const repeatVector: Kernel = ([x], _ctx, out) => {
  const [n, t, c] = out;
  const y = new Float64Array(sizeOf(out));
  for (let b = 0; b < n; b++) for (let s = 0; s < t; s++) for (let ch = 0; ch < c; ch++) y[(b * t + s) * c + ch] = x.data[b * c + ch];
  return y;
};

/** out[b, i1, ..., ik] = x[b, j...] with j[dims[a] - 1] = i[a]. */
export const permute: Kernel = ([x], ctx, out) => {
  const dims = permuteDims(ctx.node.attrs); // output axis a + 1 is input axis dims[a]
  const inStrides = x.shape.map((_, i) => sizeOf(x.shape.slice(i + 1)));
  const y = new Float64Array(sizeOf(out));
  const idx = new Array<number>(out.length).fill(0);
  for (let o = 0; o < y.length; o++) {
    let rest = o;
    for (let a = out.length - 1; a >= 0; a--) {
      idx[a] = rest % out[a];
      rest = Math.floor(rest / out[a]);
    }
    let src = idx[0] * inStrides[0];
    dims.forEach((d, a) => (src += idx[a + 1] * inStrides[d]));
    y[o] = x.data[src];
  }
  return y;
};
