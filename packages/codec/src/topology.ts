/**
 * Validation of a stored TF.js `modelTopology` before the loader lets TF.js build it: TF.js loops
 * forever on a dangling inbound node or a cycle, and fails with raw errors on null geometry. Plain
 * JSON only (no TF.js, no @condense/ir), so that the loader stays small.
 */
import { CodecError } from './errors.js';

/** Most layers a stored topology may have. */
export const MAX_LAYERS = 10_000;

type Json = Record<string, unknown>;

export interface StoredLayer {
  name: string;
  className: string;
  /** The layer's config object, owned by the validated copy (the loader edits it). */
  config: Json;
}

export interface ValidatedTopology {
  /** A copy of the topology to hand to TF.js (`model_config` unwrapped). */
  topology: Json;
  layers: StoredLayer[];
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const MODEL_CLASSES = ['Sequential', 'Model', 'Functional'];
/** Config keys that hold nested layers: the loader builds flat topologies (as condense writes them). */
const NESTING_KEYS = ['layer', 'layers', 'cell', 'cells', 'forward_layer', 'backward_layer'];

/** Geometry fields TF.js reads without checking: each must be a positive integer (or a short list of them). */
const POSITIVE_OR_LIST = ['kernel_size', 'strides', 'pool_size', 'dilation_rate', 'size'];
const POSITIVE = ['units', 'filters', 'depth_multiplier'];

function checkGeometry(layer: StoredLayer, fail: (field: string, what: string) => never): void {
  const c = layer.config;
  for (const key of POSITIVE_OR_LIST) {
    const v = c[key];
    if (v === undefined) continue;
    const ok = isPositive(v) || (Array.isArray(v) && v.length >= 1 && v.length <= 3 && v.every(isPositive));
    if (!ok) fail(`config.${key}`, `must be a positive integer or a list of 1 to 3 of them, got ${JSON.stringify(v)}`);
  }
  for (const key of POSITIVE)
    if (c[key] !== undefined && !isPositive(c[key])) fail(`config.${key}`, `must be a positive integer, got ${JSON.stringify(c[key])}`);
  for (const key of ['batch_input_shape', 'input_shape']) {
    const v = c[key];
    if (v !== undefined && !(Array.isArray(v) && v.length <= 8 && v.every((d) => d === null || isPositive(d)))) {
      fail(`config.${key}`, `must be a list of positive dimensions (or null), got ${JSON.stringify(v)}`);
    }
  }
  if (c.rate !== undefined && !(typeof c.rate === 'number' && c.rate >= 0 && c.rate < 1))
    fail('config.rate', `must be a number in [0, 1), got ${JSON.stringify(c.rate)}`);
  for (const key of NESTING_KEYS) if (c[key] !== undefined) fail(`config.${key}`, 'holds nested layers; the loader builds flat topologies only');
}

/** Functional models: every inbound node names an existing layer and node, and the layers form no cycle. */
function checkGraph(raw: Json[], layers: StoredLayer[], config: Json, where: string): void {
  // TF.js waits forever for a node that never comes: every layer but an InputLayer needs one.
  const nodesOf = new Map<string, number>();
  raw.forEach((l, i) => {
    const inbound = l.inbound_nodes;
    const input = layers[i].className === 'InputLayer';
    if (!Array.isArray(inbound)) throw new CodecError('NOT_LOADABLE', `layer '${layers[i].name}' (config.layers[${i}]): inbound_nodes is not a list`, where);
    if (input ? inbound.length !== 0 : inbound.length === 0) {
      throw new CodecError(
        'NOT_LOADABLE',
        `layer '${layers[i].name}' (config.layers[${i}]) has ${inbound.length} inbound nodes; ${input ? 'an InputLayer has none' : 'only an InputLayer may have none'}`,
        where,
      );
    }
    nodesOf.set(layers[i].name, input ? 1 : inbound.length);
  });
  const ref = (r: unknown, at: string): string => {
    if (!Array.isArray(r) || typeof r[0] !== 'string' || !isCount(r[1]) || !isCount(r[2]))
      throw new CodecError('NOT_LOADABLE', `${at} is not a [layer, node, tensor] reference`, where);
    const nodes = nodesOf.get(r[0]);
    if (nodes === undefined) throw new CodecError('NOT_LOADABLE', `${at} names the layer '${r[0]}', which the topology does not define`, where);
    if (r[1] >= nodes) throw new CodecError('NOT_LOADABLE', `${at} names node ${r[1]} of layer '${r[0]}', which has ${nodes}`, where);
    return r[0];
  };
  const deps = new Map<string, string[]>();
  raw.forEach((l, i) => {
    const list: string[] = [];
    (l.inbound_nodes as unknown[]).forEach((node, n) => {
      if (!Array.isArray(node) || node.length === 0)
        throw new CodecError('NOT_LOADABLE', `layer '${layers[i].name}' inbound_nodes[${n}] is not a non-empty list`, where);
      node.forEach((r, k) => list.push(ref(r, `layer '${layers[i].name}' inbound_nodes[${n}][${k}]`)));
    });
    deps.set(layers[i].name, list);
  });
  for (const key of ['input_layers', 'output_layers']) {
    const ends = config[key];
    if (!Array.isArray(ends) || ends.length === 0) throw new CodecError('NOT_LOADABLE', `config.${key} is not a non-empty list`, where);
    ends.forEach((r, k) => {
      const name = ref(r, `config.${key}[${k}]`);
      const isInput = layers.find((l) => l.name === name)?.className === 'InputLayer';
      if (key === 'input_layers' && !isInput)
        throw new CodecError('NOT_LOADABLE', `config.input_layers[${k}] names '${name}', which is not an InputLayer`, where);
    });
  }
  // Depth-first search with colours; iterative, so a long chain cannot overflow the stack.
  const state = new Map<string, 1 | 2>();
  for (const start of deps.keys()) {
    if (state.has(start)) continue;
    const stack: [string, number][] = [[start, 0]];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = deps.get(top[0])![top[1]++];
      if (next === undefined) {
        state.set(top[0], 2);
        stack.pop();
      } else if (state.get(next) === 1) {
        throw new CodecError('NOT_LOADABLE', `layer '${next}' depends on itself (a cycle through '${top[0]}')`, where);
      } else if (!state.has(next)) {
        state.set(next, 1);
        stack.push([next, 0]);
      }
    }
  }
}

/** Check a stored topology's structure; returns a copy and its layers (`where` names the container). */
export function validateTopology(stored: unknown, where: string): ValidatedTopology {
  let top = structuredClone(stored) as Json;
  if (isObject(top) && isObject(top.model_config)) top = top.model_config;
  if (!isObject(top) || !MODEL_CLASSES.includes(top.class_name as string)) {
    throw new CodecError('NOT_LOADABLE', `modelTopology.class_name must be one of ${MODEL_CLASSES.join(', ')}`, where);
  }
  const sequential = top.class_name === 'Sequential';
  const config = top.config;
  const raw = Array.isArray(config) && sequential ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(raw) || raw.length === 0) throw new CodecError('NOT_LOADABLE', 'modelTopology.config.layers is not a non-empty list', where);
  if (raw.length > MAX_LAYERS) throw new CodecError('NOT_LOADABLE', `modelTopology has ${raw.length} layers, more than ${MAX_LAYERS}`, where);
  const names = new Set<string>();
  const layers = raw.map((l: unknown, i): StoredLayer => {
    const at = `modelTopology.config.layers[${i}]`;
    if (!isObject(l) || typeof l.class_name !== 'string' || !isObject(l.config))
      throw new CodecError('NOT_LOADABLE', `${at} is not a {class_name, config} layer`, where);
    const name = l.config.name;
    if (typeof name !== 'string' || name === '') throw new CodecError('NOT_LOADABLE', `${at}.config.name is not a layer name`, where);
    if (!sequential && l.name !== name)
      throw new CodecError('NOT_LOADABLE', `${at}.name ${JSON.stringify(l.name)} differs from its config.name '${name}'`, where);
    if (names.has(name)) throw new CodecError('NOT_LOADABLE', `${at}: the layer name '${name}' is used twice`, where);
    if (MODEL_CLASSES.includes(l.class_name))
      throw new CodecError('NOT_LOADABLE', `layer '${name}' (${at}) is a nested model; the loader builds flat topologies only`, where);
    names.add(name);
    const layer = { name, className: l.class_name, config: l.config };
    checkGeometry(layer, (field, what) => {
      throw new CodecError('NOT_LOADABLE', `layer '${name}' (${l.class_name}) ${field} ${what}`, where);
    });
    return layer;
  });
  if (!sequential) checkGraph(raw as Json[], layers, config as Json, where);
  return { topology: top, layers };
}
