/** Pad (zeros) and MirrorPad of height and width: zeroPad2d and pad2d. */
import { zeroPadding, type Node } from '@condense/ir';
import { attrString, setString } from '../attrs.js';
import { registerGraphExporter, registerGraphImporter, type ExportContext } from '../mapping.js';
import type { NodeDef } from '../types.js';
import { nodeFor } from './common.js';

/** [[top, bottom], [left, right]] of a [4, 2] paddings constant that pads height and width only, or a reason. */
function spatialPadding(values: number[] | undefined): [[number, number], [number, number]] | string {
  if (!values || values.length !== 8) return 'its paddings are not a constant [4, 2]';
  const [n0, n1, t, b, l, r, c0, c1] = values;
  if (n0 || n1 || c0 || c1) return `paddings [${values.join(', ')}] pad the batch or channel axis`;
  return [
    [t, b],
    [l, r],
  ];
}

registerGraphImporter(['Pad'], (ctx) => {
  const p = spatialPadding(ctx.inputs[1]?.values?.values as number[] | undefined);
  if (typeof p === 'string') return p;
  return [{ op: 'zeroPad2d', inputs: [0], attrs: { padding: p } }];
});

registerGraphImporter(['MirrorPad'], (ctx) => {
  const p = spatialPadding(ctx.inputs[1]?.values?.values as number[] | undefined);
  if (typeof p === 'string') return p;
  const mode = attrString(ctx.node, 'mode');
  if (mode !== 'REFLECT' && mode !== 'SYMMETRIC') return `mode ${mode}`;
  return [{ op: 'pad2d', inputs: [0], attrs: { padding: p, mode: mode.toLowerCase() } }];
});

function writePad(node: Node, ctx: ExportContext, t: NodeDef): NodeDef {
  const [[top, bottom], [left, right]] = zeroPadding(node.attrs.padding);
  const name = t.input?.[1] ?? `${node.name}/paddings`;
  t.input = [ctx.tensor(node.inputs[0]), ctx.values(name, { dtype: 'int32', shape: [4, 2], values: [0, 0, top, bottom, left, right, 0, 0] })];
  return t;
}

registerGraphExporter(['zeroPad2d'], (node, ctx) => [writePad(node, ctx, nodeFor(node, ctx, ['Pad']))]);

registerGraphExporter(['pad2d'], (node, ctx) => {
  const mode = (node.attrs.mode as string | undefined) ?? 'constant';
  if (mode === 'constant') {
    if (((node.attrs.value as number | undefined) ?? 0) !== 0) ctx.fail(node, 'a pad2d with a non-zero constant has no GraphModel form here');
    return [writePad(node, ctx, nodeFor(node, ctx, ['Pad']))];
  }
  const t = writePad(node, ctx, nodeFor(node, ctx, ['MirrorPad']));
  setString(t, 'mode', mode.toUpperCase());
  return [t];
});
