/** ResizeBilinear, ResizeNearestNeighbor: resize2d (a fixed size, or one computed at run time). */
import { attrBool, setBool } from '../attrs.js';
import { registerGraphExporter, registerGraphImporter } from '../mapping.js';
import { nodeFor } from './common.js';

const METHOD: Record<string, 'bilinear' | 'nearest'> = { ResizeBilinear: 'bilinear', ResizeNearestNeighbor: 'nearest' };
const TF_OP = { bilinear: 'ResizeBilinear', nearest: 'ResizeNearestNeighbor' } as const;

registerGraphImporter(Object.keys(METHOD), (ctx) => {
  const { node, inputs } = ctx;
  const attrs = { method: METHOD[node.op], alignCorners: !!attrBool(node, 'align_corners'), halfPixelCenters: !!attrBool(node, 'half_pixel_centers') };
  const size = inputs[1]?.values?.values as number[] | undefined;
  if (size) return [{ op: 'resize2d', inputs: [0], attrs: { ...attrs, size } }];
  return [{ op: 'resize2d', inputs: [0, 1], attrs, anyShape: [1] }];
});

registerGraphExporter(['resize2d'], (node, ctx) => {
  const method = node.attrs.method as 'bilinear' | 'nearest';
  const t = nodeFor(node, ctx, [TF_OP[method]]);
  const size =
    node.inputs[1] !== undefined
      ? ctx.tensor(node.inputs[1])
      : ctx.values(t.input?.[1] ?? `${node.name}/size`, { dtype: 'int32', shape: [2], values: node.attrs.size as number[] });
  t.input = [ctx.tensor(node.inputs[0]), size];
  for (const [key, attr] of [
    ['alignCorners', 'align_corners'],
    ['halfPixelCenters', 'half_pixel_centers'],
  ] as const) {
    if (!!attrBool(t, attr) !== !!node.attrs[key]) setBool(t, attr, !!node.attrs[key]);
  }
  return [t];
});
