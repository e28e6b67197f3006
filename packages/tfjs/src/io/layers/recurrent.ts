/**
 * tfjs-layers' recurrent layers: LSTM, GRU, SimpleRNN, and Bidirectional around one of them
 * (imported as a forward and a backward node, the backward one's outputs aligned in time, and a
 * merge node named like the layer; written back as one Bidirectional while that is intact).
 *
 * Weights are found under each file's names: tfjs-layers `gru/kernel`, `bi/forward_lstm/kernel`;
 * Keras .h5 `gru/gru_cell/kernel`, `bi/forward_lstm/lstm_cell/kernel`; Keras 3 .keras
 * `layers/gru/cell/vars/0`, `layers/bidirectional/forward_layer/cell/vars/0`.
 *
 * Not supported: stateful, return_state, time_major; dropout and recurrent_dropout are accepted
 * (they act in training only) but fine-tuning does not apply them.
 */
import { recurrentAttrs, type Attrs, type Node, type Param, type RecurrentOp } from '@condense/ir';
import { brief, isObject, type JsonObject } from '../errors.js';
import type { FromKerasContext, KerasLayerSpec, LayerMapping, ToKerasContext } from '../mapping.js';
import type { KerasLayer } from '../topology.js';
import { activationOf, tfjsActivationId } from './activation-attrs.js';
import { expectDims, int } from './config.js';
import type { LayerFamily } from './family.js';

const OPS: Record<string, RecurrentOp> = { LSTM: 'lstm', GRU: 'gru', SimpleRNN: 'simpleRnn' };
const CLASSES: Record<RecurrentOp, string> = { lstm: 'LSTM', gru: 'GRU', simpleRnn: 'SimpleRNN' };
const CELLS: Record<RecurrentOp, string> = { lstm: 'lstm_cell', gru: 'gru_cell', simpleRnn: 'simple_rnn_cell' };
const GATES: Record<RecurrentOp, number> = { lstm: 4, gru: 3, simpleRnn: 1 };

/** Where one recurrent layer's weights are: paths inside the Keras layer (a Bidirectional's forward_lstm/) and its Keras 3 save path. */
interface WeightPath {
  prefixes: string[];
  saved: string;
}

const ROLES = ['kernel', 'recurrent_kernel', 'bias'] as const;

function weightOf(ctx: FromKerasContext, op: RecurrentOp, role: string, at: WeightPath, optional: boolean): Param | undefined {
  const names = [...at.prefixes.flatMap((p) => [`${p}${role}`, `${p}${CELLS[op]}/${role}`]), `${at.saved}cell/${role}`];
  for (const n of names) {
    const p = ctx.weight(n, true);
    if (p) return p;
  }
  return optional ? undefined : ctx.fail(`weight '${names[0]}' (or '${names[1]}') is missing from the weights manifest`);
}

/** The IR attrs of a recurrent layer's config; errors name the unsupported option. */
function attrsOf(op: RecurrentOp, c: JsonObject, ctx: FromKerasContext): Attrs {
  for (const flag of ['stateful', 'return_state', 'time_major'] as const) if (c[flag] === true) ctx.fail(`${flag} = true is not supported`);
  const attrs: Attrs = {};
  const act = activationOf(c.activation ?? 'tanh', ctx);
  if (act.fn !== 'tanh') Object.assign(attrs, { activation: act.fn });
  if (op !== 'simpleRnn') {
    const gate = activationOf(c.recurrent_activation ?? 'sigmoid', ctx, 'recurrent_activation');
    if (gate.fn !== 'sigmoid') attrs.recurrentActivation = gate.fn;
  }
  if (c.return_sequences === true) attrs.returnSequences = true;
  if (c.go_backwards === true) attrs.goBackwards = true;
  if (c.zero_output_for_mask === true) attrs.zeroMaskedOutputs = true;
  return attrs;
}

/** One recurrent node from a layer config (the layer's own, or a Bidirectional's inner one). */
function addRecurrent(ctx: FromKerasContext, name: string, op: RecurrentOp, c: JsonObject, at: WeightPath, extra: Attrs = {}): void {
  const units = int(c.units);
  if (units === undefined || units < 1) ctx.fail(`units must be a positive integer, got ${brief(c.units)}`);
  const kernel = weightOf(ctx, op, 'kernel', at, false) as Param;
  const recurrentKernel = weightOf(ctx, op, 'recurrent_kernel', at, false) as Param;
  const bias = c.use_bias === false ? undefined : weightOf(ctx, op, 'bias', at, false);
  const width = GATES[op] * units;
  expectDims(kernel, [undefined, width], ctx);
  expectDims(recurrentKernel, [units, width], ctx);
  const attrs = { ...attrsOf(op, c, ctx), ...extra };
  // Keras 2 / 3 GRUs default to reset_after (a [2, 3u] bias); tfjs-layers writes false.
  if (op === 'gru' && (c.reset_after === true || (c.reset_after === undefined && bias?.shape.length === 2))) attrs.resetAfter = true;
  const params: Record<string, Param> = { kernel, recurrentKernel, ...(bias ? { bias } : {}) };
  ctx.addNode({ name, op, inputs: [ctx.inputs[0], ...(ctx.mask !== undefined ? [ctx.mask] : [])], attrs, params });
}

const innerOf = (l: KerasLayer, key: 'layer' | 'backward_layer', ctx: FromKerasContext): { op: RecurrentOp; config: JsonObject } | undefined => {
  const v = l.config[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || typeof v.class_name !== 'string' || !isObject(v.config)) return ctx.fail(`${key} ${brief(v)} must be {class_name, config}`);
  const op = OPS[v.class_name];
  if (!op) ctx.fail(`${key} class ${v.class_name} is not supported (only ${Object.keys(OPS).join(', ')})`);
  return { op, config: v.config };
};

const MERGE_OPS: Record<string, string> = { concat: 'concat', sum: 'add', mul: 'multiply', ave: 'average' };
const MERGE_MODES = Object.fromEntries(Object.entries(MERGE_OPS).map(([mode, op]) => [op, mode]));

/** Keras' Bidirectional: the forward layer and a backward copy over the same input, merged. */
function bidirectional(l: KerasLayer, ctx: FromKerasContext): void {
  const inner = innerOf(l, 'layer', ctx) as { op: RecurrentOp; config: JsonObject };
  const name = String(inner.config.name ?? 'rnn');
  // Without a backward_layer (tfjs-layers, Keras 2) the backward twin is the layer reading the other way, named backward_<name>.
  const back = innerOf(l, 'backward_layer', ctx) ?? {
    op: inner.op,
    config: { ...inner.config, name: `backward_${name}`, go_backwards: !(inner.config.go_backwards === true) },
  };
  if (back.op !== inner.op) ctx.fail(`backward_layer is a ${back.config.name} of another class than layer`);
  if (inner.config.go_backwards === true || back.config.go_backwards !== true)
    ctx.fail('only a forward layer with a backward twin (go_backwards) is supported');
  const mode = l.config.merge_mode === undefined ? 'concat' : l.config.merge_mode;
  const merge = typeof mode === 'string' ? MERGE_OPS[mode] : undefined;
  if (!merge) ctx.fail(`merge_mode ${brief(mode)} is not supported (only ${Object.keys(MERGE_OPS).join(', ')}: one output)`);
  const sequences = inner.config.return_sequences === true;
  const fwd = `${l.name}/forward`;
  const bwd = `${l.name}/backward`;
  // tfjs-layers and Keras 2 name the twin forward_<name>; Keras 3 writes the twin's own config, already named so.
  const forward = name.startsWith('forward_') ? [`${name}/`, `forward_${name}/`] : [`forward_${name}/`];
  addRecurrent(ctx, fwd, inner.op, inner.config, { prefixes: forward, saved: 'forward_layer/' });
  addRecurrent(
    ctx,
    bwd,
    back.op,
    back.config,
    { prefixes: [`${String(back.config.name)}/`], saved: 'backward_layer/' },
    sequences ? { alignOutputs: true } : {},
  );
  ctx.addNode({ name: l.name, op: merge, inputs: [fwd, bwd], attrs: merge === 'concat' ? { axis: -1 } : {} });
  if (sequences) ctx.setMask(ctx.mask);
}

const cellOrder = (path: string, c: JsonObject) => ROLES.filter((r) => r !== 'bias' || c.use_bias !== false).map((r) => `${path}cell/${r}`);

const importing: Pick<LayerMapping, 'kerasClass' | 'masking' | 'fromKeras' | 'kerasWeightOrder'> = {
  kerasClass: [...Object.keys(OPS), 'Bidirectional'],
  masking: 'read',
  kerasWeightOrder: (l) => {
    if (l.className !== 'Bidirectional') return cellOrder('', l.config);
    const inner = isObject(l.config.layer) && isObject(l.config.layer.config) ? l.config.layer.config : {};
    return [...cellOrder('forward_layer/', inner), ...cellOrder('backward_layer/', inner)];
  },
  fromKeras(l, ctx) {
    if (l.className === 'Bidirectional') return bidirectional(l, ctx);
    const op = OPS[l.className];
    // go_backwards alone is Keras': returned sequences come in reading order (reversed).
    addRecurrent(ctx, l.name, op, l.config, { prefixes: [''], saved: '' });
    if (l.config.return_sequences === true) ctx.setMask(ctx.mask);
  },
};

// ---------------------------------------------------------------- export

/** The tfjs-layers config of a recurrent node; errors for what tfjs-layers cannot express. */
function configOf(node: Node, name: string, ctx: ToKerasContext): JsonObject {
  const a = recurrentAttrs(node.attrs);
  const units = (ctx.graph.params.get(node.params.recurrentKernel) as Param).shape[0];
  const id = (fn: string, field: string) => tfjsActivationId(fn, {}) ?? ctx.fail(`${field} '${fn}' has no tfjs-layers identifier`);
  const config: JsonObject = {
    name,
    units,
    activation: id(a.activation, 'activation'),
    use_bias: node.params.bias !== undefined,
    return_sequences: a.returnSequences,
    return_state: false,
    go_backwards: a.goBackwards,
    stateful: false,
    unroll: false,
    dropout: 0,
    recurrent_dropout: 0,
  };
  if (node.op !== 'simpleRnn') config.recurrent_activation = id(a.recurrentActivation, 'recurrentActivation');
  if (node.op === 'gru') {
    if (a.resetAfter) ctx.fail("a GRU with reset_after (Keras 3's default) has no TF.js form: tfjs-layers' GRU refuses it");
    config.reset_after = false;
  }
  // TF.js repeats the last output over masked steps and has no zero_output_for_mask.
  return config;
}

const weightsOf = (node: Node, ctx: ToKerasContext, prefix = ''): Record<string, Param> => {
  const out: Record<string, Param> = {};
  for (const [role, ir] of [
    ['kernel', 'kernel'],
    ['recurrent_kernel', 'recurrentKernel'],
    ['bias', 'bias'],
  ] as const) {
    const p = node.params[ir] === undefined ? undefined : ctx.graph.params.get(node.params[ir]);
    if (p) out[`${prefix}${role}`] = p;
  }
  return out;
};

/** Everything of a recurrent node's attrs but its direction: two nodes that agree on these are twins. */
const shapeKey = (n: Node, ctx: Pick<ToKerasContext, 'graph'>) => {
  const { goBackwards: _, alignOutputs: __, ...rest } = recurrentAttrs(n.attrs);
  return JSON.stringify([n.op, rest, n.inputs, ...['kernel', 'recurrentKernel', 'bias'].map((r) => ctx.graph.params.get(n.params[r] ?? '')?.shape)]);
};

/**
 * The forward and backward nodes of an intact Bidirectional under a merge node: the merge was
 * imported from one, reads [forward, backward] twins over the same input that nothing else reads.
 */
function bidirectionalPair(merge: Node, ctx: Pick<ToKerasContext, 'graph' | 'originalOf' | 'consumers'>): [Node, Node] | undefined {
  if (ctx.originalOf(merge.name)?.className !== 'Bidirectional' || merge.inputs.length !== 2 || !MERGE_MODES[merge.op]) return undefined;
  const [fwd, bwd] = merge.inputs.map((i) => ctx.graph.nodes.find((n) => n.name === i));
  if (!fwd || !bwd || !CLASSES[fwd.op as RecurrentOp] || shapeKey(fwd, ctx) !== shapeKey(bwd, ctx)) return undefined;
  const [f, b] = [recurrentAttrs(fwd.attrs), recurrentAttrs(bwd.attrs)];
  if (f.goBackwards || !b.goBackwards || b.alignOutputs !== b.returnSequences) return undefined;
  if ([fwd, bwd].some((n) => ctx.graph.outputs.includes(n.name) || ctx.consumers(n.name).length !== 1)) return undefined;
  return [fwd, bwd];
}

/** The Bidirectional layer a merge node stands for, if it does (see `bidirectionalPair`). */
export function bidirectionalLayer(merge: Node, ctx: ToKerasContext): KerasLayerSpec | undefined {
  const pair = bidirectionalPair(merge, ctx);
  if (!pair) return undefined;
  const [fwd, bwd] = pair;
  const original = ctx.originalOf(merge.name)?.config.layer;
  // Keras 3 names the inner config after the forward twin already; tfjs-layers adds forward_ itself.
  const named = isObject(original) && isObject(original.config) && typeof original.config.name === 'string' ? original.config.name : fwd.op;
  const inner = named.replace(/^forward_/, '');
  const layer = { class_name: CLASSES[fwd.op as RecurrentOp], config: configOf(fwd, inner, ctx) };
  // tfjs-layers names the twins forward_<name> and backward_<name>, and their weights after them.
  const weights = { ...weightsOf(fwd, ctx, `forward_${inner}/`), ...weightsOf(bwd, ctx, `backward_${inner}/`) };
  return { className: 'Bidirectional', name: ctx.name, config: { layer, merge_mode: MERGE_MODES[merge.op] }, inputs: [ctx.kerasName(fwd.inputs[0])], weights };
}

function recurrentToKeras(node: Node, ctx: ToKerasContext): KerasLayerSpec | KerasLayerSpec[] {
  const [reader] = ctx.consumers(node.name);
  if (reader && bidirectionalPair(reader, ctx)?.includes(node)) return []; // written as part of the Bidirectional
  const a = recurrentAttrs(node.attrs);
  if (a.alignOutputs) {
    ctx.fail(
      "a backward layer with aligned outputs is written only inside its Bidirectional, whose merge must read it and a forward twin of the same units and attrs (tfjs-layers' Bidirectional holds one layer config for both)",
    );
  }
  // The mask (a second input) is not a Keras input: TF.js derives it from the Embedding's mask_zero.
  return {
    className: CLASSES[node.op as RecurrentOp],
    name: ctx.name,
    config: configOf(node, ctx.name, ctx),
    inputs: [ctx.inputs[0]],
    weights: weightsOf(node, ctx),
  };
}

export const recurrent: LayerFamily = {
  name: 'recurrent',
  mappings: {
    lstm: { ...importing, toKeras: recurrentToKeras },
    gru: { toKeras: recurrentToKeras },
    simpleRnn: { toKeras: recurrentToKeras },
  },
};
