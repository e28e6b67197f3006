/** Add / AddV2 / AddN of tensors: add; BiasAdd: biasAdd; Add, Sub, Mul, RealDiv, Maximum, Minimum with a constant operand: binaryConst. */
import type { BinaryFn, Node } from '@condense/ir';
import { registerGraphExporter, registerGraphImporter, type ImportContext, type PlannedNode } from '../mapping.js';
import { nodeFor, notNhwc } from './common.js';

const FN_OF: Record<string, BinaryFn> = {
  Add: 'add',
  AddV2: 'add',
  BiasAdd: 'add',
  Sub: 'sub',
  Mul: 'mul',
  RealDiv: 'div',
  Div: 'div',
  Maximum: 'maximum',
  Minimum: 'minimum',
};
const OP_OF: Record<BinaryFn, string> = { add: 'AddV2', sub: 'Sub', mul: 'Mul', div: 'RealDiv', maximum: 'Maximum', minimum: 'Minimum' };

/** x op c or c op x with c a float constant that broadcasts into x. */
function withConstant(ctx: ImportContext): PlannedNode[] | string {
  const [a, b] = ctx.inputs;
  if (ctx.inputs.length !== 2) return `${ctx.inputs.length} inputs`;
  const k = a.param ? 0 : b.param ? 1 : -1;
  if (k < 0 || (a.param && b.param)) return 'it needs one tensor and one float constant operand';
  return [{ op: 'binaryConst', inputs: [1 - k], attrs: { fn: FN_OF[ctx.node.op], ...(k === 0 ? { constFirst: true } : {}) }, params: { operand: k } }];
}

const sameShapes = (ctx: ImportContext): boolean => {
  const [first, ...rest] = ctx.inputs.map((i) => i.shape);
  return !!first && rest.every((s) => !!s && s.length === first.length && s.every((d, i) => d === first[i]));
};

registerGraphImporter(['Add', 'AddV2', 'AddN'], (ctx) => {
  if (ctx.inputs.some((i) => i.param)) return ctx.node.op === 'AddN' ? 'a constant operand' : withConstant(ctx);
  if (ctx.inputs.length < 2 || ctx.inputs.some((i) => i.values)) return 'it does not add tensors';
  if (!sameShapes(ctx)) return 'its operands differ in shape (broadcasting)';
  return [{ op: 'add', inputs: ctx.inputs.map((_, i) => i) }];
});

registerGraphImporter(['Sub', 'Mul', 'RealDiv', 'Maximum', 'Minimum'], withConstant);

registerGraphImporter(['BiasAdd'], (ctx) => {
  const reason = notNhwc(ctx.node);
  if (reason) return reason;
  const [x, b] = ctx.inputs;
  if (!b?.param) return 'its bias is not a float constant';
  // A bias of another shape than [C] broadcasts like an add.
  if (b.param.shape.length !== 1) return withConstant(ctx);
  return x.shape?.at(-1) === b.param.shape[0] ? [{ op: 'biasAdd', inputs: [0], params: { bias: 1 } }] : withConstant(ctx);
});

registerGraphExporter(['add'], (node, ctx) => {
  const n = node.inputs.length;
  const t = nodeFor(node, ctx, n === 2 ? ['AddV2', 'Add', 'AddN'] : ['AddN']);
  t.input = node.inputs.map((v) => ctx.tensor(v));
  if (t.op === 'AddN') (t.attr ??= {}).N = { i: String(n) };
  return [t];
});

registerGraphExporter(['biasAdd'], (node, ctx) => {
  const t = nodeFor(node, ctx, ['BiasAdd']);
  t.input = [ctx.tensor(node.inputs[0]), ctx.param(node, 'bias')];
  return [t];
});

/** The TF ops a binaryConst may be written as, its template's first. */
function binaryOps(node: Node): string[] {
  const fn = node.attrs.fn as BinaryFn;
  const ops = Object.entries(FN_OF)
    .filter(([, f]) => f === fn)
    .map(([op]) => op);
  return [OP_OF[fn], ...ops];
}

registerGraphExporter(['binaryConst'], (node, ctx) => {
  const t = nodeFor(node, ctx, binaryOps(node));
  const x = ctx.tensor(node.inputs[0]);
  const c = ctx.param(node, 'operand');
  t.input = node.attrs.constFirst ? [c, x] : [x, c];
  return [t];
});
