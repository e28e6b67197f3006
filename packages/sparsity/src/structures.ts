/**
 * Which structures of a graph can carry a sparsity factor and be removed when it reaches zero:
 * neurons of dense layers, channels of conv layers, residual blocks (branches into an add).
 */
import { selectLayers, type LayerSelection } from '@condense/core';
import {
  channelFlow,
  channelGroups,
  cloneGraph,
  consumers,
  getNode,
  inferShapes,
  param,
  sortNodes,
  uniqueNodeName,
  validate,
  type ChannelGroup,
  type Graph,
  type Node,
} from '@condense/ir';
import { SCALE_OP, type StructureKind } from './scale-op.js';

export const STRUCTURE_KINDS: readonly StructureKind[] = ['neuron', 'channel', 'block'];

/** Layers to include / exclude, by @condense/core's selector rule (names, globs, op types). */
export type Selection = LayerSelection;

/** A producer (dense, conv) whose output channels form a removable group of their own. */
export interface ChannelStructure {
  kind: 'neuron' | 'channel';
  /** The producer node. */
  node: string;
  /** Where a per-channel factor goes: after the producer's batchNorm / activation chain. */
  after: string;
  size: number;
  group: ChannelGroup;
}

/** A residual branch: input `branch` of the add node `add`, which has an identity shortcut. */
export interface BlockStructure {
  kind: 'block';
  add: string;
  branch: string;
}

export type Structure = ChannelStructure | BlockStructure;

/** The layer a structure belongs to: its producer, or the add node for a block (what include/exclude and layerGamma name). */
export const layerOf = (s: Structure): string => (s.kind === 'block' ? s.add : s.node);

/** The structures whose layer the selection names (candidates: `structures`). */
export function selectStructures<S extends Structure>(graph: Graph, structures: S[], sel: Selection, who: string): S[] {
  const refs = structures.map((s) => ({ node: getNode(graph, layerOf(s)), s }));
  return selectLayers(refs, sel, who).map((r) => r.s);
}

const KIND_OF_OP: Record<string, 'neuron' | 'channel'> = { dense: 'neuron', conv2d: 'channel' };

/**
 * Producers whose channel group is prunable and has that producer alone (channels coupled by an
 * add belong to residual blocks, which SSS handles with block factors).
 */
export function channelStructures(graph: Graph): ChannelStructure[] {
  const groups = channelGroups(graph);
  const readers = consumers(graph);
  const out: ChannelStructure[] = [];
  for (const node of graph.nodes) {
    const kind = KIND_OF_OP[node.op];
    if (!kind) continue;
    const group = groups.find((g) => g.producers.includes(node.name));
    if (!group?.prunable || group.producers.length !== 1) continue;
    out.push({ kind, node: node.name, after: chainEnd(graph, node.name, readers), size: group.size, group });
  }
  return out;
}

/** Follow a producer's single-reader batchNorm / activation chain (conv -> bn -> relu): a factor placed after it survives normalisation. */
function chainEnd(graph: Graph, value: string, readers: Map<string, Node[]>): string {
  for (;;) {
    const next = readers.get(value) ?? [];
    if (next.length !== 1 || graph.outputs.includes(value)) return value;
    const n = next[0];
    const passes = n.op === 'batchNorm' || (n.op === 'activation' && n.attrs.fn !== 'softmax');
    if (!passes) return value;
    value = n.name;
  }
}

/** Ancestors of a value (itself included). */
function ancestors(graph: Graph, value: string): Set<string> {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const seen = new Set<string>();
  const stack = [value];
  while (stack.length) {
    const v = stack.pop() as string;
    if (seen.has(v)) continue;
    seen.add(v);
    stack.push(...(byName.get(v)?.inputs ?? []));
  }
  return seen;
}

/**
 * Residual branches: inputs of an add that are not an ancestor of another of its inputs. An add
 * needs an identity shortcut (an input that is an ancestor of another) to have blocks: removing
 * the branch then leaves y = x.
 */
export function blockStructures(graph: Graph): BlockStructure[] {
  const out: BlockStructure[] = [];
  for (const node of graph.nodes) {
    if (channelFlow(node).kind !== 'add') continue;
    const anc = node.inputs.map((i) => ancestors(graph, i));
    const isShortcut = node.inputs.map((i, k) => anc.some((a, j) => j !== k && a.has(i)));
    if (!isShortcut.some(Boolean)) continue;
    node.inputs.forEach((branch, k) => {
      if (!isShortcut[k] && !out.some((b) => b.add === node.name && b.branch === branch)) out.push({ kind: 'block', add: node.name, branch });
    });
  }
  return out;
}

/**
 * The structures of the requested kinds (among `all`: every kind by default) that the selection
 * names; throws naming a kind the model does not have, or a pattern that matches none of them.
 */
export function findStructures<S extends Structure = Structure>(
  graph: Graph,
  kinds: readonly StructureKind[] | undefined,
  sel: Selection,
  who: string,
  all = [...channelStructures(graph), ...blockStructures(graph)] as S[],
): S[] {
  const bad = kinds?.find((k) => !STRUCTURE_KINDS.includes(k));
  if (bad) throw new Error(`${who}: unknown structure kind '${bad}' (use ${STRUCTURE_KINDS.map((k) => `'${k}'`).join(', ')})`);
  for (const k of kinds ?? []) {
    if (!all.some((s) => s.kind === k)) throw new Error(`${who}: structures includes '${k}', but graph '${graph.name}' has no ${DESCRIBE[k]}`);
  }
  const ofKinds = kinds ? all.filter((s) => kinds.includes(s.kind)) : all;
  if (ofKinds.length === 0)
    throw new Error(`${who}: graph '${graph.name}' has no removable structures (${STRUCTURE_KINDS.map((k) => DESCRIBE[k]).join(', ')})`);
  const chosen = selectStructures(graph, ofKinds, sel, who);
  if (chosen.length === 0) throw new Error(`${who}: include / exclude leave none of the removable structures of graph '${graph.name}'`);
  return chosen;
}

const DESCRIBE: Record<StructureKind, string> = {
  neuron: 'dense layer with removable neurons',
  channel: 'conv2d layer with removable channels',
  block: 'residual block (an add with an identity shortcut)',
};

/**
 * Insert a `scale` node initialised to 1 for each structure: after a producer's chain for
 * neurons and channels, on the branch edge into the add for blocks (tied: one value for the
 * whole branch). All or nothing. Returns the inserted node names.
 */
export function insertScales(graph: Graph, structures: Structure[]): string[] {
  const work = cloneGraph(graph);
  const inserted = structures.map((s) => insertScale(work, s));
  sortNodes(work);
  validate(work);
  Object.assign(graph, { nodes: work.nodes, params: work.params, outputs: work.outputs });
  return inserted;
}

function insertScale(graph: Graph, s: Structure): string {
  const value = s.kind === 'block' ? s.branch : s.after;
  const name = uniqueNodeName(graph, s.kind === 'block' ? `${s.add}_sss_${s.branch}` : `${s.node}_sss`);
  const pname = `${name}/scale`;
  if (graph.params.has(pname)) throw new Error(`param '${pname}' already exists`);
  const channels = inferShapes(graph).get(value)?.at(-1);
  if (typeof channels !== 'number') throw new Error(`value '${value}' has no known channel dimension`);
  graph.params.set(pname, param(pname, [channels], new Float32Array(channels).fill(1)));
  // Blocks: only the add reads the factor; neurons and channels: every reader of the value.
  const readers = s.kind === 'block' ? graph.nodes.filter((n) => n.name === s.add) : graph.nodes.filter((n) => n.inputs.includes(value));
  for (const r of readers) r.inputs = r.inputs.map((i) => (i === value ? name : i));
  if (s.kind !== 'block') graph.outputs = graph.outputs.map((o) => (o === value ? name : o));
  const at = graph.nodes.findIndex((n) => n.name === value);
  graph.nodes.splice(at + 1, 0, { name, op: SCALE_OP, inputs: [value], attrs: { structure: s.kind, layer: layerOf(s) }, params: { scale: pname } });
  return name;
}
