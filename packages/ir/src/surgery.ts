import { applyFloat16 } from './annotations.js';
import { formatShape, GraphError } from './errors.js';
import { getNode, inferShapes } from './graph.js';
import { getOp } from './ops/registry.js';
import type { Graph, Node, Param } from './types.js';

/** `base` if no node has that name, else `base_1`, `base_2`, ... (the first free one). */
export function uniqueNodeName(graph: Graph, base: string): string {
  const taken = new Set(graph.nodes.map((n) => n.name));
  if (!taken.has(base)) return base;
  let k = 1;
  while (taken.has(`${base}_${k}`)) k++;
  return `${base}_${k}`;
}

/** Run `edit`; if the graph is then invalid, put nodes, outputs and params back and rethrow. */
function atomically(graph: Graph, what: string, edit: () => void): void {
  const nodes = graph.nodes.map((n) => ({ node: n, inputs: n.inputs }));
  const outputs = graph.outputs;
  const params = new Map(graph.params);
  try {
    edit();
    inferShapes(graph);
  } catch (e) {
    graph.nodes = nodes.map(({ node, inputs }) => Object.assign(node, { inputs }));
    graph.outputs = outputs;
    graph.params = params;
    throw e instanceof GraphError ? new GraphError(`${what}: ${e.message}; nothing was changed`) : e;
  }
}

/**
 * Insert `node` right after the value `after`: the node reads `after`, and every former reader
 * of `after` (and the graph outputs) now read the node. Its `params` are added to the graph.
 * Typical use: a per-channel scale after a conv. Returns the inserted node.
 */
export function insertAfter(graph: Graph, after: string, node: Omit<Node, 'inputs'>, params: Param[] = []): Node {
  getNode(graph, after);
  if (graph.nodes.some((n) => n.name === node.name)) throw new GraphError('duplicate node name', node.name);
  for (const p of params) if (graph.params.has(p.name)) throw new GraphError(`param '${p.name}' already exists`, node.name);
  const inserted: Node = { ...node, inputs: [after] };
  atomically(graph, `inserting '${node.name}' after '${after}'`, () => {
    for (const n of graph.nodes) if (n.inputs.includes(after)) n.inputs = n.inputs.map((i) => (i === after ? node.name : i));
    graph.outputs = graph.outputs.map((o) => (o === after ? node.name : o));
    const at = graph.nodes.findIndex((n) => n.name === after);
    graph.nodes = [...graph.nodes.slice(0, at + 1), inserted, ...graph.nodes.slice(at + 1)];
    for (const p of params) graph.params.set(p.name, p);
  });
  return inserted;
}

/**
 * Remove a single-input node whose output has its input's shape (dropout, a folded scale, an
 * identity activation): its readers and the graph outputs read its input instead. Params no
 * other node uses are deleted.
 */
export function bypassNode(graph: Graph, name: string): void {
  const node = getNode(graph, name);
  if (node.inputs.length !== 1) throw new GraphError(`cannot bypass a node with ${node.inputs.length} inputs`, name);
  const shapes = inferShapes(graph);
  const [src] = node.inputs;
  const a = shapes.get(src)!;
  const b = shapes.get(name)!;
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new GraphError(`cannot bypass: output ${formatShape(b)} differs from input ${formatShape(a)}`, name);
  }
  atomically(graph, `bypassing '${name}'`, () => {
    graph.nodes = graph.nodes.filter((n) => n !== node);
    for (const n of graph.nodes) if (n.inputs.includes(name)) n.inputs = n.inputs.map((i) => (i === name ? src : i));
    graph.outputs = graph.outputs.map((o) => (o === name ? src : o));
    const used = new Set(graph.nodes.flatMap((n) => Object.values(n.params)));
    for (const p of Object.values(node.params)) if (!used.has(p)) graph.params.delete(p);
  });
}

/** Delete params that no node binds; returns their names. */
export function removeUnusedParams(graph: Graph): string[] {
  const used = new Set(graph.nodes.flatMap((n) => Object.values(n.params)));
  const removed = [...graph.params.keys()].filter((k) => !used.has(k));
  for (const k of removed) graph.params.delete(k);
  return removed;
}

/**
 * Add `delta` (one value per output channel) to a layer's output before its activation, by
 * editing params: its bias; else, when a batch norm is its only reader (and nothing comes between,
 * no fused activation), that norm's moving mean, minus `delta`; else a new zero bias, if the op
 * has a bias role. Returns the param changed, or why none could be (the slot is quantized,
 * weight-shared or masked, or the op has no bias). Float16 params are rounded after.
 */
export function shiftOutput(graph: Graph, nodeName: string, delta: ArrayLike<number>): { param: string } | { reason: string } {
  const node = getNode(graph, nodeName);
  const slot = outputSlot(graph, node, delta.length);
  if ('reason' in slot) return slot;
  const { param: p, sign } = slot;
  if (p.data.length !== delta.length) return { reason: `'${p.name}' has ${p.data.length} values, the shift ${delta.length}` };
  if (p.quant || p.codebook || p.mask) return { reason: `'${p.name}' is ${p.quant ? 'quantized' : p.codebook ? 'weight-shared' : 'masked'}` };
  for (let c = 0; c < delta.length; c++) p.data[c] += sign * delta[c];
  applyFloat16(p);
  return { param: p.name };
}

function outputSlot(graph: Graph, node: Node, channels: number): { param: Param; sign: 1 | -1 } | { reason: string } {
  const bias = node.params.bias === undefined ? undefined : graph.params.get(node.params.bias);
  if (bias) return { param: bias, sign: 1 };
  const readers = graph.nodes.filter((n) => n.inputs.includes(node.name));
  const activation = (node.attrs.activation as string | undefined) ?? 'linear';
  const bn = readers.length === 1 && readers[0].op === 'batchNorm' && activation === 'linear' && !graph.outputs.includes(node.name) ? readers[0] : undefined;
  const mean = bn?.params.movingMean === undefined ? undefined : graph.params.get(bn.params.movingMean);
  if (mean) return { param: mean, sign: -1 };
  if (!getOp(node.op, node.name).params?.bias) return { reason: `'${node.name}' (${node.op}) has no bias and no batch norm after it` };
  let name = `${node.name}/bias`;
  for (let i = 1; graph.params.has(name); i++) name = `${node.name}/bias_${i}`;
  const created: Param = { name, shape: [channels], data: new Float32Array(channels) };
  graph.params.set(name, created);
  node.params.bias = name;
  return { param: created, sign: 1 };
}
