/** MatMul and _FusedMatMul by a constant matrix: dense. */
import type { Node } from '@condense/ir';
import { attrBool, setBool } from '../attrs.js';
import { registerGraphExporter, registerGraphImporter, type ExportContext } from '../mapping.js';
import type { NodeDef } from '../types.js';
import { fusedParts, needsParam } from './common.js';
import { fusedPlan, writeFused } from './conv.js';
import { fusedInto } from './fusion.js';

registerGraphImporter(['MatMul', '_FusedMatMul'], (ctx) => {
  const { node, inputs } = ctx;
  if (attrBool(node, 'transpose_a') || attrBool(node, 'transpose_b')) return 'it transposes an operand';
  const reason = needsParam(inputs[1], 'second operand');
  if (reason) return reason;
  if (inputs[1].param!.shape.length !== 2) return `a second operand of shape [${inputs[1].param!.shape.join(', ')}]`;
  if (inputs[0].shape?.length !== 2) return 'its first operand is not a matrix';
  const fused = node.op === '_FusedMatMul' ? fusedParts(ctx, 2) : inputs.length === 2 ? {} : `${inputs.length} inputs`;
  if (typeof fused === 'string') return fused;
  return fusedPlan(ctx, 'dense', {}, fused);
});

export function writeDense(node: Node, ctx: ExportContext, prelu?: Node): NodeDef {
  // Absent transpose attrs mean false, as TF and TF.js default them.
  return writeFused(node, ctx, ['MatMul', '_FusedMatMul'], prelu, (def) => {
    for (const k of ['transpose_a', 'transpose_b']) if (attrBool(def, k)) setBool(def, k, false);
  });
}

registerGraphExporter(['dense'], (node, ctx) => (fusedInto(node, ctx) ? [] : [writeDense(node, ctx)]));
