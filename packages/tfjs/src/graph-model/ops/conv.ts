/** Conv2D, _FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2dNative, Conv2DBackpropInput. */
import type { Node } from '@condense/ir';
import { attrInts } from '../attrs.js';
import { registerGraphExporter, registerGraphImporter, type ExportContext, type ImportContext, type PlannedNode } from '../mapping.js';
import type { NodeDef } from '../types.js';
import { fusedParts, irPadding, needsParam, nodeFor, notNhwc, refreshInputShapes, setFused, setWindow, spatialPair, type Fused } from './common.js';
import { fusedInto, preluInputName } from './fusion.js';

/** The IR node(s) of a (fused) conv-like node: `op` with kernel input 1, and a prelu after it when fused with one. */
export function fusedPlan(ctx: ImportContext, op: string, attrs: Record<string, unknown>, fused: Fused, inputs: number[] = [0]): PlannedNode[] {
  const params: Record<string, number> = { kernel: 1, ...(fused.bias !== undefined ? { bias: fused.bias } : {}) };
  if (fused.activation === 'prelu') {
    const name = preluInputName(ctx.node.name);
    return [
      { name, op, inputs, attrs, params },
      { op: 'prelu', inputs: [name], params: { alpha: fused.alpha as number } },
    ];
  }
  return [{ op, inputs, attrs: { ...attrs, ...fused.activation }, params }];
}

function importConv(ctx: ImportContext, op: 'conv2d' | 'depthwiseConv2d'): PlannedNode[] | string {
  const { node, inputs } = ctx;
  const reason = notNhwc(node) ?? needsParam(inputs[1], 'filter');
  if (reason) return reason;
  const fusedOp = node.op.startsWith('_Fused') || node.op.startsWith('Fused');
  const fused = fusedOp ? fusedParts(ctx, 2) : inputs.length === 2 ? {} : `${inputs.length} inputs`;
  if (typeof fused === 'string') return fused;
  const strides = spatialPair(node, 'strides');
  const dilation = spatialPair(node, 'dilations');
  if (typeof strides === 'string') return strides;
  if (typeof dilation === 'string') return dilation;
  const k = inputs[1].param!.shape;
  if (k.length !== 4) return `a filter of shape [${k.join(', ')}]`;
  const padding = irPadding(node, inputs[0].shape, [k[0], k[1]], strides, dilation);
  if (padding !== 'same' && padding !== 'valid') return padding;
  const attrs = { strides, padding, dilation, ...(op === 'depthwiseConv2d' ? { depthMultiplier: k[3] } : {}) };
  return fusedPlan(ctx, op, attrs, fused);
}

registerGraphImporter(['Conv2D', '_FusedConv2D'], (ctx) => importConv(ctx, 'conv2d'));
registerGraphImporter(['DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative'], (ctx) => importConv(ctx, 'depthwiseConv2d'));

/**
 * Writes a node with a kernel, an optional bias and a fused activation (conv2d, depthwiseConv2d,
 * dense) as its plain or fused TF op (`ops`), with `prelu` when fused with one; `own` sets the
 * op's other attrs.
 */
export function writeFused(node: Node, ctx: ExportContext, ops: [string, string], prelu: Node | undefined, own: (def: NodeDef) => void): NodeDef {
  const bias = node.params.bias !== undefined;
  const act = node.attrs.activation !== undefined && node.attrs.activation !== 'linear';
  const fused = bias || act || !!prelu;
  const def = nodeFor(prelu ?? node, ctx, fused ? [ops[1]] : [ops[0], ops[1]]);
  def.input = [
    ctx.tensor(node.inputs[0]),
    ctx.param(node, 'kernel'),
    ...(bias ? [ctx.param(node, 'bias')] : []),
    ...(prelu ? [ctx.param(prelu, 'alpha')] : []),
  ];
  own(def);
  if (def.op === ops[1]) setFused(def, node, bias, !!prelu);
  else if (act) ctx.fail(node, `a fused activation needs ${ops[1]}`);
  refreshInputShapes(def, [ctx.shapes.get(node.inputs[0]), ctx.graph.params.get(node.params.kernel)!.shape]);
  return def;
}

const CONV_OPS: Record<string, [string, string]> = {
  conv2d: ['Conv2D', '_FusedConv2D'],
  depthwiseConv2d: ['DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative'],
};

export function writeConv(node: Node, ctx: ExportContext, prelu?: Node): NodeDef {
  const kernel = ctx.graph.params.get(node.params.kernel)!;
  return writeFused(node, ctx, CONV_OPS[node.op], prelu, (def) =>
    setWindow(def, node.attrs, ctx.shapes.get(node.inputs[0])!, [kernel.shape[0], kernel.shape[1]]),
  );
}

registerGraphExporter(['conv2d', 'depthwiseConv2d'], (node, ctx) => (fusedInto(node, ctx) ? [] : [writeConv(node, ctx)]));

/** Conv2DBackpropInput(input_sizes, filter, out_backprop) with constant input_sizes: a conv2dTranspose of fixed output size. */
registerGraphImporter(['Conv2DBackpropInput'], (ctx) => {
  const { node, inputs } = ctx;
  const reason = notNhwc(node) ?? needsParam(inputs[1], 'filter');
  if (reason) return reason;
  const sizes = inputs[0]?.values?.values as number[] | undefined;
  if (!sizes || sizes.length !== 4) return 'its output size (input_sizes) is computed at run time';
  const k = inputs[1].param!.shape;
  if (k.length !== 4 || sizes[3] !== k[2]) return `input_sizes [${sizes.join(', ')}] do not match the filter [${k.join(', ')}]`;
  const strides = spatialPair(node, 'strides');
  if (typeof strides === 'string') return strides;
  const dil = attrInts(node, 'dilations');
  if (dil && dil.some((d) => d !== 1)) return `dilations [${dil.join(', ')}]`;
  const padding = irPadding(node, undefined, [k[0], k[1]], strides, [1, 1]);
  if (padding !== 'same' && padding !== 'valid') return padding;
  return [{ op: 'conv2dTranspose', inputs: [2], attrs: { strides, padding, outputShape: [sizes[1], sizes[2]] }, params: { kernel: 1 } }];
});

registerGraphExporter(['conv2dTranspose'], (node, ctx) => {
  const activation = node.attrs.activation !== undefined && node.attrs.activation !== 'linear';
  if (node.params.bias !== undefined || activation || node.inputs.length !== 1)
    ctx.fail(node, 'a conv2dTranspose with a bias, a fused activation or a run-time output shape has no Conv2DBackpropInput form');
  const t = nodeFor(node, ctx, ['Conv2DBackpropInput']);
  const kernel = ctx.graph.params.get(node.params.kernel)!;
  const out = ctx.shapes.get(node.name)!;
  const sizes = t.input?.[0] ?? `${node.name}/input_sizes`;
  // input_sizes' first entry is the batch (a fixed one, or -1 for any): kept as it was.
  const batch = ctx.original(node, sizes)?.values[0] ?? -1;
  const sizesName = ctx.values(sizes, { dtype: 'int32', shape: [4], values: [batch as number, out[1] as number, out[2] as number, kernel.shape[2]] });
  t.input = [sizesName, ctx.param(node, 'kernel'), ctx.tensor(node.inputs[0])];
  setWindow(t, node.attrs, ctx.shapes.get(node.inputs[0])!, [kernel.shape[0], kernel.shape[1]]);
  return [t];
});
