/**
 * A graph model (tfjs-converter's GraphDef JSON and its weights) as an IR graph. Every TF node
 * becomes one IR node named like it (a fused node with a Prelu becomes two): native IR ops where
 * an importer maps the op (./ops), opaque `tfOp` nodes otherwise; float Consts become params
 * (named like the Const) bound to the nodes that read them, or `constant` nodes when an opaque
 * node reads them; the rest of model.json is kept in `graph.meta.graphModel` for export.
 */
import { createGraph, dependencyOrder, GraphError, sortNodes, validate, type Attrs, type Graph, type Node, type Param, type Shape } from '@condense/ir';
import { isObject, ModelIOError, type Json, type JsonObject } from '../io/errors.js';
import { nodeShape } from '../io/import.js';
import type { ValueWeight } from '../io/weights.js';
import { attrOf, shapeDims } from './attrs.js';
import { importerOf, type ImportContext, type PlannedNode, type TfAttrs, type TfInput } from './mapping.js';
import { opaqueShape, type OpaqueInput } from './opaque.js';
import './ops/index.js';
import { functionsOf, parseGraphDef, parseRef, parseSignature } from './parse.js';
import type { GraphDefJson, GraphModelMeta, NodeDef, Signature } from './types.js';

export interface GraphModelParts {
  /** model.json's fields (modelTopology, signature, format, ...), weightsManifest aside. */
  json: Record<string, unknown>;
  params: Param[];
  values: ValueWeight[];
  /** Weight names in manifest order. */
  weightOrder: string[];
  /** A weight-data size mismatch, thrown after the topology's own errors. */
  sizeError?: string;
  where: string;
}

type Weight = { param: Param } | { values: ValueWeight };

/** GraphDef nodes ordered so that every node follows its inputs; a loop's back edge (NextIteration into Merge) does not count. */
function graphOrder(nodes: NodeDef[], where: string): NodeDef[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  return dependencyOrder(nodes, {
    key: (n) => n.name,
    reads: (n) => (n.input ?? []).map((i) => byName.get(parseRef(i).node) as NodeDef).filter((dep) => !isBackEdge(n, dep)),
    cycle: (_path, dep) => {
      throw new ModelIOError(`${where}: the nodes form a cycle through '${dep.name}' (${dep.op}) that is not a loop's NextIteration -> Merge edge`);
    },
  });
}

const isBackEdge = (reader: NodeDef, producer: NodeDef): boolean => reader.op === 'Merge' && producer.op === 'NextIteration';

/** Builds the IR graph node by node. */
class GraphModelImport {
  readonly graph: Graph;
  private readonly shapes = new Map<string, Shape>();
  private readonly byName: Map<string, NodeDef>;
  private readonly weights = new Map<string, Weight>();
  /** Consts that have a `constant` node. */
  private readonly constantNodes = new Set<string>();
  /** Consts some node reads (the others keep a `constant` node of their own). */
  private readonly referenced = new Set<string>();
  private readonly irNodes = new Map<string, Node>();
  private readonly batch: number | undefined;

  constructor(
    readonly graphDef: GraphDefJson,
    readonly parts: GraphModelParts,
  ) {
    this.graph = createGraph(graphName(parts.where));
    this.byName = new Map(graphDef.node.map((n) => [n.name, n]));
    for (const p of parts.params) this.weights.set(p.name, { param: p });
    for (const v of parts.values) this.weights.set(v.name, { values: v });
    this.batch = staticBatch(graphDef.node);
  }

  private fail(message: string): never {
    throw new ModelIOError(`${this.parts.where}: ${message}`);
  }

  /** The decoded weight of a Const node (graph or function), checked against the node's shape. */
  weightOf(node: NodeDef, name = node.name): Weight {
    const w = this.weights.get(name);
    if (!w) this.fail(`Const node '${name}' has no weight of that name in the weights manifest`);
    const dims = shapeDims(attrOf(node, 'value')?.tensor?.tensorShape);
    const shape = 'param' in w ? w.param.shape : w.values.shape;
    if (dims && (dims.length !== shape.length || dims.some((d, i) => d !== shape[i]))) {
      this.fail(`Const node '${name}' has shape [${dims.join(', ')}] but its weight has shape [${shape.join(', ')}]`);
    }
    return w;
  }

  run(): Graph {
    for (const node of graphOrder(this.graphDef.node, this.parts.where)) this.importNode(node);
    for (const node of this.graphDef.node) {
      if (node.op === 'Const' && !this.referenced.has(node.name)) this.ensureConstant(node.name);
    }
    this.importFunctionConsts();
    return this.graph;
  }

  private importNode(node: NodeDef): void {
    if (node.op === 'Const') {
      this.weightOf(node);
      return;
    }
    for (const ref of (node.input ?? []).map(parseRef)) if (this.byName.get(ref.node)?.op === 'Const') this.referenced.add(ref.node);
    if (node.op === 'Placeholder') {
      this.importPlaceholder(node);
      return;
    }
    const importer = importerOf(node.op);
    const data = (node.input ?? []).map(parseRef);
    let reason: string | undefined;
    if (importer && data.some((r) => r.control)) reason = 'it has control inputs';
    else if (importer) {
      const plan = importer(this.context(node));
      if (typeof plan === 'string') reason = plan;
      else {
        reason = this.tryPlan(node, plan);
        if (reason === undefined) return;
      }
    }
    this.importOpaque(node, reason);
  }

  /** A Placeholder with a batch dimension is an IR input; a scalar one or one of unknown rank stays an opaque node that TF.js feeds. */
  private importPlaceholder(node: NodeDef): void {
    const dims = shapeDims(attrOf(node, 'shape')?.shape);
    if (!dims || dims.length === 0) {
      this.importOpaque(node, dims ? 'a scalar input has no batch dimension' : 'an input of unknown rank');
      const n = this.irNodes.get(node.name) as Node;
      (n.attrs.tf as TfAttrs).outputShape = dims ? [] : null;
      this.shapes.set(node.name, dims ? [] : []);
      return;
    }
    const shape = dims.slice(1).map((d) => (d < 0 ? null : d));
    this.add({ name: node.name, op: 'input', inputs: [], attrs: { shape, tf: { node } }, params: {} });
  }

  private context(node: NodeDef): ImportContext {
    const inputs: TfInput[] = (node.input ?? [])
      .map(parseRef)
      .filter((r) => !r.control)
      .map((ref) => {
        const input: TfInput = { ...ref };
        const producer = this.byName.get(ref.node) as NodeDef;
        if (producer.op === 'Const') {
          const w = this.weightOf(producer);
          if ('param' in w) input.param = w.param;
          else input.values = w.values;
          input.value = ref.node;
          input.shape = 'param' in w ? [...w.param.shape] : [...w.values.shape];
        } else if (ref.port === 0 && this.irNodes.has(ref.node)) {
          input.value = ref.node;
          input.shape = this.knownShape(ref.node);
        }
        return input;
      });
    return { node, inputs, batch: this.batch };
  }

  /** Adds the planned nodes; on any shape or param error nothing is added and the error is the reason. */
  private tryPlan(node: NodeDef, plan: PlannedNode[]): string | undefined {
    const ctx = this.context(node);
    const added: Node[] = [];
    const planned = new Set<string>();
    try {
      plan.forEach((p, k) => {
        const last = k === plan.length - 1;
        const name = p.name ?? node.name;
        if (last && name !== node.name) throw new GraphError(`importer bug: the last planned node must be named '${node.name}'`);
        if (!last && (this.byName.has(name) || this.irNodes.has(name))) throw new GraphError(`the name '${name}' for a part of this fused node is taken`);
        const inputs = p.inputs.map((i) => {
          if (typeof i === 'string') {
            if (!planned.has(i)) throw new GraphError(`importer bug: '${i}' is not a node planned before`);
            return i;
          }
          const input = ctx.inputs[i];
          if (!input?.value) throw new GraphError(`input ${i} ('${node.input?.[i]}') has no value the IR can read`);
          if (input.shape === undefined && !p.anyShape?.includes(i)) throw new GraphError(`the shape of input ${i} ('${node.input?.[i]}') is unknown`);
          if (input.param || input.values) this.ensureConstant(input.value);
          return input.value;
        });
        const params: Record<string, string> = {};
        for (const [role, i] of Object.entries(p.params ?? {})) {
          const param = ctx.inputs[i]?.param;
          if (!param) throw new GraphError(`input ${i} of role '${role}' is not a float constant`);
          params[role] = param.name;
        }
        const tf: TfAttrs = last ? { node, ...constsOf(ctx) } : { partOf: node.name };
        added.push(this.add({ name, op: p.op, inputs, attrs: { ...p.attrs, tf } as Attrs, params }));
        planned.add(name);
      });
      return undefined;
    } catch (e) {
      for (const n of added) this.remove(n);
      if (e instanceof GraphError) return e.message.replace(/^node '[^']*': /, '');
      throw e;
    }
  }

  private importOpaque(node: NodeDef, reason: string | undefined): void {
    const refs = (node.input ?? []).map(parseRef);
    const inputs: string[] = [];
    const inputMap: number[] = [];
    const known: OpaqueInput[] = [];
    for (const ref of refs) {
      const producer = this.byName.get(ref.node) as NodeDef;
      if (isBackEdge(node, producer)) {
        inputMap.push(-1);
        if (!ref.control) known.push({});
        continue;
      }
      if (producer.op === 'Const') this.ensureConstant(ref.node);
      inputMap.push(inputs.length);
      inputs.push(ref.node);
      const w = producer.op === 'Const' ? this.weightOf(producer) : undefined;
      const values = w && 'values' in w && w.values.dtype !== 'string' ? (w.values.values as number[]) : undefined;
      if (!ref.control) known.push({ shape: ref.port === 0 ? this.knownShape(ref.node) : undefined, values });
    }
    const tf: TfAttrs = { node, inputMap, outputShape: opaqueShape(node, known), ...(reason ? { reason } : {}) };
    this.add({ name: node.name, op: 'tfOp', inputs, attrs: { tf } as unknown as Attrs, params: {} });
  }

  /** A value's IR shape, undefined when an opaque node's shape was not inferred. */
  private knownShape(value: string): Shape | undefined {
    const n = this.irNodes.get(value);
    if (n?.op === 'tfOp' && !(n.attrs.tf as TfAttrs).outputShape) return undefined;
    return this.shapes.get(value);
  }

  /** The `constant` node of a Const (made once); `owner` marks a Const of a library function or of the initializer graph. */
  private ensureConstant(name: string, owner: Pick<TfAttrs, 'function' | 'initializer'> = {}, node = this.byName.get(name) as NodeDef): void {
    if (this.constantNodes.has(name)) return;
    this.constantNodes.add(name);
    const w = this.weightOf(node, name);
    const tf: TfAttrs = { node, ...owner };
    if ('param' in w) {
      const role = w.param.shape.length >= 2 ? 'weight' : 'value';
      this.add({ name, op: 'constant', inputs: [], attrs: { tf } as unknown as Attrs, params: { [role]: w.param.name } });
    } else {
      const { dtype, shape, values } = w.values;
      this.add({ name, op: 'constant', inputs: [], attrs: { dtype, shape, values, tf } as unknown as Attrs, params: {} });
    }
  }

  /** Consts inside library functions (the converter names them `<function>/<const>`) and the initializer graph are weights of their name: constant nodes keep them. */
  private importFunctionConsts(): void {
    for (const [fn, def] of functionsOf(this.graphDef)) {
      for (const node of def.nodeDef ?? []) {
        if (node.op !== 'Const') continue;
        if (this.byName.has(node.name) || this.constantNodes.has(node.name))
          this.fail(`function '${fn}' has a Const named '${node.name}' like another node; weights are named by their Const`);
        this.ensureConstant(node.name, { function: fn }, node);
      }
    }
    // The initializer graph (hash tables and the like) reads its Consts from the same weights.
    const init = (this.parts.json.modelInitializer as { node?: NodeDef[] } | undefined)?.node ?? [];
    for (const node of init) {
      if (node.op !== 'Const') continue;
      if (this.byName.has(node.name) || this.constantNodes.has(node.name))
        this.fail(`modelInitializer has a Const named '${node.name}' like another node; weights are named by their Const`);
      this.ensureConstant(node.name, { initializer: true }, node);
    }
  }

  private add(node: Node): Node {
    for (const name of Object.values(node.params)) {
      const w = this.weights.get(name);
      if (w && 'param' in w) this.graph.params.set(name, w.param);
    }
    this.graph.nodes.push(node);
    this.irNodes.set(node.name, node);
    try {
      this.shapes.set(node.name, nodeShape(this.graph, node, this.shapes));
    } catch (e) {
      this.remove(node);
      throw e;
    }
    return node;
  }

  private remove(node: Node): void {
    this.graph.nodes = this.graph.nodes.filter((n) => n !== node);
    this.irNodes.delete(node.name);
    this.shapes.delete(node.name);
    const used = new Set(this.graph.nodes.flatMap((n) => Object.values(n.params)));
    for (const p of Object.values(node.params)) if (!used.has(p)) this.graph.params.delete(p);
  }
}

/** The non-float Consts a node reads, as `attrs.tf.consts` records them. */
function constsOf(ctx: ImportContext): Pick<TfAttrs, 'consts'> {
  const consts: NonNullable<TfAttrs['consts']> = {};
  for (const i of ctx.inputs)
    if (i.values) consts[i.node] = { dtype: i.values.dtype, shape: [...i.values.shape], values: [...i.values.values] as number[] | string[] };
  return Object.keys(consts).length ? { consts } : {};
}

/** The first dimension every Placeholder shares, when it is static. */
function staticBatch(nodes: NodeDef[]): number | undefined {
  const dims = nodes.filter((n) => n.op === 'Placeholder').map((n) => shapeDims(attrOf(n, 'shape')?.shape)?.[0]);
  const first = dims[0];
  return first !== undefined && first > 0 && dims.every((d) => d === first) ? first : undefined;
}

function graphName(where: string): string {
  const parts = where.split(/[\\/]/).filter((p) => p && p !== 'model.json');
  return parts.at(-1) ?? 'graph-model';
}

/** Graph inputs: the signature's, else every Placeholder; outputs: the signature's nodes, else the nodes nothing reads. */
function inputsAndOutputs(graphDef: GraphDefJson, signature: Signature | undefined): { inputs: string[]; outputs: string[] } {
  const placeholders = graphDef.node.filter((n) => n.op === 'Placeholder').map((n) => n.name);
  const sigInputs = Object.values(signature?.inputs ?? {}).map((t) => parseRef(t.name).node);
  const inputs = sigInputs.length ? [...new Set(sigInputs)] : placeholders;
  const sigOutputs = Object.values(signature?.outputs ?? {}).map((t) => parseRef(t.name).node);
  if (sigOutputs.length) return { inputs, outputs: [...new Set(sigOutputs)] };
  const read = new Set(graphDef.node.flatMap((n) => (n.input ?? []).map((i) => parseRef(i).node)));
  return { inputs, outputs: graphDef.node.filter((n) => !read.has(n.name)).map((n) => n.name) };
}

/** Import a graph model's parts (see `GraphModelParts`) as an IR graph. */
export function importGraphModel(parts: GraphModelParts): Graph {
  const { json, where } = parts;
  const graphDef = parseGraphDef(json.modelTopology, where);
  const names = new Set(graphDef.node.map((n) => n.name));
  const signature = parseSignature(json.signature, names, where);
  const graph = new GraphModelImport(graphDef, parts).run();
  if (parts.sizeError) throw new ModelIOError(parts.sizeError);
  const io = inputsAndOutputs(graphDef, signature);
  const notPlaceholder = io.inputs.find((i) => graphDef.node.find((n) => n.name === i)?.op !== 'Placeholder');
  if (notPlaceholder) throw new ModelIOError(`${where}: the signature's input '${notPlaceholder}' is not a Placeholder`);
  // Scalar inputs and inputs of unknown rank are opaque nodes TF.js feeds, not IR inputs.
  graph.inputs = io.inputs.filter((i) => graph.nodes.find((n) => n.name === i)?.op === 'input');
  graph.outputs = io.outputs;
  const { modelTopology, ...fields } = json;
  const { node: _nodes, ...topology } = modelTopology as JsonObject;
  const meta: GraphModelMeta = {
    source: where,
    fields: structuredClone(fields) as JsonObject,
    keyOrder: Object.keys(json),
    topology: structuredClone(topology),
    order: graphDef.node.map((n) => n.name),
    consts: Object.fromEntries(graphDef.node.filter((n) => n.op === 'Const').map((n) => [n.name, n])),
    weights: parts.weightOrder,
  };
  graph.meta = { source: where, graphModel: meta as unknown as Json };
  try {
    sortNodes(graph);
    validate(graph);
  } catch (e) {
    if (e instanceof GraphError) throw new ModelIOError(`${where}: ${e.message}`);
    throw e;
  }
  return graph;
}

/** The graph-model metadata import left on a graph, if it came from one. */
export function graphModelMeta(graph: Graph): GraphModelMeta | undefined {
  const m = graph.meta.graphModel;
  return isObject(m as Json) && Array.isArray((m as unknown as GraphModelMeta).order) ? (m as unknown as GraphModelMeta) : undefined;
}
