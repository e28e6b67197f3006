import { consumers, inferShapes, topoSort, validate, type Graph, type Node, type Param } from '@condense/ir';
import type { io } from '@tensorflow/tfjs-core';
import { isObject, ModelIOError, type Json, type JsonObject } from './errors.js';
import type { KerasMeta } from './import.js';
import './layers/index.js';
import { mappingForOp, type KerasLayerSpec, type OriginalLayer, type ToKerasContext } from './mapping.js';
import type { WeightEncoding } from './encoding.js';
import { encodeParam, type EncodedWeight, type EncodeOptions } from './weights.js';
import { graphModelTopology } from '../graph-model/export.js';
import { graphModelMeta } from '../graph-model/import.js';

export interface ExportOptions {
  /** Write every weight that would be written float32 as float16 instead (half the bytes, lossy). */
  float16?: boolean;
  /** 'manifest' (default): uint8/uint16 grids where they hold a weight (its input's, its affine quantization's); 'dequantize': float encodings only. */
  quantized?: 'manifest' | 'dequantize';
}

export interface ExportResult {
  artifacts: io.ModelArtifacts;
  /** IR param name -> the weight name in the manifest (`layer/role`). */
  weightNames: Map<string, string>;
  /** Each weight's encoding and why (see `chooseEncoding`), in manifest order. */
  encodings: WeightEncoding[];
  /** Weights written larger than the input stored them, and why. */
  notes: string[];
}

/** The Keras format written; stock tfjs-layers 4.x reads it. */
const KERAS_VERSION = 'tfjs-layers 4.22.0';

/** Classes tfjs-layers can deserialize inside initializer/regularizer/constraint fields. */
const TFJS_CONFIG_CLASSES = new Set([
  'Zeros',
  'Ones',
  'Constant',
  'RandomUniform',
  'RandomNormal',
  'TruncatedNormal',
  'Identity',
  'VarianceScaling',
  'GlorotUniform',
  'GlorotNormal',
  'HeNormal',
  'HeUniform',
  'LeCunNormal',
  'LeCunUniform',
  'Orthogonal',
  'L1L2',
  'MaxNorm',
  'UnitNorm',
  'NonNeg',
  'MinMaxNorm',
]);

export function kerasMeta(graph: Graph): KerasMeta | undefined {
  const k = graph.meta.keras;
  return isObject(k as Json) && isObject((k as KerasMeta).layers as unknown as Json) ? (k as KerasMeta) : undefined;
}

/** A TF.js-valid layer name (tfjs requires /^[A-Za-z0-9][-A-Za-z0-9._]*$/ for scoping weights). */
function sanitize(name: string): string {
  const s = name.replace(/[^-A-Za-z0-9._]/g, '_');
  return /^[A-Za-z0-9]/.test(s) ? s : `l${s}`;
}

/** Original config fields that do not describe structure but that a faithful copy keeps (initializers and the like). */
function keptFields(original: OriginalLayer | undefined, className: string): JsonObject {
  if (!original || original.className !== className) return {};
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(original.config)) {
    if (!/_(initializer|regularizer|constraint)$/.test(k)) continue;
    if (v === null || (isObject(v) && typeof v.class_name === 'string' && TFJS_CONFIG_CLASSES.has(v.class_name))) out[k] = v;
  }
  return out;
}

/** A layer is trainable unless all of its params are frozen (param-free layers keep the source's flag). */
function trainable(params: Param[], original: OriginalLayer | undefined): boolean {
  if (params.length) return !params.every((p) => p.frozen);
  return original?.config.trainable !== false;
}

interface Names {
  of(value: string): string;
  unique(base: string): string;
}

function layerNames(nodes: Node[]): Names {
  const taken = new Set<string>();
  const byNode = new Map<string, string>();
  const unique = (base: string) => {
    const s = sanitize(base);
    let name = s;
    for (let i = 1; taken.has(name); i++) name = `${s}_${i}`;
    taken.add(name);
    return name;
  };
  for (const n of nodes) byNode.set(n.name, unique(n.name));
  return { of: (v) => byNode.get(v) ?? sanitize(v), unique };
}

/** Keras layer specs for every node, via the registered mappings. */
function layerSpecs(graph: Graph, meta: KerasMeta | undefined, notes: string[]): { specs: KerasLayerSpec[]; names: Names } {
  const shapes = inferShapes(graph);
  const order = topoSort(graph);
  const names = layerNames(order);
  const readers = consumers(graph);
  const originalOf = (node: string) => meta?.layers[node];
  const specs: KerasLayerSpec[] = [];
  for (const node of order) {
    const fail = (message: string): never => {
      throw new ModelIOError(`node '${node.name}' (op '${node.op}'): ${message}`);
    };
    const toKeras = mappingForOp(node.op)?.toKeras;
    if (!toKeras) {
      return fail(
        `no Keras layer is known for this op; the package that adds '${node.op}' must register one with registerLayerMapping('${node.op}', { toKeras })`,
      );
    }
    const ctx: ToKerasContext = {
      graph,
      shapes,
      name: names.of(node.name),
      inputs: node.inputs.map(names.of),
      param: (role) => (node.params[role] === undefined ? undefined : graph.params.get(node.params[role])),
      original: originalOf(node.name),
      originalOf,
      kerasName: names.of,
      consumers: (value) => readers.get(value) ?? [],
      uniqueName: names.unique,
      note: (message) => notes.push(`node '${node.name}': ${message}`),
      fail,
    };
    const out = toKeras(node, ctx);
    const list = Array.isArray(out) ? out : [out];
    if (list.length && list[list.length - 1].name !== ctx.name)
      fail(`the last Keras layer written for the node must be named '${ctx.name}', got '${list[list.length - 1].name}'`);
    for (const spec of list) {
      // The source layer's extra fields go to the spec of the same class (a node may add helper layers).
      const original = ctx.original?.className === spec.className ? ctx.original : undefined;
      const params = Object.values(spec.weights ?? {});
      spec.config = { ...keptFields(original, spec.className), ...spec.config, name: spec.name, trainable: trainable(params, original) };
      specs.push(spec);
    }
  }
  return { specs, names };
}

const kerasRef = (name: string): Json[] => [name, 0, 0, {}];

/** Sequential when the source was and the layers still form one chain; else a functional model. */
function topology(graph: Graph, specs: KerasLayerSpec[], names: Names, meta: KerasMeta | undefined): JsonObject {
  const defined = new Set<string>();
  for (const s of specs) {
    if (defined.has(s.name)) throw new ModelIOError(`two exported Keras layers are named '${s.name}'`);
    defined.add(s.name);
  }
  for (const s of specs) {
    for (const i of s.inputs) if (!defined.has(i)) throw new ModelIOError(`Keras layer '${s.name}' reads '${i}', which no exported layer produces`);
  }
  for (const o of graph.outputs) if (!defined.has(names.of(o))) throw new ModelIOError(`graph output '${o}' is not produced by any exported layer`);
  const name = meta?.modelName ?? graph.name;
  const [first, ...rest] = specs;
  const chain =
    graph.inputs.length === 1 &&
    graph.outputs.length === 1 &&
    first?.className === 'InputLayer' &&
    rest.length > 0 &&
    rest.every((s, i) => s.inputs.length === 1 && s.inputs[0] === specs[i].name) &&
    rest[rest.length - 1].name === names.of(graph.outputs[0]);
  if (meta?.modelClass === 'Sequential' && chain) {
    const layers = rest.map((s, i) => ({
      class_name: s.className,
      config: i === 0 ? { ...s.config, batch_input_shape: first.config.batch_input_shape, dtype: 'float32' } : s.config,
    }));
    return { class_name: 'Sequential', config: { name, layers } };
  }
  const layers = specs.map((s) => ({
    name: s.name,
    class_name: s.className,
    config: s.config,
    inbound_nodes: s.inputs.length ? [s.inputs.map(kerasRef)] : [],
  }));
  const ends = (values: string[]) => values.map((v) => [names.of(v), 0, 0]);
  return { class_name: 'Model', config: { name, layers, input_layers: ends(graph.inputs), output_layers: ends(graph.outputs) } };
}

/** Bytes per stored value, to order weights so that wider values stay aligned. */
const WIDTH: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };
const width = (w: EncodedWeight) => WIDTH[w.spec.quantization?.dtype ?? 'float32'] ?? 4;

function encodeWeights(
  specs: KerasLayerSpec[],
  o: EncodeOptions,
  notes: string[],
): { weightSpecs: io.WeightsManifestEntry[]; weightData: ArrayBuffer; encodings: WeightEncoding[] } {
  const encoded: EncodedWeight[] = [];
  for (const s of specs) for (const [role, p] of Object.entries(s.weights ?? {})) encoded.push(encodeParam(p, `${s.name}/${role}`, o, notes));
  encoded.sort((a, b) => width(b) - width(a));
  const total = encoded.reduce((a, w) => a + w.byteLength, 0);
  const weightData = new ArrayBuffer(total);
  let off = 0;
  for (const w of encoded) {
    w.write(new Uint8Array(weightData, off, w.byteLength));
    off += w.byteLength;
  }
  return { weightSpecs: encoded.map((w) => w.spec), weightData, encodings: encoded.map((w) => w.encoding) };
}

/**
 * TF.js model artifacts for a graph: a Keras topology that stock `tf.loadLayersModel` reads and
 * one weight buffer, each weight in the smallest stock encoding that keeps its values (see
 * `chooseEncoding`; an untouched weight keeps its input encoding and bytes).
 */
export function toArtifacts(graph: Graph, options: ExportOptions = {}): ExportResult {
  const notes: string[] = [];
  const { modelTopology, weightNames, specs, meta } = kerasTopology(graph, notes);
  const { weightSpecs, weightData, encodings } = encodeWeights(specs, options, notes);
  const artifacts: io.ModelArtifacts = {
    modelTopology,
    weightSpecs,
    weightData,
    format: 'layers-model',
    generatedBy: meta?.generatedBy ?? 'condense',
    convertedBy: 'condense',
  };
  if (isObject(meta?.trainingConfig as Json)) artifacts.trainingConfig = meta!.trainingConfig as unknown as io.TrainingConfig;
  if (isObject(meta?.userDefinedMetadata as Json)) artifacts.userDefinedMetadata = meta!.userDefinedMetadata as io.ModelArtifacts['userDefinedMetadata'];
  return { artifacts, weightNames, encodings, notes };
}

/**
 * The TF.js topology of a graph and its param -> weight names, as `@condense/codec/loader` rebuilds
 * the model from a container: the Keras topology, or for a graph read from a graph model its
 * GraphDef and model.json fields (`graphModelTopology`).
 */
export function exportTopology(graph: Graph): { modelTopology: JsonObject; weightNames: Map<string, string> } {
  if (graphModelMeta(graph)) return graphModelTopology(graph);
  const { modelTopology, weightNames } = kerasTopology(graph, []);
  return { modelTopology, weightNames };
}

/** `notes` gets what a layer could not write as the IR has it. */
function kerasTopology(graph: Graph, notes: string[]) {
  validate(graph);
  const meta = kerasMeta(graph);
  const { specs, names } = layerSpecs(graph, meta, notes);
  const modelTopology: JsonObject = { ...topology(graph, specs, names, meta), keras_version: KERAS_VERSION, backend: 'tensor_flow.js' };
  const weightNames = new Map<string, string>();
  for (const s of specs) for (const [role, p] of Object.entries(s.weights ?? {})) weightNames.set(p.name, `${s.name}/${role}`);
  return { modelTopology, weightNames, specs, meta };
}
