/**
 * Finalisation: fold the scale factors into the adjacent weights, then physically remove every
 * structure whose output no longer matters (a zeroed residual branch, a channel whose value is a
 * known constant or that no consumer reads), through the IR's channel groups. The model gets
 * smaller and faster and, for SSS scales, computes the same function.
 */
import { pruneGroupsSync, type Importance } from '@condense/core';
import {
  activationScalar,
  activationScalePass,
  channelFlow,
  cloneGraph,
  consumers,
  getNode,
  getOp,
  kernelAxis,
  paramUses,
  removeUnusedParams,
  validate,
  type ActivationFn,
  type Attrs,
  type ChannelGroup,
  type Graph,
  type Node,
  type Param,
  type ScalePass,
} from '@condense/ir';
import { scaleNodes } from './scale-op.js';

export interface LayerChange {
  /** The producer (dense, conv) whose output channels were removed; producers coupled by an add are joined by '+'. */
  node: string;
  before: number;
  after: number;
  /** Removed channels whose constant value was moved into the bias of a 'same'-padded conv: exact away from the borders only. */
  approximate: number;
}

export interface FinalizeReport {
  /** Scale nodes folded into adjacent weights and removed. */
  folded: string[];
  /** Scale nodes that could not be folded (left in the graph; export writes them as BatchNormalization). */
  kept: string[];
  /** Residual branches removed because their factor reached 0, as `add <- branch`. */
  blocksRemoved: string[];
  layers: LayerChange[];
  channelsRemoved: number;
  /** Sum of `approximate` over layers; 0 means the finalised model computes exactly what it did before. */
  approximate: number;
}

/**
 * Fold scales, remove zeroed blocks and dead channels. All or nothing: on an error the graph is
 * left as it was. Param objects are replaced, so a compiled model must `syncFromGraph()` after.
 */
export function finalize(graph: Graph): FinalizeReport {
  const work = cloneGraph(graph);
  const report: FinalizeReport = { folded: [], kept: [], blocksRemoved: [], layers: [], channelsRemoved: 0, approximate: 0 };
  removeZeroedBlocks(work, report);
  foldScales(work, report);
  removeDeadChannels(work, report);
  removeUnusedParams(work);
  validate(work);
  Object.assign(graph, { nodes: work.nodes, params: work.params, outputs: work.outputs });
  return report;
}

// ------------------------------------------------------------------------------ helpers

function paramOf(graph: Graph, node: Node, role: string): Param | undefined {
  const name = node.params[role];
  return name === undefined ? undefined : graph.params.get(name);
}

/** Params about to be rewritten must belong to one node and carry no encoding that a rewrite would break. */
function writable(graph: Graph, p: Param): boolean {
  if (p.codebook || p.quant)
    throw new Error(`cannot rewrite param '${p.name}': it carries a ${p.codebook ? 'codebook' : 'quantization'}; run sparsity stages before quantization`);
  return paramUses(graph).filter((u) => u.param.name === p.name).length === 1;
}

/** Multiply slice `c` of `axis` by f[c]. */
function scaleAxis(p: Param, axis: number, f: ArrayLike<number>): void {
  const inner = p.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const dim = p.shape[axis];
  for (let i = 0; i < p.data.length; i++) p.data[i] *= f[Math.floor(i / inner) % dim];
}

/** Replace a single-input node by its input for every reader and output, and delete it. */
function bypass(graph: Graph, node: Node): void {
  const [src] = node.inputs;
  graph.nodes = graph.nodes.filter((n) => n !== node);
  for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === node.name ? src : i));
  graph.outputs = graph.outputs.map((o) => (o === node.name ? src : o));
}

/** Drop nodes no output depends on (graph inputs stay). */
function removeDeadNodes(graph: Graph): void {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const live = new Set<string>();
  const stack = [...graph.outputs];
  while (stack.length) {
    const v = stack.pop() as string;
    if (live.has(v)) continue;
    live.add(v);
    stack.push(...(byName.get(v)?.inputs ?? []));
  }
  graph.nodes = graph.nodes.filter((n) => live.has(n.name) || n.op === 'input');
}

/** An activation applied to a constant, by the IR's reference definition; undefined for softmax, whose value depends on the other channels. */
function activationAt(fn: ActivationFn, attrs: Attrs, k: number): number | undefined {
  return activationScalar(fn, attrs)?.(k);
}

const admits = (pass: ScalePass | undefined, nonNegative: boolean) => pass === 'any' || (pass === 'nonNegative' && nonNegative);

/** Does a factor with these signs pass through the node, op(s x) = s op(x) per channel (the op's `channelValues` fact)? */
function passesScale(node: Node, nonNegative: boolean): boolean {
  return admits(getOp(node.op, node.name).channelValues?.(node)?.scale, nonNegative);
}

/** Does the factor pass through the node's fused activation, f(s x) = s f(x)? */
function fusedPassesScale(node: Node, nonNegative: boolean): boolean {
  return admits(activationScalePass((node.attrs.activation as ActivationFn | undefined) ?? 'linear', node.attrs), nonNegative);
}

/** The axis of a dense/conv kernel indexed by input or output channels; undefined for ops without such a kernel. */
const kernelAxisOf = (node: Node, side: 'in' | 'out') => kernelAxis(getOp(node.op, node.name), side, node);

// ------------------------------------------------------------------------------ blocks

/** A residual branch whose (tied) factor is 0 adds nothing: cut the edge, drop the add if one input is left. */
function removeZeroedBlocks(graph: Graph, report: FinalizeReport): void {
  for (const s of scaleNodes(graph.nodes, 'block')) {
    if ((paramOf(graph, s, 'scale') as Param).data.some((v) => v !== 0)) continue;
    const readers = graph.nodes.filter((n) => n.inputs.includes(s.name));
    if (readers.length !== 1 || readers[0].op !== 'add' || graph.outputs.includes(s.name)) continue;
    const add = readers[0];
    add.inputs = add.inputs.filter((i) => i !== s.name);
    report.blocksRemoved.push(`${add.name} <- ${s.inputs[0]}`);
    if (add.inputs.length === 1) bypass(graph, add);
  }
  removeDeadNodes(graph);
}

// ------------------------------------------------------------------------------ folding

function foldScales(graph: Graph, report: FinalizeReport): void {
  for (const s of scaleNodes(graph.nodes)) {
    const f = (paramOf(graph, s, 'scale') as Param).data;
    if (foldBackward(graph, s, f) || foldForward(graph, s, f)) {
      bypass(graph, s);
      report.folded.push(s.name);
    } else {
      report.kept.push(s.name);
    }
  }
}

/**
 * Into what produces the scaled value: through activations that commute with the factors and
 * per-channel pooling, into a batchNorm's gamma and beta or a dense/conv kernel's output columns
 * and bias. Every value on the way must be read by the next node only.
 */
function foldBackward(graph: Graph, s: Node, f: Float32Array): boolean {
  const readers = consumers(graph);
  const nonNeg = f.every((v) => v >= 0);
  let value = s.inputs[0];
  for (;;) {
    if ((readers.get(value)?.length ?? 0) !== 1 || graph.outputs.includes(value)) return false;
    const node = getNode(graph, value);
    const out = kernelAxisOf(node, 'out');
    if (passesScale(node, nonNeg)) {
      value = node.inputs[0];
    } else if (node.op === 'batchNorm') {
      return foldIntoBatchNorm(graph, node, f);
    } else if (out !== undefined && fusedPassesScale(node, nonNeg)) {
      const kernel = paramOf(graph, node, 'kernel') as Param;
      const bias = paramOf(graph, node, 'bias');
      if (!writable(graph, kernel) || (bias && !writable(graph, bias))) return false;
      scaleAxis(kernel, out, f);
      if (bias) scaleAxis(bias, 0, f);
      return true;
    } else {
      return false;
    }
  }
}

/** s * (gamma * xhat + beta) = (s gamma) xhat + s beta. */
function foldIntoBatchNorm(graph: Graph, bn: Node, f: Float32Array): boolean {
  const gamma = paramOf(graph, bn, 'gamma');
  const beta = paramOf(graph, bn, 'beta');
  if ((gamma && !writable(graph, gamma)) || (beta && !writable(graph, beta))) return false;
  if (gamma) scaleAxis(gamma, 0, f);
  else {
    const name = uniqueParamName(graph, `${bn.name}/gamma`);
    graph.params.set(name, { name, shape: [f.length], data: Float32Array.from(f) });
    bn.params.gamma = name;
  }
  if (beta) scaleAxis(beta, 0, f);
  return true;
}

function uniqueParamName(graph: Graph, base: string): string {
  let name = base;
  for (let k = 1; graph.params.has(name); k++) name = `${base}_${k}`;
  return name;
}

/**
 * Into the input rows of every dense/conv that reads the scaled value, through per-channel
 * linear ops and flatten (feature f of a flattened [H, W, C] value is channel f mod C).
 */
function foldForward(graph: Graph, s: Node, f: Float32Array): boolean {
  const readers = consumers(graph);
  const nonNeg = f.every((v) => v >= 0);
  const targets: { node: Node; flat: boolean }[] = [];
  const walk = (value: string, flat: boolean): boolean => {
    if (graph.outputs.includes(value)) return false;
    for (const r of readers.get(value) ?? []) {
      if (kernelAxisOf(r, 'in') !== undefined && r.inputs[0] === value) {
        if (targets.some((t) => t.node === r)) return false;
        targets.push({ node: r, flat });
      } else if (r.op === 'flatten' && !flat) {
        if (!walk(r.name, true)) return false;
      } else if (passesScale(r, nonNeg) && !flat) {
        if (!walk(r.name, false)) return false;
      } else {
        return false;
      }
    }
    return true;
  };
  if (!walk(s.name, false) || targets.length === 0) return false;
  const kernels = targets.map((t) => paramOf(graph, t.node, 'kernel') as Param);
  if (!kernels.every((k) => writable(graph, k))) return false;
  targets.forEach((t, i) => {
    const k = kernels[i];
    const axis = kernelAxisOf(t.node, 'in') as number;
    const rows = k.shape[axis];
    scaleAxis(
      k,
      axis,
      Float32Array.from({ length: rows }, (_, r) => f[t.flat ? r % f.length : r]),
    );
  });
  return true;
}

// ------------------------------------------------------------------------------ dead channels

/** A removed channel's constant value, to be added to a consumer's bias. */
interface Compensation {
  consumer: Node;
  /** Positions of the channel on the consumer kernel's input axis. */
  positions: number[];
  value: number;
  approximate: boolean;
}

function removeDeadChannels(graph: Graph, report: FinalizeReport): void {
  // Every dead channel of each group, with the bias compensations that keep the function.
  const dead = new Map<ChannelGroup, Map<number, Compensation[]>>();
  const alive: Importance = (g, group) => {
    const found = new Map<number, Compensation[]>();
    for (let c = 0; c < group.size; c++) {
      const comps = deadChannel(g, group, c);
      if (comps) found.set(c, comps);
    }
    dead.set(group, found);
    return Float64Array.from({ length: group.size }, (_, c) => (found.has(c) ? 0 : 1));
  };
  // The driver removes every channel scoring 0 (a group keeps at least one), group by group, afresh.
  pruneGroupsSync(
    graph,
    alive,
    { threshold: 0 },
    {
      compensate({ graph: g, group, removed, kept }) {
        let approximate = 0;
        for (const c of removed) {
          const comps = dead.get(group)?.get(c) ?? [];
          for (const comp of comps) compensate(g, comp);
          if (comps.some((x) => x.approximate)) approximate++;
        }
        report.layers.push({ node: group.id, before: group.size, after: kept.length, approximate });
        report.channelsRemoved += removed.length;
        report.approximate += approximate;
      },
    },
    'sparsity.finalize',
  );
}

/** Is the kernel slice of channel `c` along the last axis all zero? */
function outColumnZero(k: Param, c: number): boolean {
  const n = k.shape[k.shape.length - 1];
  for (let i = c; i < k.data.length; i += n) if (k.data[i] !== 0) return false;
  return true;
}

/** Are the consumer kernel's input positions all zero? (dense [in, out]: rows; conv [kh, kw, in, out]: axis 2.) */
function inputsZero(k: Param, axis: number, positions: number[]): boolean {
  const inner = k.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const dim = k.shape[axis];
  const pos = new Set(positions);
  for (let i = 0; i < k.data.length; i++) if (k.data[i] !== 0 && pos.has(Math.floor(i / inner) % dim)) return false;
  return true;
}

/**
 * If channel `c` of the group can be removed, the bias corrections that keep the function:
 * on every path from a producer to a consumer the channel is either a known constant (a zero
 * kernel column, a zero batchNorm gamma or scale) or the consumer ignores it (zero weights).
 * Through an add (residual producers coupled in one group) only a constant 0 passes: then every
 * producer of the group must reach it as 0. Undefined when the channel still matters.
 */
function deadChannel(graph: Graph, group: ChannelGroup, c: number): Compensation[] | undefined {
  const readers = consumers(graph);
  const comps: Compensation[] = [];
  const walk = (value: string, local: number, k: number | undefined, flat: boolean): boolean => {
    if (graph.outputs.includes(value)) return false;
    for (const r of readers.get(value) ?? []) {
      if (kernelAxisOf(r, 'in') !== undefined) {
        const slice = group.slices.find((s) => s.node === r.name && s.kind === 'in');
        if (!slice || r.inputs[0] !== value) return false;
        const positions = slice.positions[c];
        const w = paramOf(graph, r, 'kernel') as Param;
        if (inputsZero(w, slice.axis, positions) || k === 0) continue;
        if (k === undefined || !Number.isFinite(k)) return false;
        // A windowed op's 'same' padding sees zeros, not the constant, at the borders.
        const approximate = ((r.attrs.padding as string | undefined) ?? 'valid') === 'same';
        comps.push({ consumer: r, positions, value: k, approximate });
        continue;
      }
      const next = step(graph, r, local, k, flat);
      if (next === false || !walk(r.name, local, next.k, next.flat)) return false;
    }
    return true;
  };
  for (const name of group.producers) {
    const producer = getNode(graph, name);
    const kernel = paramOf(graph, producer, 'kernel') as Param;
    const out = group.slices.find((s) => s.node === name && s.kind === 'out' && s.param === kernel.name);
    // One output column per channel (not a grouped conv's or a recurrent layer's several).
    if (out?.positions[c]?.length !== 1) return undefined;
    const local = out.positions[c][0];
    const bias = paramOf(graph, producer, 'bias');
    const act = (producer.attrs.activation as ActivationFn | undefined) ?? 'linear';
    const start = outColumnZero(kernel, local) ? activationAt(act, producer.attrs, bias ? bias.data[local] : 0) : undefined;
    if (!walk(name, local, start, false)) return undefined;
  }
  return comps;
}

/**
 * The channel's constant through one node (undefined: not constant), or false if the node mixes
 * channels. `c`: the channel's index on this node. Per-channel ops state how in their OpDef
 * (`channelValues`); after a flatten, per-channel params are no longer indexed by `c`.
 */
function step(graph: Graph, node: Node, c: number, k: number | undefined, flat: boolean): { k: number | undefined; flat: boolean } | false {
  const def = getOp(node.op, node.name);
  const flow = channelFlow(node, def);
  if (flow.kind === 'flatten') return flat ? false : { k, flat: true };
  // The sum is 0 when every input is; the walks from the group's other producers check theirs.
  if (flow.kind === 'add') return k === 0 ? { k: 0, flat } : false;
  const values = def.channelValues?.(node);
  if (!values || (flat && flow.kind === 'elementwise' && flow.params?.length)) return false;
  return { k: values.constant(k, c, (role) => paramOf(graph, node, role)), flat };
}

/** bias[o] += value * (sum of the consumer's weights on the removed channel's positions, over the window too). */
function compensate(graph: Graph, comp: Compensation): void {
  const { consumer, positions, value } = comp;
  const kernel = paramOf(graph, consumer, 'kernel') as Param;
  const axis = kernelAxisOf(consumer, 'in') as number;
  const out = kernel.shape[kernel.shape.length - 1];
  let bias = paramOf(graph, consumer, 'bias');
  if (!bias) {
    const name = uniqueParamName(graph, `${consumer.name}/bias`);
    bias = { name, shape: [out], data: new Float32Array(out) };
    graph.params.set(name, bias);
    consumer.params.bias = name;
  } else if (!writable(graph, bias)) {
    throw new Error(`cannot remove a channel feeding '${consumer.name}': its bias '${bias.name}' is shared with another node`);
  }
  const inner = kernel.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const dim = kernel.shape[axis];
  const pos = new Set(positions);
  const add = new Float64Array(out);
  for (let i = 0; i < kernel.data.length; i++) if (pos.has(Math.floor(i / inner) % dim)) add[i % out] += kernel.data[i];
  for (let o = 0; o < out; o++) bias.data[o] += value * add[o];
}
