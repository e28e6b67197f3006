import { brief, isObject, ModelIOError, type Json, type JsonObject } from './errors.js';

/** One Keras layer of a model.json topology, with its inbound connections resolved to layer names. */
export interface KerasLayer {
  name: string;
  className: string;
  /** The layer's config as in the file (snake_case keys). */
  config: JsonObject;
  /** Layers whose outputs feed this one, in call order (empty for inputs). */
  inbound: string[];
  /** Numbers among the call's arguments (a Keras 3 op node such as x + 3.0), with their position among all arguments. */
  constants: { position: number; value: number }[];
  /** The layer whose output is passed as this call's mask (Keras 3's kwargs.mask), if any. */
  mask?: string;
  /**
   * A Keras 3 op node: a keras.ops call in the functional graph (x + 3.0, ops.not_equal), not a
   * layer. Its class is the op's (Add, Multiply, NotEqual) and its config only its name.
   */
  opNode: boolean;
}

export interface KerasTopology {
  /** 'Sequential', 'Model' or 'Functional'. */
  modelClass: string;
  modelName: string;
  kerasVersion?: string;
  backend?: string;
  layers: KerasLayer[];
  inputs: string[];
  outputs: string[];
  /** Set when a Sequential model had no InputLayer and one was made from the first layer's input shape. */
  syntheticInput?: string;
  /** Keras 3 files name every mask in the calls (kwargs.mask); older ones leave masks implicit (Embedding mask_zero). */
  explicitMasks: boolean;
}

const MODEL_CLASSES = ['Sequential', 'Model', 'Functional'];

/**
 * Normalise a Keras / TF.js model topology (tfjs-layers output, Keras 2 exports with a nested
 * `model_config`, Keras 3 `inbound_nodes` objects) into layers with named inputs.
 */
export function parseTopology(topology: unknown, where: string): KerasTopology {
  if (!isObject(topology) || topology instanceof ArrayBuffer || ArrayBuffer.isView(topology))
    throw new ModelIOError(`${where}: modelTopology must be a JSON object (a TF.js graph model or binary topology is not a Keras layers model)`);
  const outer = topology;
  const root = isObject(outer.model_config) ? outer.model_config : outer;
  const at = outer === root ? 'modelTopology' : 'modelTopology.model_config';
  const modelClass = root.class_name;
  if (typeof modelClass !== 'string') throw new ModelIOError(`${where}: ${at}.class_name is missing`);
  if (!MODEL_CLASSES.includes(modelClass))
    throw new ModelIOError(`${where}: ${at}.class_name is '${modelClass}'; only Sequential and functional (Model/Functional) models are supported`);
  const version = (outer.keras_version ?? root.keras_version) as Json;
  const backend = (outer.backend ?? root.backend) as Json;
  const base = {
    modelClass,
    kerasVersion: typeof version === 'string' ? version : undefined,
    backend: typeof backend === 'string' ? backend : undefined,
  };
  // Very old Keras wrote a Sequential config as the bare list of layers.
  const config = Array.isArray(root.config) ? { layers: root.config } : root.config;
  if (!isObject(config)) throw new ModelIOError(`${where}: ${at}.config must be an object`);
  if (!Array.isArray(config.layers)) throw new ModelIOError(`${where}: ${at}.config.layers must be an array`);
  const modelName = typeof config.name === 'string' ? config.name : 'model';
  const raw = config.layers.map((l, i) => layerHeader(l, `${where}: ${at}.config.layers[${i}]`));
  const explicitMasks = raw.some((l) => Array.isArray(l.inboundNodes) && isObject(l.inboundNodes[0]));
  return modelClass === 'Sequential'
    ? { ...base, modelName, explicitMasks, ...sequential(raw, where) }
    : { ...base, modelName, explicitMasks, ...functional(raw, config, `${where}: ${at}.config`) };
}

interface RawLayer {
  name: string;
  className: string;
  config: JsonObject;
  inboundNodes: Json;
  at: string;
}

function layerHeader(l: Json, at: string): RawLayer {
  if (!isObject(l)) throw new ModelIOError(`${at} must be an object`);
  const className = l.class_name;
  if (typeof className !== 'string') throw new ModelIOError(`${at}.class_name is missing`);
  const config = l.config;
  if (!isObject(config)) throw new ModelIOError(`${at} ('${className}'): config must be an object`);
  const name = (l.name ?? config.name) as Json;
  if (typeof name !== 'string' || name === '') throw new ModelIOError(`${at} ('${className}'): the layer has no name`);
  return { name, className, config, inboundNodes: l.inbound_nodes ?? null, at: `${at} ('${name}')` };
}

/** The batch input shape a layer declares, if any (Keras 2 / TF.js, Keras 3, or input_shape without the batch). */
export function declaredBatchShape(config: JsonObject): Json[] | undefined {
  if (Array.isArray(config.batch_input_shape)) return config.batch_input_shape;
  if (Array.isArray(config.batch_shape)) return config.batch_shape;
  if (Array.isArray(config.input_shape)) return [null, ...config.input_shape];
  return undefined;
}

function sequential(raw: RawLayer[], where: string): Pick<KerasTopology, 'layers' | 'inputs' | 'outputs' | 'syntheticInput'> {
  if (raw.length === 0) throw new ModelIOError(`${where}: the Sequential model has no layers`);
  const layers: KerasLayer[] = [];
  let syntheticInput: string | undefined;
  let first = raw[0];
  if (first.className !== 'InputLayer') {
    const shape = declaredBatchShape(first.config);
    if (!shape) throw new ModelIOError(`${first.at}: the first layer of a Sequential model needs batch_input_shape (or an InputLayer before it)`);
    syntheticInput = `${first.name}_input`;
    first = {
      name: syntheticInput,
      className: 'InputLayer',
      config: { batch_input_shape: shape, dtype: 'float32', name: syntheticInput },
      inboundNodes: null,
      at: first.at,
    };
    raw = [first, ...raw];
  }
  raw.forEach((l, i) => {
    if (i > 0 && l.className === 'InputLayer') throw new ModelIOError(`${l.at}: an InputLayer can only come first in a Sequential model`);
    layers.push({ name: l.name, className: l.className, config: l.config, inbound: i === 0 ? [] : [raw[i - 1].name], constants: [], opNode: false });
  });
  checkUnique(layers, where);
  return { layers, inputs: [raw[0].name], outputs: [raw[raw.length - 1].name], syntheticInput };
}

function functional(raw: RawLayer[], config: JsonObject, at: string): Pick<KerasTopology, 'layers' | 'inputs' | 'outputs'> {
  const layers = raw.map((l): KerasLayer => ({ name: l.name, className: l.className, config: l.config, ...callOf(l), opNode: isOpNode(l) }));
  checkUnique(layers, at);
  const known = new Set(layers.map((l) => l.name));
  for (const l of layers) {
    for (const i of [...l.inbound, ...(l.mask !== undefined ? [l.mask] : [])]) {
      if (!known.has(i)) throw new ModelIOError(`${at}: layer '${l.name}' reads from '${i}', which is not a layer of the model`);
    }
  }
  const ends = (key: string) => {
    const list = config[key];
    if (!Array.isArray(list) || list.length === 0) throw new ModelIOError(`${at}.${key} must be a non-empty array`);
    // Keras 3 writes a single input as ["name", 0, 0] rather than [["name", 0, 0]].
    const refs = typeof list[0] === 'string' ? [list] : list;
    return refs.map((r, i) => {
      const name = Array.isArray(r) ? r[0] : undefined;
      if (typeof name !== 'string' || !known.has(name)) throw new ModelIOError(`${at}.${key}[${i}] does not name a layer of the model (${brief(r)})`);
      if (Array.isArray(r) && typeof r[2] === 'number' && r[2] !== 0)
        throw new ModelIOError(`${at}.${key}[${i}]: output ${r[2]} of layer '${name}' (only single-output layers are supported)`);
      return name;
    });
  };
  return { layers, inputs: ends('input_layers'), outputs: ends('output_layers') };
}

function checkUnique(layers: KerasLayer[], at: string) {
  const seen = new Set<string>();
  for (const l of layers) {
    if (seen.has(l.name)) throw new ModelIOError(`${at}: two layers are named '${l.name}'`);
    seen.add(l.name);
  }
}

/** A Keras 3 op node's config holds only its name (a layer's also has `trainable`, ...). */
const isOpNode = (l: RawLayer) => l.className !== 'InputLayer' && Object.keys(l.config).every((k) => k === 'name');

type Call = Pick<KerasLayer, 'inbound' | 'constants' | 'mask'>;

/** Inbound layer names of a layer's single call (and its constants and mask); errors for shared layers and multi-output references. */
function callOf(l: RawLayer): Call {
  const nodes = l.inboundNodes;
  const none: Call = { inbound: [], constants: [] };
  if (nodes === null) return none;
  if (!Array.isArray(nodes)) throw new ModelIOError(`${l.at}: inbound_nodes must be an array`);
  if (nodes.length === 0) return none;
  if (nodes.length > 1) throw new ModelIOError(`${l.at}: layer '${l.name}' (${l.className}) is called ${nodes.length} times; shared layers are not supported`);
  const call = nodes[0];
  const refs: { name: string; tensor: number }[] = [];
  const constants: Call['constants'] = [];
  let mask: string | undefined;
  if (Array.isArray(call)) {
    // TF.js / Keras 2: [["name", nodeIndex, tensorIndex, {kwargs}], ...]
    call.forEach((r, i) => {
      if (!Array.isArray(r) || typeof r[0] !== 'string')
        throw new ModelIOError(`${l.at}: inbound_nodes[0][${i}] must be ["layer", node, tensor, {...}], got ${brief(r)}`);
      refs.push({ name: r[0], tensor: typeof r[2] === 'number' ? r[2] : 0 });
    });
  } else if (isObject(call)) {
    // Keras 3: {args: [...], kwargs: {...}} with __keras_tensor__ entries carrying keras_history.
    const args = Array.isArray(call.args) ? call.args : [];
    args.forEach((a, position) => (typeof a === 'number' ? constants.push({ position, value: a }) : collectKerasTensors(a, refs)));
    const kwargs = isObject(call.kwargs) ? call.kwargs : {};
    const masks: { name: string; tensor: number }[] = [];
    collectKerasTensors(kwargs.mask ?? null, masks);
    if (masks.length > 1) throw new ModelIOError(`${l.at}: the call passes ${masks.length} masks; only one is supported`);
    mask = masks[0]?.name;
  } else {
    throw new ModelIOError(`${l.at}: inbound_nodes[0] must be an array or an object, got ${brief(call)}`);
  }
  for (const r of refs) {
    if (r.tensor !== 0) throw new ModelIOError(`${l.at}: reads output ${r.tensor} of layer '${r.name}' (only single-output layers are supported)`);
  }
  return { inbound: refs.map((r) => r.name), constants, ...(mask !== undefined ? { mask } : {}) };
}

function collectKerasTensors(v: Json, out: { name: string; tensor: number }[]): void {
  if (Array.isArray(v)) {
    for (const x of v) collectKerasTensors(x, out);
    return;
  }
  if (!isObject(v)) return;
  if (v.class_name === '__keras_tensor__' && isObject(v.config) && Array.isArray(v.config.keras_history)) {
    const [name, , tensor] = v.config.keras_history;
    if (typeof name === 'string') out.push({ name, tensor: typeof tensor === 'number' ? tensor : 0 });
    return;
  }
  for (const x of Object.values(v)) collectKerasTensors(x, out);
}
