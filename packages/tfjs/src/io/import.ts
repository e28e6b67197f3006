import { arityAllows, createGraph, getOp, GraphError, validate, type Attrs, type Graph, type Param, type Shape } from '@condense/ir';
import type { io } from '@tensorflow/tfjs-core';
import { brief, isObject, ModelIOError, type Json } from './errors.js';
import './layers/index.js';
import { importableClasses, mappingForClass, type FromKerasContext, type OriginalLayer } from './mapping.js';
import { parseTopology, type KerasLayer, type KerasTopology } from './topology.js';
import { ByteSource, decodeWeights } from './weights.js';
import { importGraphModel } from '../graph-model/import.js';
import { isGraphModelJson } from '../graph-model/parse.js';

/** What import keeps in `graph.meta.keras` so that export can write the model back faithfully. */
export interface KerasMeta {
  /** Where the model came from (a model.json path, or 'model artifacts'). */
  source: string;
  modelClass: string;
  modelName: string;
  kerasVersion?: string;
  backend?: string;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  /** Keras layer name -> class and config as the source had them (SeparableConv2D: the pointwise node's name). */
  layers: Record<string, OriginalLayer>;
  /** Name of the input made for a Sequential model that had no InputLayer. */
  syntheticInput?: string;
  trainingConfig?: Json;
  userDefinedMetadata?: Json;
  /** Manifest weights no layer used (optimizer weights excluded). */
  unusedWeights?: string[];
}

/**
 * A weight named by position, as the converter's Keras 3 path (`--input_format keras_keras`) writes
 * the .keras file's model.weights.h5: `layers/<saved name>/vars/<index>`, or for the layers a layer
 * holds `layers/<saved name>/<path>/vars/<index>` (a recurrent layer's `cell`, a Bidirectional's
 * `forward_layer/cell`).
 */
const POSITIONAL_WEIGHT = /^layers\/([^/]+)\/(?:(.+)\/)?vars\/(\d+)$/;

/** A role's path inside the layer ('forward_layer/cell' of 'forward_layer/cell/kernel'), '' for a plain role. */
const subPath = (role: string) => role.slice(0, Math.max(0, role.lastIndexOf('/')));

/**
 * Weights by name, by their last two path segments (`layer/role`, ':0' dropped) for scoped names,
 * and by position (`layers/<saved name>/vars/<i>`, Keras 3 .keras conversions).
 */
class WeightIndex {
  private readonly byName = new Map<string, Param>();
  private readonly byTail = new Map<string, Param[]>();
  private readonly byPosition = new Map<string, Param[]>();
  readonly used = new Set<string>();

  constructor(params: Param[], where: string) {
    for (const p of params) {
      if (this.byName.has(p.name)) throw new ModelIOError(`${where}: two weights are named '${p.name}'`);
      this.byName.set(p.name, p);
      const tail = p.name.replace(/:\d+$/, '').split('/').slice(-2).join('/');
      this.byTail.set(tail, [...(this.byTail.get(tail) ?? []), p]);
      const pos = POSITIONAL_WEIGHT.exec(p.name);
      if (pos) {
        const key = pos[2] === undefined ? pos[1] : `${pos[1]}/${pos[2]}`;
        const vars = this.byPosition.get(key) ?? [];
        vars[Number(pos[3])] = p;
        this.byPosition.set(key, vars);
      }
    }
  }

  find(layer: string, role: string): Param | undefined {
    const key = `${layer}/${role}`;
    const p = this.byName.get(key) ?? this.byName.get(`${key}:0`) ?? (this.byTail.get(key)?.length === 1 ? this.byTail.get(key)![0] : undefined);
    if (p) this.used.add(p.name);
    return p;
  }

  /** The weights saved for a layer under `layers/<saved>[/<path>]/vars/<i>`, by index (may have holes), if any. */
  positional(saved: string, path: string): (Param | undefined)[] | undefined {
    return this.byPosition.get(path ? `${saved}/${path}` : saved);
  }

  use(p: Param): Param {
    this.used.add(p.name);
    return p;
  }

  unused(): string[] {
    return [...this.byName.keys()].filter((n) => !this.used.has(n));
  }
}

/** Layers ordered so that every layer comes after the layers it reads. */
function layerOrder(topo: KerasTopology, where: string): KerasLayer[] {
  const byName = new Map(topo.layers.map((l) => [l.name, l]));
  const state = new Map<string, 1 | 2>();
  const out: KerasLayer[] = [];
  const visit = (l: KerasLayer) => {
    if (state.get(l.name) === 2) return;
    if (state.get(l.name) === 1) throw new ModelIOError(`${where}: the layers form a cycle through '${l.name}'`);
    state.set(l.name, 1);
    for (const i of [...l.inbound, ...(l.mask !== undefined ? [l.mask] : [])]) visit(byName.get(i) as KerasLayer);
    state.set(l.name, 2);
    out.push(l);
  };
  topo.layers.forEach(visit);
  return out;
}

/** Output shape of a node, checking its arity and param shapes the way `inferShapes` does. */
export function nodeShape(graph: Graph, node: Graph['nodes'][number], shapes: Map<string, Shape>): Shape {
  const def = getOp(node.op, node.name);
  if (!arityAllows(def, node.inputs.length)) {
    throw new GraphError(`op '${node.op}' takes ${def.arity} input(s), got ${node.inputs.length}`, node.name);
  }
  const ctx = { node, inputs: node.inputs.map((i) => shapes.get(i) as Shape), param: (role: string) => graph.params.get(node.params[role] ?? '') };
  const out = def.inferShape(ctx);
  for (const [role, spec] of Object.entries(def.params ?? {})) {
    const p = ctx.param(role);
    if (!p) continue;
    const want = spec.shape(ctx);
    if (want.length !== p.shape.length || want.some((d, i) => d !== p.shape[i])) {
      throw new GraphError(`weight '${p.name}' has shape [${p.shape.join(', ')}], the layer's input needs [${want.join(', ')}]`, node.name);
    }
  }
  return out;
}

/** Keras's `to_snake_case` of a class name (DepthwiseConv2D -> depthwise_conv2d, ReLU -> re_lu). */
function snakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * The names Keras 3 stores each layer's variables under in a .keras file: not the layer name but
 * its class in snake case, numbered per class in the model's layer order (conv2d, conv2d_1, ...).
 */
function savedNames(topo: KerasTopology): Map<string, string> {
  const counts = new Map<string, number>();
  const out = new Map<string, string>();
  // Op nodes are not layers: they save nothing and take no number.
  for (const l of topo.layers.filter((x) => !x.opNode)) {
    const base = snakeCase(l.className);
    const n = counts.get(base);
    counts.set(base, n === undefined ? 0 : n + 1);
    out.set(l.name, n === undefined ? base : `${base}_${n + 1}`);
  }
  return out;
}

/**
 * Why a layer class cannot be imported, and how to teach condense: a custom class is registered
 * from user code with `registerKerasLayer` (its IR op, TF.js kernel and Keras mapping at once).
 */
function unknownLayer(className: string): string {
  const lambda =
    className === 'Lambda' || className === 'TFOpLambda'
      ? ' A Lambda layer stores Python code, which no JavaScript runtime can run: rebuild the model with that code in a custom layer class, then register that class.'
      : '';
  return `the layer class is not supported.${lambda} Register it from your code with registerKerasLayer({ className: '${className}', op, kernel, fromKeras, toKeras }) from @condense/tfjs (see its README, "Custom layers"), or registerLayerMapping for an op condense already has. Built-in classes: ${importableClasses().join(', ')}`;
}

function buildGraph(topo: KerasTopology, weights: WeightIndex, where: string): Graph {
  const graph = createGraph(topo.modelName);
  const shapes = new Map<string, Shape>();
  const saved = savedNames(topo);
  /** Implicit masks: Keras layer -> the IR value of the mask its output carries. */
  const masks = new Map<string, string>();
  for (const layer of layerOrder(topo, where)) {
    const at = `${where}: layer '${layer.name}' (${layer.className})`;
    const fail = (message: string): never => {
      throw new ModelIOError(`${at}: ${message}`);
    };
    const mapping = mappingForClass(layer.className);
    const fromKeras = mapping?.fromKeras;
    if (!fromKeras) return fail(unknownLayer(layer.className));
    if (layer.opNode && !mapping.opNodes) fail(`a Keras 3 op node (a keras.ops call in the model) of class ${layer.className} is not supported`);
    /** A weight of a Keras 3 .keras conversion: `layers/<saved name>[/<path>]/vars/<index of the role among its path's>`. */
    const byPosition = (role: string): Param | undefined => {
      const name = saved.get(layer.name) as string;
      const path = subPath(role);
      const vars = weights.positional(name, path);
      if (!vars) return undefined;
      const at = `layers/${name}${path ? `/${path}` : ''}/vars`;
      const all = mapping?.kerasWeightOrder?.(layer);
      if (!all)
        return fail(
          `the weights are named by position (${at}/<i>, a Keras 3 .keras conversion) and the ${layer.className} mapping gives no kerasWeightOrder to read them`,
        );
      const order = all.filter((r) => subPath(r) === path);
      const have = vars.map((p, i) => (p ? i : undefined)).filter((i) => i !== undefined);
      if (vars.length !== order.length || have.length !== order.length) {
        fail(
          `the weights manifest has ${have.length} weight(s) saved for this layer (${at}/${have.join(', ') || '-'}) but its config implies ${order.length} (${order.join(', ')})`,
        );
      }
      const i = order.indexOf(role);
      return i < 0 ? undefined : weights.use(vars[i] as Param);
    };
    const mask = topo.explicitMasks ? layer.mask : masks.get(layer.inbound[0]);
    if (mask !== undefined && topo.explicitMasks && !mapping.masking)
      fail(`it is called with a mask (from '${mask}'), which condense does not apply to this layer`);
    let outMask = !topo.explicitMasks && mapping.masking === 'propagate' ? mask : undefined;
    const first = graph.nodes.length;
    const ctx: FromKerasContext = {
      source: where,
      kerasVersion: topo.kerasVersion,
      inputs: layer.inbound,
      inputShapes: layer.inbound.map((i) => shapes.get(i) as Shape),
      weight: ((role: string, optional?: boolean) => {
        const p = weights.find(layer.name, role) ?? byPosition(role);
        if (!p && !optional) fail(`weight '${layer.name}/${role}' is missing from the weights manifest`);
        return p;
      }) as FromKerasContext['weight'],
      addNode: ({ name, op, inputs, attrs = {}, params = {} }) => {
        if (shapes.has(name)) fail(`a node named '${name}' already exists`);
        const bound: Record<string, string> = {};
        for (const [role, p] of Object.entries(params)) {
          graph.params.set(p.name, p);
          bound[role] = p.name;
        }
        const node = { name, op, inputs, attrs: attrs as Attrs, params: bound };
        graph.nodes.push(node);
        try {
          shapes.set(name, nodeShape(graph, node, shapes));
        } catch (e) {
          if (e instanceof GraphError) fail(e.message.replace(/^node '[^']*': /, ''));
          throw e;
        }
        return shapes.get(name) as Shape;
      },
      ...(mask !== undefined ? { mask } : {}),
      explicitMasks: topo.explicitMasks,
      setMask: (value) => {
        outMask = value;
      },
      constants: layer.constants,
      fail,
    };
    fromKeras(layer, ctx);
    if (!shapes.has(layer.name)) fail(`the import of this layer made no node named '${layer.name}'`);
    if (outMask !== undefined) masks.set(layer.name, outMask);
    if (layer.config.trainable === false) {
      for (const n of graph.nodes.slice(first)) for (const p of Object.values(n.params)) (graph.params.get(p) as Param).frozen = true;
    }
  }
  graph.inputs = [...topo.inputs];
  graph.outputs = [...topo.outputs];
  try {
    validate(graph);
  } catch (e) {
    if (e instanceof GraphError) throw new ModelIOError(`${where}: ${e.message}`);
    throw e;
  }
  return graph;
}

interface ImportParts {
  modelTopology: unknown;
  params: Param[];
  /** A weight-data size mismatch, thrown unless a layer reports a more precise error first. */
  sizeError?: string;
  where: string;
  extras: Pick<KerasMeta, 'format' | 'generatedBy' | 'convertedBy' | 'trainingConfig' | 'userDefinedMetadata'>;
}

/** Shared by `fromArtifacts` and `loadModel`: topology + decoded weights -> IR graph with `meta.keras`. */
export function importParts({ modelTopology, params, sizeError, where, extras }: ImportParts): Graph {
  const topo = parseTopology(modelTopology, where);
  const weights = new WeightIndex(params, where);
  const graph = buildGraph(topo, weights, where);
  if (sizeError) throw new ModelIOError(sizeError);
  const unused = weights.unused();
  const meta: KerasMeta = {
    source: where,
    modelClass: topo.modelClass,
    modelName: topo.modelName,
    ...(topo.kerasVersion !== undefined ? { kerasVersion: topo.kerasVersion } : {}),
    ...(topo.backend !== undefined ? { backend: topo.backend } : {}),
    ...dropUndefined(extras),
    layers: Object.fromEntries(
      topo.layers.filter((l) => l.name !== topo.syntheticInput).map((l) => [l.name, { className: l.className, config: structuredClone(l.config) }]),
    ),
    ...(topo.syntheticInput ? { syntheticInput: topo.syntheticInput } : {}),
    ...(unused.length ? { unusedWeights: unused } : {}),
  };
  graph.meta = { source: where, keras: meta };
  return graph;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Fields of a model.json / artifacts object that import carries through to export. */
export function extrasOf(o: Record<string, unknown>): ImportParts['extras'] {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    format: str(o.format),
    generatedBy: str(o.generatedBy),
    convertedBy: o.convertedBy === null ? null : str(o.convertedBy),
    trainingConfig: isObject(o.trainingConfig) ? structuredClone(o.trainingConfig) : undefined,
    userDefinedMetadata: isObject(o.userDefinedMetadata) ? structuredClone(o.userDefinedMetadata) : undefined,
  };
}

export function checkFormat(format: unknown, where: string): void {
  if (format !== undefined && format !== null && format !== 'layers-model') {
    throw new ModelIOError(`${where}: format is ${brief(format)}; only TF.js layers models ('layers-model') can be imported`);
  }
}

/**
 * An IR graph from in-memory TF.js model artifacts (what `model.save(tf.io.withSaveHandler(...))`
 * hands over, or a graph model's artifacts). The weights are copied, so the artifacts stay untouched.
 */
export function fromArtifacts(artifacts: io.ModelArtifacts, source = 'model artifacts'): Graph {
  if (!isObject(artifacts as unknown)) throw new ModelIOError(`${source}: model artifacts must be an object`);
  if (isGraphModelJson(artifacts as Record<string, unknown>)) {
    const { weightSpecs = [], weightData, ...json } = artifacts;
    const { params, values, sizeError } = decodeWeights(weightSpecs, ByteSource.of(weightData), source, { copy: true, values: true });
    return importGraphModel({ json: json as Record<string, unknown>, params, values, weightOrder: weightSpecs.map((w) => w.name), sizeError, where: source });
  }
  checkFormat(artifacts.format, source);
  if (artifacts.modelTopology === undefined || artifacts.modelTopology === null) throw new ModelIOError(`${source}: modelTopology is missing`);
  const { params, sizeError } = decodeWeights(artifacts.weightSpecs ?? [], ByteSource.of(artifacts.weightData), source, { copy: true });
  return importParts({ modelTopology: artifacts.modelTopology, params, sizeError, where: source, extras: extrasOf(artifacts as Record<string, unknown>) });
}
