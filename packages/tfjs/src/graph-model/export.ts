/**
 * An IR graph as a graph model: the GraphDef JSON (every node written by its IR op's exporter in
 * ./ops, opaque ones from their NodeDefs), the weights manifest (each float weight encoded by
 * `encodeParam`: its original encoding and bytes while its data is unchanged) and the rest of
 * model.json as import kept it.
 */
import { consumers, GraphError, inferShapes, validate, type Graph, type Node, type Param, type Shape } from '@condense/ir';
import type { io } from '@tensorflow/tfjs-core';
import { ModelIOError, type Json, type JsonObject } from '../io/errors.js';
import type { ExportOptions } from '../io/export.js';
import type { WeightEncoding } from '../io/encoding.js';
import { encodeParam, type EncodedWeight, type ValueWeight } from '../io/weights.js';
import { TF_DTYPE, toTensorShape } from './attrs.js';
import { graphModelMeta } from './import.js';
import { exportableOps, exporterOf, tfAttrs, type ExportContext } from './mapping.js';
import './opaque.js';
import './ops/index.js';
import { parseRef } from './parse.js';
import type { FunctionDef, GraphModelMeta, NodeDef } from './types.js';

export interface GraphModelArtifacts {
  /** What stock `tf.loadGraphModel` (or `loadGraphModelSync`) takes. */
  artifacts: io.ModelArtifacts;
  /** model.json's top-level fields in the source's order, `weightsManifest` standing where it goes. */
  modelJson(paths: string[]): Record<string, unknown>;
  /** Weight name -> the param it holds (float weights) or its values (int32, bool, string), and its bytes' place in the weight data; in manifest order. */
  sources: Map<string, WeightSource & { offset: number; length: number }>;
  /** Each float weight's encoding and why, in manifest order (non-float values are written as they are). */
  encodings: WeightEncoding[];
  notes: string[];
}

type Values = Omit<ValueWeight, 'name'>;
type WeightSource = { param: string } | { values: Values };
/** A weight to write: a float param's says how it was encoded (`EncodedWeight`); non-float values have no choice. */
type WrittenWeight = Omit<EncodedWeight, 'encoding'> & { encoding?: WeightEncoding };

/** Encodes non-float values as TF.js stores them: int32 little-endian, bool bytes, strings as uint32 length + bytes. */
function encodeValues(name: string, w: Values): WrittenWeight {
  const spec = { name, shape: [...w.shape], dtype: w.dtype };
  if (w.dtype === 'string') {
    const parts = (w.values as string[]).map((b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const bytes = new Uint8Array(parts.reduce((a, p) => a + 4 + p.byteLength, 0));
    const view = new DataView(bytes.buffer);
    let at = 0;
    for (const p of parts) {
      view.setUint32(at, p.byteLength, true);
      bytes.set(p, at + 4);
      at += 4 + p.byteLength;
    }
    return { spec, byteLength: bytes.byteLength, write: (out) => out.set(bytes) };
  }
  const arr = w.dtype === 'bool' ? Uint8Array.from(w.values as number[]) : Int32Array.from(w.values as number[]);
  const bytes = new Uint8Array(arr.buffer);
  return { spec, byteLength: bytes.byteLength, write: (out) => out.set(bytes) };
}

const sameValues = (a: Values, b: Values): boolean =>
  a.dtype === b.dtype &&
  a.shape.length === b.shape.length &&
  a.shape.every((d, i) => d === b.shape[i]) &&
  a.values.length === b.values.length &&
  a.values.every((v, i) => v === b.values[i]);

/** A Const NodeDef for a tensor: the source's own (dtype and shape updated) or a new one. */
function constNode(name: string, template: NodeDef | undefined, dtype: keyof typeof TF_DTYPE, shape: readonly number[]): NodeDef {
  const t: NodeDef = template ? structuredClone(template) : { name, op: 'Const', attr: {} };
  t.name = name;
  const type = TF_DTYPE[dtype];
  const attr = (t.attr ??= {});
  if (attr.dtype?.type !== type) attr.dtype = { type };
  const tensor = attr.value?.tensor ?? {};
  const old = tensor.tensorShape?.dim?.map((d) => Number(d.size ?? -1)) ?? [];
  const same = tensor.dtype === type && old.length === shape.length && old.every((d, i) => d === shape[i]);
  if (!same) attr.value = { tensor: { ...tensor, dtype: type, tensorShape: toTensorShape(shape) } };
  return t;
}

class GraphModelWriter implements ExportContext {
  readonly shapes: Map<string, Shape>;
  readonly notes: string[] = [];
  private readonly meta: GraphModelMeta | undefined;
  private readonly readerMap: Map<string, Node[]>;
  /** Graph nodes written, by name. */
  private readonly nodes = new Map<string, NodeDef>();
  /** Weights written, by name, and the values of non-float ones (to share a name only with equal values). */
  private readonly weights = new Map<string, WrittenWeight>();
  private readonly valuesOf = new Map<string, Values>();
  private readonly paramOf = new Map<string, Param>();
  private readonly sources = new Map<string, WeightSource>();
  private readonly taken: Set<string>;

  constructor(
    readonly graph: Graph,
    private readonly options: ExportOptions,
  ) {
    this.shapes = inferShapes(graph);
    this.meta = graphModelMeta(graph);
    this.readerMap = consumers(graph);
    this.taken = new Set(graph.nodes.map((n) => n.name));
  }

  template(node: Node): NodeDef | undefined {
    const t = tfAttrs(node).node;
    return t ? structuredClone(t) : undefined;
  }

  tensor(value: string): string {
    return value;
  }

  readers(value: string): Node[] {
    return this.readerMap.get(value) ?? [];
  }

  fail(node: Node, message: string): never {
    throw new ModelIOError(`node '${node.name}' (${node.op}): ${message}`);
  }

  original(node: Node, constName: string): Values | undefined {
    return tfAttrs(node).consts?.[constName];
  }

  /** A name no node or Const has: `base`, else `base_1`, ... */
  private fresh(base: string): string {
    let name = base;
    for (let k = 1; this.taken.has(name) || this.weights.has(name); k++) name = `${base}_${k}`;
    this.taken.add(name);
    return name;
  }

  param(node: Node, role: string): string {
    const p = this.graph.params.get(node.params[role]);
    if (!p) this.fail(node, `no param bound to role '${role}'`);
    if (this.paramOf.get(p.name) === p) return p.name;
    // A constant node owns its param's name; any other node clashing with it gets a fresh Const name.
    const owner = this.graph.nodes.find((n) => n.name === p.name);
    const name = this.weights.has(p.name) || (owner && owner.op !== 'constant') ? this.fresh(p.name) : p.name;
    this.paramOf.set(name, p);
    this.sources.set(name, { param: p.name });
    this.weights.set(name, encodeParam(p, name, this.options, this.notes));
    this.nodes.set(name, constNode(name, this.meta?.consts[p.name], 'float32', p.shape));
    return name;
  }

  values(preferred: string, w: Values): string {
    const had = this.valuesOf.get(preferred);
    if (had && sameValues(had, w)) return preferred;
    const name = had || (this.taken.has(preferred) && !this.meta?.consts[preferred]) ? this.fresh(preferred) : preferred;
    this.valuesOf.set(name, w);
    this.sources.set(name, { values: w });
    this.weights.set(name, encodeValues(name, w));
    this.nodes.set(name, constNode(name, this.meta?.consts[preferred], w.dtype, w.shape));
    return name;
  }

  write(): GraphModelArtifacts {
    const fnConsts = this.graph.nodes.filter((n) => n.op === 'constant' && tfAttrs(n).function !== undefined);
    const initConsts = this.graph.nodes.filter((n) => n.op === 'constant' && tfAttrs(n).initializer);
    const outside = new Set([...fnConsts, ...initConsts]);
    // Constants first: they own their names; exporters that regenerate other values then take fresh ones.
    const ordered = [...this.graph.nodes.filter((n) => n.op === 'constant' && !outside.has(n)), ...this.graph.nodes.filter((n) => n.op !== 'constant')];
    for (const node of ordered) {
      const exporter = exporterOf(node.op) ?? this.fail(node, `op '${node.op}' has no GraphModel form (ops that do: ${exportableOps().join(', ')})`);
      for (const def of exporter(node, this)) {
        if (this.nodes.has(def.name) && this.nodes.get(def.name) !== def) this.fail(node, `writes a second TF node named '${def.name}'`);
        this.nodes.set(def.name, def);
      }
    }
    const library = this.library(fnConsts);
    // The initializer graph is written as read; its Consts' weights come from their constant nodes.
    for (const node of initConsts) this.weightOf(node);
    this.checkSignature();
    return this.assemble(library);
  }

  /** The weight of a constant node that is not a graph node (a library function's or the initializer's Const), named like it. */
  private weightOf(node: Node): { dtype: keyof typeof TF_DTYPE; shape: number[] } {
    const p = this.graph.params.get(node.params.weight ?? node.params.value ?? '');
    if (p) {
      this.sources.set(node.name, { param: p.name });
      this.weights.set(node.name, encodeParam(p, node.name, this.options, this.notes));
      return { dtype: 'float32', shape: p.shape };
    }
    const w: Values = { dtype: node.attrs.dtype as Values['dtype'], shape: node.attrs.shape as number[], values: node.attrs.values as number[] };
    this.sources.set(node.name, { values: w });
    this.weights.set(node.name, encodeValues(node.name, w));
    return { dtype: w.dtype, shape: w.shape };
  }

  /** Library functions with their Consts written from the constant nodes (weights named like the Const). */
  private library(fnConsts: Node[]): JsonObject | undefined {
    const lib = this.meta?.topology.library as unknown as { function?: FunctionDef[] } | undefined;
    if (!lib) return undefined;
    const byName = new Map(fnConsts.map((n) => [n.name, n]));
    const out = structuredClone(lib);
    for (const f of out.function ?? []) {
      f.nodeDef = (f.nodeDef ?? []).map((def) => {
        if (def.op !== 'Const') return def;
        const weightName = def.name;
        const node = byName.get(weightName);
        if (!node) throw new ModelIOError(`function '${f.signature.name}': its Const '${def.name}' has no constant node in the graph`);
        const { dtype, shape } = this.weightOf(node);
        return constNode(def.name, def, dtype, shape);
      });
    }
    return out as unknown as JsonObject;
  }

  private checkSignature(): void {
    const sig = this.meta?.fields.signature as { inputs?: Record<string, { name: string }>; outputs?: Record<string, { name: string }> } | undefined;
    for (const side of ['inputs', 'outputs'] as const) {
      for (const [key, t] of Object.entries(sig?.[side] ?? {})) {
        if (!this.nodes.has(parseRef(t.name).node))
          throw new ModelIOError(`signature ${side} '${key}' names tensor '${t.name}', whose node is no longer in the graph`);
      }
    }
  }

  /** Items in the source's order, then the new ones in the order they were written. */
  private inOrder<T>(items: Map<string, T>, order: readonly string[] = []): T[] {
    const known = order.filter((n) => items.has(n));
    const seen = new Set(known);
    return [...known, ...[...items.keys()].filter((n) => !seen.has(n))].map((n) => items.get(n) as T);
  }

  private assemble(library: JsonObject | undefined): GraphModelArtifacts {
    const node = this.inOrder(this.nodes, this.meta?.order);
    const weights = this.inOrder(this.weights, this.meta?.weights);
    const data = new Uint8Array(weights.reduce((a, w) => a + w.byteLength, 0));
    const sources = new Map<string, WeightSource & { offset: number; length: number }>();
    let at = 0;
    for (const w of weights) {
      w.write(data.subarray(at, at + w.byteLength));
      sources.set(w.spec.name, { ...(this.sources.get(w.spec.name) as WeightSource), offset: at, length: w.byteLength });
      at += w.byteLength;
    }
    const topology: JsonObject = { node: node as unknown as Json, ...(this.meta?.topology ?? {}), ...(library ? { library } : {}) };
    const fields: JsonObject = this.meta ? structuredClone(this.meta.fields) : { format: 'graph-model', generatedBy: 'condense', convertedBy: null };
    const weightSpecs = weights.map((w) => w.spec);
    const artifacts = { ...fields, modelTopology: topology, weightSpecs, weightData: data.buffer } as unknown as io.ModelArtifacts;
    const keyOrder = this.meta?.keyOrder ?? [
      'format',
      'generatedBy',
      'convertedBy',
      ...Object.keys(fields).filter((k) => !['format', 'generatedBy', 'convertedBy'].includes(k)),
      'modelTopology',
      'weightsManifest',
    ];
    const modelJson = (paths: string[]) => {
      const all: Record<string, unknown> = { ...fields, modelTopology: topology, weightsManifest: [{ paths, weights: weightSpecs }] };
      const keys = [...keyOrder.filter((k) => k in all), ...Object.keys(all).filter((k) => !keyOrder.includes(k))];
      return Object.fromEntries(keys.map((k) => [k, all[k]]));
    };
    const encodings = weights.flatMap((w) => (w.encoding ? [w.encoding] : []));
    return { artifacts, modelJson, sources, encodings, notes: this.notes };
  }
}

/**
 * An IR graph (imported from a graph model, or any graph whose ops have GraphModel forms) as
 * graph-model artifacts and model.json fields. With no stage applied in between, the result is
 * the source model: the same nodes, signature and metadata, each weight in its original encoding
 * and bytes.
 */
export function toGraphModelArtifacts(graph: Graph, options: ExportOptions = {}): GraphModelArtifacts {
  try {
    validate(graph);
  } catch (e) {
    if (e instanceof GraphError) throw new ModelIOError(`graph '${graph.name}' cannot be written as a graph model: ${e.message}`);
    throw e;
  }
  return new GraphModelWriter(graph, options).write();
}

/**
 * A weight of a graph-model topology as a container stores it for its loader: a float one loads
 * from the container's param of that weight name; a non-float one (int32, bool, string) carries
 * its bytes as TF.js stores them, base64.
 */
export type StoredGraphWeight =
  | { name: string; shape: number[]; dtype: 'float32' }
  | { name: string; shape: number[]; dtype: 'int32' | 'bool' | 'string'; data: string };

function base64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * A graph model as the container's loader rebuilds it (`@condense/codec/loader`): model.json's
 * fields with the GraphDef, every weight in manifest order (float ones named, to be loaded from
 * the container's params; non-float ones with their bytes), and param -> weight names.
 */
export function graphModelTopology(graph: Graph): { modelTopology: JsonObject; weightNames: Map<string, string> } {
  const a = toGraphModelArtifacts(graph);
  const data = new Uint8Array(a.artifacts.weightData as ArrayBuffer);
  const weightNames = new Map<string, string>();
  const weights: StoredGraphWeight[] = [];
  for (const [name, src] of a.sources) {
    const shape = [...('param' in src ? graph.params.get(src.param)!.shape : src.values.shape)];
    if ('param' in src) {
      weightNames.set(src.param, name);
      weights.push({ name, shape, dtype: 'float32' });
    } else weights.push({ name, shape, dtype: src.values.dtype, data: base64(data.subarray(src.offset, src.offset + src.length)) });
  }
  const { weightsManifest: _m, ...model } = a.modelJson([]);
  return { modelTopology: { format: 'graph-model', model: model as JsonObject, weights: weights as unknown as Json }, weightNames };
}
