/** MaxPool, AvgPool: maxPool2d / avgPool2d; Mean over height and width: globalAvgPool2d. */
import { pool2 } from '@condense/ir';
import { attrBool, setBool, setInts } from '../attrs.js';
import { registerGraphExporter, registerGraphImporter } from '../mapping.js';
import { irPadding, nodeFor, notNhwc, setWindow, spatialPair } from './common.js';

registerGraphImporter(['MaxPool', 'AvgPool'], (ctx) => {
  const { node } = ctx;
  const size = spatialPair(node, 'ksize');
  const strides = spatialPair(node, 'strides');
  const reason = notNhwc(node) ?? (typeof size === 'string' ? size : undefined) ?? (typeof strides === 'string' ? strides : undefined);
  if (reason) return reason;
  const padding = irPadding(node, ctx.inputs[0].shape, size as [number, number], strides as [number, number], [1, 1]);
  if (padding !== 'same' && padding !== 'valid') return padding;
  return [{ op: node.op === 'MaxPool' ? 'maxPool2d' : 'avgPool2d', inputs: [0], attrs: { poolSize: size, strides, padding } }];
});

registerGraphExporter(['maxPool2d', 'avgPool2d'], (node, ctx) => {
  const t = nodeFor(node, ctx, [node.op === 'maxPool2d' ? 'MaxPool' : 'AvgPool']);
  t.input = [ctx.tensor(node.inputs[0])];
  const k = pool2(node.attrs);
  setInts(t, 'ksize', [1, k[0], k[1], 1]);
  setWindow(t, { ...node.attrs, strides: node.attrs.strides ?? k }, ctx.shapes.get(node.inputs[0])!, k, { dilations: false });
  return [t];
});

/** Mean over axes 1 and 2 of an NHWC tensor. */
registerGraphImporter(['Mean'], (ctx) => {
  const [x, axes] = ctx.inputs;
  const a = (axes?.values?.values as number[] | undefined)?.map((d) => (d < 0 ? d + 4 : d)).sort();
  if (x.shape?.length !== 4 || a?.length !== 2 || a[0] !== 1 || a[1] !== 2) return 'it does not average over height and width of an NHWC tensor';
  return [{ op: 'globalAvgPool2d', inputs: [0], attrs: { keepDims: !!attrBool(ctx.node, 'keep_dims') } }];
});

registerGraphExporter(['globalAvgPool2d'], (node, ctx) => {
  const t = nodeFor(node, ctx, ['Mean']);
  const axes = t.input?.[1] ?? `${node.name}/reduction_indices`;
  const was = ctx.original(node, axes);
  t.input = [ctx.tensor(node.inputs[0]), ctx.values(axes, was ?? { dtype: 'int32', shape: [2], values: [1, 2] })];
  if (!!attrBool(t, 'keep_dims') !== !!node.attrs.keepDims) setBool(t, 'keep_dims', !!node.attrs.keepDims);
  return [t];
});
