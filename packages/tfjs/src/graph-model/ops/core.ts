/** Placeholders (graph inputs) and constants. */
import { toTensorShape } from '../attrs.js';
import { registerGraphExporter } from '../mapping.js';
import type { NodeDef } from '../types.js';

registerGraphExporter(['input'], (node, ctx) => {
  const t = ctx.template(node);
  if (t) return [t];
  const dims = [-1, ...(node.attrs.shape as (number | null)[]).map((d) => d ?? -1)];
  const def: NodeDef = { name: node.name, op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: toTensorShape(dims) } } };
  return [def];
});

/** A constant's Const is written by the context (with its weight): a float one from its param, the others from attrs. */
registerGraphExporter(['constant'], (node, ctx) => {
  const role = node.params.weight !== undefined ? 'weight' : node.params.value !== undefined ? 'value' : undefined;
  if (role) ctx.param(node, role);
  else ctx.values(node.name, { dtype: node.attrs.dtype as 'int32', shape: node.attrs.shape as number[], values: node.attrs.values as number[] });
  return [];
});
