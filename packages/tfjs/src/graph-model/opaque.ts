/**
 * Opaque nodes: a TensorFlow op the IR does not model becomes a `tfOp` node that keeps its
 * NodeDef; TF.js runs it (its own implementation of that op) when the graph executes. Channels
 * cannot be traced through it, so channel groups that reach one stay whole. Its shape is inferred
 * for the simple cases below (unknown otherwise).
 */
import { registerOp, type Shape } from '@condense/ir';
import { registerGraphExporter, tfAttrs, type ExportContext } from './mapping.js';
import { parseRef } from './parse.js';
import type { NodeDef } from './types.js';
import type { Node } from '@condense/ir';

/**
 * An op from a TF graph that the IR does not model: `attrs.tf.node` is its NodeDef, inputs are
 * the values it reads (ports and control edges are kept in the NodeDef). Its shape is
 * `attrs.tf.outputShape` when the importer could infer it; an unknown shape reads as `[]`.
 */
registerOp({
  op: 'tfOp',
  arity: 'any',
  inferShape: (ctx) => [...(tfAttrs(ctx.node).outputShape ?? [])],
  channels: { kind: 'opaque' },
});

/** TF ops whose output has the shape of their first input. */
const SAME_AS_FIRST = new Set([
  'Identity',
  'StopGradient',
  'Snapshot',
  'Cast',
  'Neg',
  'Abs',
  'Exp',
  'Log',
  'Log1p',
  'Sqrt',
  'Rsqrt',
  'Square',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Sin',
  'Cos',
  'Tanh',
  'Sigmoid',
  'Relu',
  'Relu6',
  'Elu',
  'Selu',
  'Softplus',
  'LeakyRelu',
  'Erf',
  'LogicalNot',
  'IsNan',
  'ZerosLike',
  'OnesLike',
  'Softmax',
  'LogSoftmax',
  'ClipByValue',
  'Prelu',
  'BiasAdd',
]);

/** TF ops that broadcast their two inputs. */
const BROADCASTING = new Set([
  'Add',
  'AddV2',
  'Sub',
  'Mul',
  'RealDiv',
  'Div',
  'DivNoNan',
  'FloorDiv',
  'FloorMod',
  'Maximum',
  'Minimum',
  'Pow',
  'SquaredDifference',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'Equal',
  'NotEqual',
  'LogicalAnd',
  'LogicalOr',
]);

/** Right-aligned broadcast of two shapes (null: unknown size), or null when they cannot broadcast. */
function broadcast(a: Shape, b: Shape): Shape | null {
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else if (x === null || y === null) out.push(x ?? y);
    else if (x === y) out.push(x);
    else return null;
  }
  return out;
}

/** What the shape rules know of an opaque node's data input. */
export interface OpaqueInput {
  shape?: Shape;
  /** Its values, when it is a non-float constant. */
  values?: number[];
}

const sum = (dims: (number | null)[]): number | null => (dims.some((d) => d === null) ? null : (dims as number[]).reduce((a, b) => a + b, 0));

/** Shape rules of ops that change shapes, from their input shapes and constant operands. */
const RULES: Record<string, (node: NodeDef, inputs: OpaqueInput[]) => Shape | null> = {
  Shape: (_node, [x]) => (x.shape ? [x.shape.length] : null),
  Pack: (node, inputs) => {
    const s = inputs[0]?.shape;
    if (!s || inputs.some((i) => !i.shape || i.shape.length !== s.length)) return null;
    const axis = Number(node.attr?.axis?.i ?? 0);
    const at = axis < 0 ? axis + s.length + 1 : axis;
    return [...s.slice(0, at), inputs.length, ...s.slice(at)];
  },
  ConcatV2: (_node, inputs) => {
    const parts = inputs.slice(0, -1);
    const axis = inputs.at(-1)?.values?.[0];
    const s = parts[0]?.shape;
    if (axis === undefined || !s || parts.some((p) => !p.shape || p.shape.length !== s.length)) return null;
    const a = axis < 0 ? axis + s.length : axis;
    return s.map((d, i) => (i === a ? sum(parts.map((p) => p.shape![i])) : d));
  },
  Pad: (_node, [x, p]) => padded(x.shape, p?.values),
  PadV2: (_node, [x, p]) => padded(x.shape, p?.values),
  MirrorPad: (_node, [x, p]) => padded(x.shape, p?.values),
  Reshape: (_node, [x, t]) => {
    if (!t?.values) return null;
    const known = x.shape && x.shape.every((d) => d !== null) ? (x.shape as number[]).reduce((a, b) => a * b, 1) : undefined;
    const rest = t.values.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    return t.values.map((d) => (d !== -1 ? d : known !== undefined ? known / rest : null));
  },
  // Conv2DBackpropInput(input_sizes, filter, out_backprop): NHWC with the filter's output channels.
  Conv2DBackpropInput: (_node, [sizes, filter]) => (sizes?.values ? [...sizes.values] : filter?.shape ? [null, null, null, filter.shape[2]] : null),
};

function padded(x: Shape | undefined, p: number[] | undefined): Shape | null {
  if (!x || !p || p.length !== 2 * x.length) return null;
  return x.map((d, i) => (d === null ? null : d + p[2 * i] + p[2 * i + 1]));
}

/** The output shape of an opaque TF node from what is known of its data inputs, or null when not inferred. */
export function opaqueShape(node: NodeDef, inputs: OpaqueInput[]): Shape | null {
  const rule = RULES[node.op];
  if (rule) return rule(node, inputs);
  const [a, b] = inputs.map((i) => i.shape);
  if (SAME_AS_FIRST.has(node.op)) return a ? [...a] : null;
  if (BROADCASTING.has(node.op) && inputs.length === 2) return a && b ? broadcast(a, b) : null;
  return null;
}

/** The template's input list, each data input re-pointed at the value the IR node now reads there. */
function opaqueInputs(node: Node, template: NodeDef, ctx: ExportContext): string[] {
  const map = tfAttrs(node).inputMap ?? [];
  return (template.input ?? []).map((text, j) => {
    const k = map[j] ?? -1;
    if (k < 0) return text;
    const ref = parseRef(text);
    const value = node.inputs[k];
    if (value === ref.node) return text;
    if (ref.port !== 0)
      ctx.fail(node, `input ${j} ('${text}') now reads '${value}', but reads output ${ref.port} of its producer; only first outputs can be re-pointed`);
    return ref.control ? `^${ctx.tensor(value)}` : ctx.tensor(value);
  });
}

registerGraphExporter(['tfOp'], (node, ctx) => {
  const t = ctx.template(node);
  if (!t) return ctx.fail(node, 'an opaque TF node without its NodeDef (attrs.tf.node) cannot be written');
  if (t.input) t.input = opaqueInputs(node, t, ctx);
  return [t];
});
