/** Pieces the op families share: NHWC attrs, padding, fused activations, and writing nodes back. */
import { windowOut, type Attrs, type Node, type Shape } from '@condense/ir';
import { attrFloat, attrInts, attrOf, attrString, attrStrings, setFloat, setInts, setString, setStrings, setType, shapeDims } from '../attrs.js';
import type { ExportContext, ImportContext, TfInput } from '../mapping.js';
import type { NodeDef } from '../types.js';

/** Why a node is not NHWC, if it is not. */
export function notNhwc(node: NodeDef): string | undefined {
  const f = attrString(node, 'data_format');
  return f === undefined || f === 'NHWC' ? undefined : `data_format ${f} (only NHWC maps to the IR)`;
}

/** [h, w] of a 4-vector attr [1, h, w, 1] (strides, dilations, ksize), or a reason. */
export function spatialPair(node: NodeDef, key: string, dflt = 1): [number, number] | string {
  const v = attrInts(node, key);
  if (v === undefined || v.length === 0) return [dflt, dflt];
  if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) return `${key} [${v.join(', ')}] act on the batch or channel axis`;
  return [v[1], v[2]];
}

/** TF 'SAME' padding before and after along one axis. */
function samePads(size: number, k: number, stride: number, dilation: number): [number, number] {
  const out = windowOut(size, k, stride, dilation, 'same');
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * The IR padding of a windowed op: SAME / VALID, or EXPLICIT paddings that equal one of them for
 * this input (a conv the converter padded explicitly), else a reason.
 */
export function irPadding(
  node: NodeDef,
  input: Shape | undefined,
  k: [number, number],
  strides: [number, number],
  dilations: [number, number],
): 'same' | 'valid' | string {
  const p = attrString(node, 'padding');
  if (p === 'SAME') return 'same';
  if (p === 'VALID') return 'valid';
  if (p !== 'EXPLICIT') return `padding ${p ?? '(none)'}`;
  const e = attrInts(node, 'explicit_paddings') ?? [];
  if (e.length !== 8 || e[0] || e[1] || e[6] || e[7]) return `explicit paddings [${e.join(', ')}] pad the batch or channel axis`;
  if (e.every((v) => v === 0)) return 'valid';
  const [h, w] = [input?.[1], input?.[2]];
  if (typeof h !== 'number' || typeof w !== 'number') return `explicit paddings [${e.join(', ')}] on an input of unknown size`;
  const same = [...samePads(h, k[0], strides[0], dilations[0]), ...samePads(w, k[1], strides[1], dilations[1])];
  if (same.every((v, i) => v === e[2 + i])) return 'same';
  return `explicit paddings [${e.join(', ')}] differ from SAME and VALID`;
}

const TF_ACTIVATIONS: Record<string, string> = {
  Relu: 'relu',
  Relu6: 'relu6',
  Elu: 'elu',
  Sigmoid: 'sigmoid',
  Tanh: 'tanh',
  LeakyRelu: 'leakyRelu',
  Selu: 'selu',
  Softplus: 'softplus',
};
const IR_ACTIVATIONS = Object.fromEntries(Object.entries(TF_ACTIVATIONS).map(([tf, ir]) => [ir, tf]));

/** The IR activation of a TF activation op, if the IR has it. */
export const irActivation = (tfOp: string): string | undefined => TF_ACTIVATIONS[tfOp];
export const tfActivation = (fn: string): string | undefined => IR_ACTIVATIONS[fn];

/** Activations TF.js can apply inside fused conv / matmul ops (the converter's fused_ops). */
const FUSABLE = new Set(['Relu', 'Relu6', 'Elu', 'Sigmoid', 'LeakyRelu', 'Prelu']);

/** A fused op's parts as TF.js reads them: [extra op, activation] = fused_ops, args after the main inputs. */
export interface Fused {
  bias?: number;
  alpha?: number;
  /** IR attrs of the activation (activation, alpha), or 'prelu'. */
  activation?: Attrs | 'prelu';
}

/** The fused ops of a _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul whose main inputs are the first `main`, or a reason. */
export function fusedParts(ctx: ImportContext, main: number): Fused | string {
  const ops = attrStrings(ctx.node, 'fused_ops') ?? [];
  const [extra, act, ...more] = ops;
  if (more.length) return `fused_ops [${ops.join(', ')}]`;
  const args = ctx.inputs.length - main;
  const numArgs = Number(attrOf(ctx.node, 'num_args')?.i ?? args);
  if (numArgs !== args) return `num_args ${numArgs} but ${args} extra inputs`;
  const out: Fused = {};
  let next = main;
  if (extra === 'BiasAdd') out.bias = next++;
  else if (extra !== undefined && extra !== 'NoOp') return `fused op ${extra} (TF.js fuses BiasAdd only)`;
  if (act === 'Prelu') {
    out.alpha = next++;
    out.activation = 'prelu';
  } else if (act !== undefined) {
    if (!FUSABLE.has(act)) return `fused activation ${act} (TF.js cannot fuse it)`;
    out.activation = { activation: irActivation(act), ...(act === 'LeakyRelu' ? { alpha: attrFloat(ctx.node, 'leakyrelu_alpha') ?? 0.2 } : {}) };
  }
  if (next !== ctx.inputs.length) return `${ctx.inputs.length - main} extra inputs for fused_ops [${ops.join(', ')}]`;
  return out;
}

/** Writes a fused op's fused_ops, num_args and activation attrs from an IR node with an optional bias and activation. */
export function setFused(t: NodeDef, node: Node, bias: boolean, prelu: boolean): void {
  const fn = node.attrs.activation as string | undefined;
  const act = prelu ? 'Prelu' : fn && fn !== 'linear' ? tfActivation(fn) : undefined;
  if (fn && fn !== 'linear' && !act) throw new Error(`activation '${fn}' has no TF op`);
  const ops = [bias ? 'BiasAdd' : 'NoOp', ...(act ? [act] : [])];
  setStrings(t, 'fused_ops', bias || act ? ops : []);
  setInts1(t, 'num_args', (bias ? 1 : 0) + (prelu ? 1 : 0));
  if (fn === 'leakyRelu') setFloat(t, 'leakyrelu_alpha', (node.attrs.alpha as number | undefined) ?? 0.2);
}

function setInts1(t: NodeDef, key: string, value: number) {
  if (Number(attrOf(t, key)?.i) === value) return;
  (t.attr ??= {})[key] = { i: String(value) };
}

/**
 * The NodeDef to write an IR node as: its template when that is one of `ops`, else a fresh node of
 * op `ops[0]` with the node's name (a template of another op, say a broken fusion's, is not reused).
 */
export function nodeFor(node: Node, ctx: ExportContext, ops: readonly string[]): NodeDef {
  const t = ctx.template(node);
  if (t && ops.includes(t.op)) return t;
  return { name: node.name, op: ops[0], ...(t?.device ? { device: t.device } : {}), attr: { T: { type: 'DT_FLOAT' } } };
}

/**
 * NHWC window attrs (strides, dilations, padding) on a NodeDef. An EXPLICIT padding stays when it
 * still means the IR's padding for this input (the input size and window are unchanged).
 */
export function setWindow(t: NodeDef, attrs: Attrs, input: Shape, k: [number, number], o: { dilations?: boolean } = {}): void {
  const strides = pair(attrs.strides);
  const dilations = pair(attrs.dilation);
  setInts(t, 'strides', [1, strides[0], strides[1], 1]);
  if (o.dilations !== false) setInts(t, 'dilations', [1, dilations[0], dilations[1], 1]);
  const padding = (attrs.padding ?? 'valid') as 'same' | 'valid';
  const explicit = attrString(t, 'padding') === 'EXPLICIT';
  if (!explicit || irPadding(t, input, k, strides, dilations) !== padding) {
    setString(t, 'padding', padding === 'same' ? 'SAME' : 'VALID');
    if (explicit) t.attr!.explicit_paddings = { list: {} };
  }
  if (attrString(t, 'data_format') !== undefined) setString(t, 'data_format', 'NHWC');
}

const pair = (v: unknown): [number, number] =>
  v === undefined ? [1, 1] : typeof v === 'number' ? [v, v] : [(v as number[])[0], (v as number[])[1] ?? (v as number[])[0]];

/** Drops `_input_shapes` (a grappler annotation TF.js ignores) once the node's inputs no longer have those shapes. */
export function refreshInputShapes(t: NodeDef, shapes: (readonly (number | null)[] | undefined)[]): void {
  const recorded = attrOf(t, '_input_shapes')?.list?.shape;
  if (!recorded) return;
  const stale = shapes.some((s, i) => {
    const dims = shapeDims(recorded[i]);
    if (!s || !dims) return false;
    return dims.length !== s.length || dims.some((d, j) => d >= 0 && s[j] !== null && s[j] !== d);
  });
  if (stale) delete t.attr!._input_shapes;
}

/** The float constant at a data input, as its param (for a plan's `params`), or a reason. */
export function needsParam(input: TfInput | undefined, what: string): string | undefined {
  return input?.param ? undefined : `its ${what} is not a float constant`;
}

export { setType };
