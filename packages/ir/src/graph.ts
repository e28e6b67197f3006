import { validateParam } from './annotations.js';
import { GraphError } from './errors.js';
import { arityAllows, getOp, paramSpecOf, type OpContext } from './ops/registry.js';
import { dependencyOrder } from './order.js';
import type { Graph, Node, Param, Shape } from './types.js';

export function createGraph(name = 'model'): Graph {
  return { name, nodes: [], params: new Map(), inputs: [], outputs: [], meta: {} };
}

export function param(name: string, shape: number[], data?: Float32Array): Param {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data && data.length !== size) throw new GraphError(`param '${name}': data has ${data.length} values, shape [${shape.join(', ')}] needs ${size}`);
  return { name, shape: [...shape], data: data ?? new Float32Array(size) };
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function getNode(graph: Graph, name: string): Node {
  const node = graph.nodes.find((n) => n.name === name);
  if (!node) throw new GraphError(`no node named '${name}' (nodes: ${graph.nodes.map((n) => n.name).join(', ')})`);
  return node;
}

export function getParam(graph: Graph, name: string): Param {
  const p = graph.params.get(name);
  if (!p) throw new GraphError(`no param named '${name}'`);
  return p;
}

/** The param a node binds to a role, if any. */
export function nodeParam(graph: Graph, node: Node, role: string): Param | undefined {
  const name = node.params[role];
  return name === undefined ? undefined : graph.params.get(name);
}

/** Consumers of every value: value name -> nodes that read it. */
export function consumers(graph: Graph): Map<string, Node[]> {
  const map = new Map<string, Node[]>(graph.nodes.map((n) => [n.name, []]));
  for (const n of graph.nodes) for (const i of n.inputs) map.get(i)?.push(n);
  return map;
}

/** Nodes by name; throws on a duplicate name (a value must have one producer). */
function nodesByName(graph: Graph): Map<string, Node> {
  const byName = new Map<string, Node>();
  for (const n of graph.nodes) {
    if (byName.has(n.name)) throw new GraphError('duplicate node name', n.name);
    byName.set(n.name, n);
  }
  return byName;
}

/**
 * Nodes in an order where every input comes before its reader (stable: already sorted graphs
 * keep their order). Throws on a duplicate name, a cycle or a dangling input.
 */
export function topoSort(graph: Graph): Node[] {
  const byName = nodesByName(graph);
  return dependencyOrder(graph.nodes, {
    key: (n) => n.name,
    reads: (n) =>
      n.inputs.map((i) => {
        const dep = byName.get(i);
        if (!dep) throw new GraphError(`input '${i}' is not produced by any node`, n.name);
        return dep;
      }),
    cycle: (path, again) => {
      const names = path.map((n) => n.name);
      throw new GraphError(`cycle: ${[...names.slice(names.indexOf(again.name)), again.name].join(' -> ')}`, again.name);
    },
  });
}

function context(graph: Graph, node: Node, shapes: Map<string, Shape>): OpContext {
  return {
    node,
    inputs: node.inputs.map((i) => shapes.get(i) as Shape),
    param: (role) => nodeParam(graph, node, role),
  };
}

/** Shape of every value. Validates ops, arity, params and shapes; errors name the node. */
export function inferShapes(graph: Graph): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  for (const node of topoSort(graph)) {
    const def = getOp(node.op, node.name);
    if (!arityAllows(def, node.inputs.length)) {
      throw new GraphError(`op '${node.op}' takes ${def.arity} input(s), got ${node.inputs.length}`, node.name);
    }
    const ctx = context(graph, node, shapes);
    for (const [role, pname] of Object.entries(node.params)) {
      if (!paramSpecOf(def, role)) throw new GraphError(`op '${node.op}' has no param role '${role}'`, node.name);
      if (!graph.params.has(pname)) throw new GraphError(`param '${pname}' (role '${role}') does not exist`, node.name);
    }
    for (const [role, spec] of Object.entries(def.params ?? {})) {
      const p = ctx.param(role);
      if (!p) {
        if (!spec.optional) throw new GraphError(`missing param role '${role}'`, node.name);
        continue;
      }
      const want = spec.shape(ctx);
      if (want.length !== p.shape.length || want.some((d, i) => d !== p.shape[i])) {
        throw new GraphError(`param '${p.name}' (role '${role}') has shape [${p.shape.join(', ')}], expected [${want.join(', ')}]`, node.name);
      }
      if (p.data.length !== sizeOf(p.shape)) throw new GraphError(`param '${p.name}' has ${p.data.length} values for shape [${p.shape.join(', ')}]`, node.name);
    }
    shapes.set(node.name, def.inferShape(ctx));
  }
  return shapes;
}

/** Throws a GraphError naming the node and problem if the graph is not well formed. */
export function validate(graph: Graph): void {
  const byName = nodesByName(graph);
  for (const i of graph.inputs) {
    const node = byName.get(i);
    if (!node) throw new GraphError(`graph input '${i}' is not a node`);
    if (node.op !== 'input') throw new GraphError(`graph input is a '${node.op}' node, not 'input'`, i);
  }
  for (const n of graph.nodes) {
    if (n.op === 'input' && !graph.inputs.includes(n.name)) throw new GraphError(`input node is not listed in graph.inputs`, n.name);
  }
  if (graph.outputs.length === 0) throw new GraphError(`graph '${graph.name}' has no outputs`);
  for (const o of graph.outputs) if (!byName.has(o)) throw new GraphError(`graph output '${o}' is not a node`);
  for (const [key, p] of graph.params) {
    if (p.name !== key) throw new GraphError(`param stored under '${key}' is named '${p.name}'`);
    validateParam(p);
  }
  inferShapes(graph);
}

/** Rebuild `graph.nodes` in topological order (after surgery that appended nodes). */
export function sortNodes(graph: Graph): void {
  graph.nodes = topoSort(graph);
}

/** Deep copy: params' arrays and annotations are cloned, so the copy can be changed freely. */
export function cloneGraph(graph: Graph): Graph {
  const params = new Map<string, Param>();
  for (const [k, p] of graph.params) params.set(k, cloneParam(p));
  return {
    name: graph.name,
    nodes: graph.nodes.map((n) => ({ ...n, inputs: [...n.inputs], attrs: structuredClone(n.attrs), params: { ...n.params } })),
    params,
    inputs: [...graph.inputs],
    outputs: [...graph.outputs],
    meta: structuredClone(graph.meta),
  };
}

export function cloneParam(p: Param): Param {
  const out: Param = { ...p, shape: [...p.shape], data: p.data.slice() };
  if (p.mask) out.mask = p.mask.slice();
  if (p.codebook) out.codebook = { ...p.codebook, centroids: p.codebook.centroids.slice(), indices: p.codebook.indices.slice() };
  if (p.quant)
    out.quant = { ...p.quant, scale: p.quant.scale.slice(), zeroPoint: p.quant.zeroPoint.slice(), ...(p.quant.group ? { group: { ...p.quant.group } } : {}) };
  return out;
}

/** Params bound to nodes, with the node and role that use them (a param shared by nodes appears once per use). */
export function paramUses(graph: Graph): { node: Node; role: string; param: Param }[] {
  const uses: { node: Node; role: string; param: Param }[] = [];
  for (const node of graph.nodes) {
    for (const [role, name] of Object.entries(node.params)) {
      const p = graph.params.get(name);
      if (p) uses.push({ node, role, param: p });
    }
  }
  return uses;
}

/** Params whose role is a prunable weight (dense/conv kernels by default). */
export function weightParams(graph: Graph): { node: Node; role: string; param: Param }[] {
  return paramUses(graph).filter(({ node, role }) => paramSpecOf(getOp(node.op, node.name), role)?.kind === 'weight');
}
