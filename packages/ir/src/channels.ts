import { GraphError } from './errors.js';
import { inferShapes, nodeParam, topoSort } from './graph.js';
import { channelFlow, getOp, type ChannelFlow, type ParamAxis } from './ops/registry.js';
import type { Attrs, Graph, Node, Param, Shape } from './types.js';

/** Positions along one param axis that belong to each channel of a group. */
export interface ChannelSlice {
  node: string;
  role: string;
  param: string;
  axis: number;
  /** Length of `axis` when the group was computed; a mismatch means the group is stale. */
  dim: number;
  /** How the slice relates to the group: the producer's outputs, a consumer's inputs, or a per-channel param. */
  kind: 'out' | 'in' | 'elementwise';
  /** positions[c] = indices along `axis` that channel c of the group owns (empty when this node has none of it, e.g. one input of a concat). */
  positions: number[][];
}

/**
 * A set of coupled channels (as in Torch-Pruning's DepGraph): removing channel c of the group
 * removes every slice listed, in every param, at once.
 */
export interface ChannelGroup {
  /** The producers' names joined by '+'. */
  id: string;
  /** Nodes whose output channels this group is (more than one when coupled by add), in graph order. */
  producers: string[];
  /** Number of group channels; with one producer, its output channel count. */
  size: number;
  slices: ChannelSlice[];
  /** Nodes that read the group's channels as inputs of a new channel space (next layers). */
  consumers: string[];
  prunable: boolean;
  reason?: string;
}

class UnionFind {
  private parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n).map((_, i) => i);
  }
  find(x: number): number {
    while (this.parent[x] !== x) {
      this.parent[x] = this.parent[this.parent[x]];
      x = this.parent[x];
    }
    return x;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[rb] = ra;
  }
}

type Side = 'in' | 'out' | 'elementwise';

/** The param axes an op slices by channels, and which side of the op indexes them. */
function paramAxes(node: Node): { spec: ParamAxis; side: Side }[] {
  const flow = channelFlow(node);
  if (flow.kind === 'produce') return [...flow.in.map((spec) => ({ spec, side: 'in' as const })), ...flow.out.map((spec) => ({ spec, side: 'out' as const }))];
  if (flow.kind === 'elementwise') return (flow.params ?? []).map((spec) => ({ spec, side: 'elementwise' as const }));
  return [];
}

/** Groups of a producing op (a grouped conv's), 1 otherwise. */
const groupsOf = (node: Node, flow: ChannelFlow = channelFlow(node)) => (flow.kind === 'produce' ? (flow.groups?.(node.attrs) ?? 1) : 1);

/**
 * How a param axis lines up with the channels of the value that indexes it: the axis index
 * (negative ones resolved), the length it must have, and the channel of each position; undefined
 * when the param broadcasts over the channels (a `broadcast` axis of length 1 or absent).
 */
function axisLayout(
  node: Node,
  spec: ParamAxis,
  side: Side,
  p: Param,
  channels: number,
): { axis: number; length: number; channel: (i: number) => number } | undefined {
  const axis = spec.axis < 0 ? p.shape.length + spec.axis : spec.axis;
  const len = p.shape[axis];
  if (spec.broadcast && (len === undefined || len === 1) && channels !== 1) return undefined;
  if (spec.blocks !== undefined) return { axis, length: channels * spec.blocks, channel: (i) => i % channels };
  // A grouped conv's kernel holds one group's input channels: position j is channel j of every group (coupled).
  const groups = side === 'in' ? groupsOf(node) : 1;
  return { axis, length: channels / groups, channel: (i) => i };
}

/** Which value's channels index a param axis of a node. */
function axisValue(node: Node, spec: ParamAxis, side: 'in' | 'out' | 'elementwise'): string {
  if (side === 'in') return node.inputs[0];
  if (side === 'out') return node.name;
  return spec.per === 'in' ? node.inputs[0] : node.name;
}

/** Channel slots of every value (its last axis), with the couplings each op implies. */
class SlotSpace {
  readonly base = new Map<string, number>();
  readonly width = new Map<string, number>();
  readonly blocked = new Map<number, string>();
  readonly uf: UnionFind;

  constructor(
    readonly graph: Graph,
    readonly shapes: Map<string, Shape>,
  ) {
    let n = 0;
    for (const node of graph.nodes) {
      const s = shapes.get(node.name) as Shape;
      // Unknown channel counts (a plugin op may leave them null) get no slots: nothing to trace.
      const w = s.length >= 2 ? (s[s.length - 1] ?? 0) : 1;
      this.base.set(node.name, n);
      this.width.set(node.name, w);
      n += w;
    }
    this.uf = new UnionFind(n);
    for (const node of graph.nodes) {
      this.couple(node);
      this.checkParamAxes(node);
    }
    for (const i of graph.inputs) this.block(i, `it is the graph input '${i}'`);
    for (const o of graph.outputs) this.block(o, `it is the graph output '${o}'`);
  }

  slot(value: string, i: number): number {
    return (this.base.get(value) as number) + i;
  }

  w(value: string): number {
    return this.width.get(value) as number;
  }

  private block(value: string, why: string) {
    for (let i = 0; i < this.w(value); i++) if (!this.blocked.has(this.slot(value, i))) this.blocked.set(this.slot(value, i), why);
  }

  private couple(node: Node) {
    const flow = channelFlow(node);
    const out = node.name;
    const w = (v: string) => this.w(v);
    const what = `${node.op} '${node.name}'`;
    // Only the merges trace more than one input; any other input's channels stay whole (a recurrent layer's mask).
    if (flow.kind !== 'add' && flow.kind !== 'combine' && flow.kind !== 'concat') {
      for (const extra of node.inputs.slice(1))
        this.block(extra, `it is input ${node.inputs.indexOf(extra) + 1} of ${what}, which channels cannot be traced through`);
    }
    switch (flow.kind) {
      case 'produce': {
        // A producer without a bound param on a side cannot drop that side's channels (e.g. Kronecker factors).
        const bound = (axes: ParamAxis[]) => axes.some((a) => node.params[a.role] !== undefined);
        if (!bound(flow.in)) this.block(node.inputs[0], `${what} cannot drop input channels`);
        if (!bound(flow.out)) this.block(out, `${what} cannot drop output channels`);
        const groups = groupsOf(node, flow);
        if (groups > 1) for (const v of [node.inputs[0], out]) this.coupleGroups(node, v, groups);
        return;
      }
      case 'elementwise': {
        const m = flow.expand?.(node.attrs) ?? 1;
        const inp = node.inputs[0];
        if (w(out) !== w(inp) * m) return this.blockAll(node, `${what} maps ${w(inp)} channels to ${w(out)}, not ${w(inp) * m}`);
        for (let c = 0; c < w(inp); c++) for (let j = 0; j < m; j++) this.uf.union(this.slot(inp, c), this.slot(out, c * m + j));
        return;
      }
      case 'flatten': {
        const inp = node.inputs[0];
        const c = w(inp);
        if (w(out) % c !== 0) return this.blockAll(node, `${what} output of ${w(out)} features is not a multiple of ${c} channels`);
        for (let f = 0; f < w(out); f++) this.uf.union(this.slot(inp, f % c), this.slot(out, f));
        return;
      }
      case 'add':
      case 'combine':
        for (const inp of node.inputs) {
          if (w(inp) === 1 && w(out) > 1) continue; // broadcast along the channels: nothing to couple
          if (w(inp) !== w(out)) return this.blockAll(node, `${what} reads ${w(inp)} channels into ${w(out)}`);
          for (let c = 0; c < w(out); c++) this.uf.union(this.slot(inp, c), this.slot(out, c));
        }
        return;
      case 'concat': {
        let off = 0;
        for (const inp of node.inputs) {
          for (let c = 0; c < w(inp); c++) this.uf.union(this.slot(inp, c), this.slot(out, off + c));
          off += w(inp);
        }
        return;
      }
      case 'opaque':
        return this.blockAll(node, `it passes through ${what}`);
    }
  }

  private blockAll(node: Node, why: string) {
    for (const v of [...node.inputs, node.name]) this.block(v, why);
  }

  /** Channel j of every one of `groups` equal groups of `value` is one channel (a grouped conv's side). */
  private coupleGroups(node: Node, value: string, groups: number) {
    const c = this.w(value);
    if (c % groups !== 0) return this.block(value, `${node.op} '${node.name}' splits ${c} channels into ${groups} groups`);
    const per = c / groups;
    for (let j = 0; j < per; j++) for (let k = 1; k < groups; k++) this.uf.union(this.slot(value, j), this.slot(value, j + k * per));
  }

  /** A declared per-channel param axis whose length does not match the channel count cannot be sliced: keep it whole. */
  private checkParamAxes(node: Node) {
    for (const { spec, side } of paramAxes(node)) {
      const p = nodeParam(this.graph, node, spec.role);
      const value = axisValue(node, spec, side);
      if (!p) continue;
      const layout = axisLayout(node, spec, side, p, this.w(value));
      if (layout && p.shape[layout.axis] !== layout.length) {
        this.block(value, `param '${p.name}' axis ${layout.axis} has ${p.shape[layout.axis]} entries, '${value}' has ${this.w(value)} channels`);
      }
    }
  }
}

/**
 * Every prunable axis of the graph as a group of coupled slices; unprunable groups say why.
 * Producers whose channels are coupled (by add or another merge, possibly through concat) share
 * one group. Group channels are numbered by first appearance over the producers in graph order:
 * with a single producer, group channel c is the producer's output channel c, unless the
 * producer's own channels are coupled (a grouped conv's, by in-group position), when one group
 * channel covers all of them.
 */
export function channelGroups(graph: Graph): ChannelGroup[] {
  const space = new SlotSpace(graph, inferShapes(graph));
  const producers = graph.nodes.filter((n) => channelFlow(n).kind === 'produce');
  const linked = linkProducers(space, producers);
  const byRoot = new Map<number, ChannelGroup>();
  const channelOfClass = new Map<number, { group: ChannelGroup; channel: number }>();
  const groups: ChannelGroup[] = [];
  producers.forEach((p, k) => {
    const root = linked.find(k);
    let group = byRoot.get(root);
    if (!group) {
      group = { id: '', producers: [], size: 0, slices: [], consumers: [], prunable: true };
      byRoot.set(root, group);
      groups.push(group);
    }
    group.producers.push(p.name);
    for (let c = 0; c < space.w(p.name); c++) {
      const cls = space.uf.find(space.slot(p.name, c));
      if (!channelOfClass.has(cls)) channelOfClass.set(cls, { group, channel: group.size++ });
    }
  });
  collectSlices(graph, space, channelOfClass);
  for (const g of groups) blockSharedParams(graph, g);
  for (const [slot, why] of space.blocked) {
    const g = channelOfClass.get(space.uf.find(slot));
    if (g) markUnprunable(g.group, `cannot remove channels: ${why}`);
  }
  for (const g of groups) g.id = g.producers.join('+');
  return groups;
}

/** A param the group slices must not also be read by a node the group does not slice it for (a shared weight). */
function blockSharedParams(graph: Graph, g: ChannelGroup) {
  const sliced = new Set(g.slices.map((s) => `${s.node}\u0000${s.role}`));
  const params = new Set(g.slices.map((s) => s.param));
  for (const node of graph.nodes) {
    for (const [role, name] of Object.entries(node.params)) {
      if (params.has(name) && !sliced.has(`${node.name}\u0000${role}`)) {
        return markUnprunable(g, `cannot remove channels: param '${name}' is also used by node '${node.name}' (role '${role}')`);
      }
    }
  }
}

function markUnprunable(g: ChannelGroup, reason: string) {
  if (!g.prunable) return;
  g.prunable = false;
  g.reason = reason;
}

/** Union-find over producers: two producers are linked when any of their channels are coupled. */
function linkProducers(space: SlotSpace, producers: Node[]): UnionFind {
  const linked = new UnionFind(producers.length);
  const owner = new Map<number, number>();
  producers.forEach((p, k) => {
    for (let c = 0; c < space.w(p.name); c++) {
      const cls = space.uf.find(space.slot(p.name, c));
      const o = owner.get(cls);
      if (o === undefined) owner.set(cls, k);
      else linked.union(o, k);
    }
  });
  return linked;
}

function collectSlices(graph: Graph, space: SlotSpace, channelOfClass: Map<number, { group: ChannelGroup; channel: number }>) {
  for (const node of graph.nodes) {
    for (const { spec, side } of paramAxes(node)) {
      const p = nodeParam(graph, node, spec.role);
      const value = axisValue(node, spec, side);
      if (!p) continue;
      const layout = axisLayout(node, spec, side, p, space.w(value));
      if (!layout || p.shape[layout.axis] !== layout.length) continue;
      const { axis, length, channel } = layout;
      const bySlice = new Map<ChannelGroup, ChannelSlice>();
      for (let i = 0; i < length; i++) {
        const g = channelOfClass.get(space.uf.find(space.slot(value, channel(i))));
        if (!g) continue;
        let s = bySlice.get(g.group);
        if (!s) {
          s = { node: node.name, role: spec.role, param: p.name, axis, dim: length, kind: side, positions: Array.from({ length: g.group.size }, () => []) };
          bySlice.set(g.group, s);
          g.group.slices.push(s);
          if (side === 'in' && !g.group.consumers.includes(node.name)) g.group.consumers.push(node.name);
        }
        s.positions[g.channel].push(i);
      }
    }
  }
}

/** The group whose channels a producer node (dense, conv) outputs. */
export function groupOf(graph: Graph, producer: string, groups = channelGroups(graph)): ChannelGroup {
  const g = groups.find((x) => x.producers.includes(producer));
  if (!g) throw new GraphError(`no channel group: '${producer}' does not produce channels (dense or conv)`, producer);
  return g;
}

/** Copy of `p` keeping only `keep` (sorted positions) along `axis`; annotations follow. */
export function takeAlongAxis(p: Param, axis: number, keep: number[]): Param {
  const outer = p.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const dim = p.shape[axis];
  const inner = p.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  if (dim === undefined) throw new GraphError(`param '${p.name}': axis ${axis} is out of range for shape [${p.shape.join(', ')}]`);
  const bad = keep.find((k) => !(Number.isInteger(k) && k >= 0 && k < dim));
  if (bad !== undefined) throw new GraphError(`param '${p.name}': position ${bad} is out of range 0..${dim - 1} on axis ${axis}`);
  const shape = [...p.shape];
  shape[axis] = keep.length;
  const pick = <T extends Float32Array | Uint8Array | Uint16Array>(src: T, make: (n: number) => T): T => {
    const dst = make(outer * keep.length * inner);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < keep.length; k++) {
        const from = (o * dim + keep[k]) * inner;
        dst.set(src.subarray(from, from + inner), (o * keep.length + k) * inner);
      }
    }
    return dst;
  };
  const out: Param = { ...p, shape, data: pick(p.data, (n) => new Float32Array(n)) };
  if (p.mask) out.mask = pick(p.mask, (n) => new Uint8Array(n));
  if (p.codebook) out.codebook = { ...p.codebook, centroids: p.codebook.centroids.slice(), indices: pick(p.codebook.indices, (n) => new Uint16Array(n)) };
  if (p.quant) {
    const q = p.quant;
    const onAxis = q.axis !== undefined && (q.axis + p.shape.length) % p.shape.length === axis;
    // Group-wise scales run over the other axes' rows: cutting one of those would regroup the rows.
    if (q.group && !onAxis)
      throw new GraphError(
        `param '${p.name}': removing positions on axis ${axis} would regroup its group-wise quantization (groups of ${q.group.size} rows); remove channels before quantizing`,
      );
    const groups = q.scale.length / dim;
    const slot = (g: number, k: number) => g * dim + keep[k];
    const pickSlots = <T extends Float32Array | Int32Array>(src: T, make: (n: number) => T): T => {
      const dst = make(groups * keep.length);
      for (let g = 0; g < groups; g++) for (let k = 0; k < keep.length; k++) dst[g * keep.length + k] = src[slot(g, k)];
      return dst;
    };
    out.quant = onAxis
      ? { ...q, scale: pickSlots(q.scale, (n) => new Float32Array(n)), zeroPoint: pickSlots(q.zeroPoint, (n) => new Int32Array(n)) }
      : { ...q, scale: q.scale.slice(), zeroPoint: q.zeroPoint.slice() };
    if (q.group) out.quant.group = { ...q.group };
  }
  return out;
}

/** Throws unless every slice of the group still matches the graph it was computed on. */
function checkFresh(graph: Graph, group: ChannelGroup) {
  for (const s of group.slices) {
    const node = graph.nodes.find((n) => n.name === s.node);
    const now = graph.params.get(s.param)?.shape[s.axis];
    if (node?.params[s.role] !== s.param || now !== s.dim) {
      throw new GraphError(
        `group '${group.id}' is stale: param '${s.param}' axis ${s.axis} is ${now ?? 'gone'}, was ${s.dim}; recompute channelGroups after each removal`,
      );
    }
  }
}

/** Positions to drop on each (param, axis) the group touches. */
function dropsOf(group: ChannelGroup, kept: Set<number>): Map<string, { param: string; axis: number; drop: Set<number> }> {
  const drops = new Map<string, { param: string; axis: number; drop: Set<number> }>();
  for (const s of group.slices) {
    const key = `${s.param}\u0000${s.axis}`;
    const entry = drops.get(key) ?? { param: s.param, axis: s.axis, drop: new Set<number>() };
    s.positions.forEach((pos, c) => {
      if (!kept.has(c)) for (const i of pos) entry.drop.add(i);
    });
    drops.set(key, entry);
  }
  return drops;
}

/**
 * Remove every channel of `group` not in `keep` (group channel indices), from every coupled
 * slice at once. The graph stays valid and gets smaller; shapes follow from the params.
 * All or nothing: on any error the graph is left as it was.
 */
export function removeChannels(graph: Graph, group: ChannelGroup, keep: Iterable<number>): void {
  if (!group.prunable) throw new GraphError(`group '${group.id}' is not prunable: ${group.reason}`);
  const kept = new Set(keep);
  for (const c of kept)
    if (!(Number.isInteger(c) && c >= 0 && c < group.size)) throw new GraphError(`group '${group.id}': channel ${c} is out of range 0..${group.size - 1}`);
  if (kept.size === 0) throw new GraphError(`group '${group.id}': cannot remove every channel`);
  checkFresh(graph, group);
  const plan: { param: string; axis: number; keepPos: number[] }[] = [];
  for (const { param, axis, drop } of dropsOf(group, kept).values()) {
    const dim = (graph.params.get(param) as Param).shape[axis];
    const keepPos: number[] = [];
    for (let i = 0; i < dim; i++) if (!drop.has(i)) keepPos.push(i);
    if (keepPos.length === 0)
      throw new GraphError(`group '${group.id}': keeping channels [${[...kept].join(', ')}] would empty axis ${axis} of param '${param}'`);
    plan.push({ param, axis, keepPos });
  }
  const before = new Map<string, Param>();
  for (const { param, axis, keepPos } of plan) {
    const p = graph.params.get(param) as Param;
    if (!before.has(param)) before.set(param, p);
    graph.params.set(param, takeAlongAxis(p, axis, keepPos));
  }
  const attrsBefore = new Map<Node, Attrs>();
  try {
    followChannels(graph, attrsBefore);
    inferShapes(graph);
  } catch (e) {
    for (const [name, p] of before) graph.params.set(name, p);
    for (const [node, attrs] of attrsBefore) node.attrs = attrs;
    throw new GraphError(`group '${group.id}': removal would leave the graph invalid, nothing was changed (${(e as Error).message})`);
  }
}

/** Nodes whose attrs name a channel count (reshape's target) take the new counts; their old attrs go to `before`. */
function followChannels(graph: Graph, before: Map<Node, Attrs>): void {
  const shapes = new Map<string, Shape>();
  for (const node of topoSort(graph)) {
    const def = getOp(node.op, node.name);
    const inputs = node.inputs.map((i) => shapes.get(i) as Shape);
    const attrs = def.followChannels?.(node, inputs);
    if (attrs) {
      before.set(node, node.attrs);
      node.attrs = attrs;
    }
    shapes.set(node.name, def.inferShape({ node, inputs, param: (role) => nodeParam(graph, node, role) }));
  }
}
