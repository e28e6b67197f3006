/**
 * A Keras 3 export (tensorflowjs_converter's model.json, either layout) as stock tfjs-layers 4.22
 * can load it, for tests and benchmarks that compare condense against stock TF.js on the original
 * file. tfjs-layers 4.22 cannot read a Keras 3 topology at all (tensorflow/tfjs#8494), so
 * `keras3AsKeras2` rewrites it the way a Keras 2 export spells it and stands in stand-in layers for
 * the Keras 3 constructs TF.js has no class for (the `gaps` it returns name them); the weight bytes
 * and their manifest encodings stay the file's own. condense's own exports need none of this.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { isObject, type Json, type JsonObject } from '../io/errors.js';

/** Keras 3's hard_silu: x * relu6(x + 3) / 6 (tfjs camel-cases the identifier). */
class HardSilu extends tf.serialization.Serializable {
  static className = 'hardSilu';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)));
  }
  getConfig() {
    return {};
  }
}

const one = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);

/** A Keras 3 op node with a constant operand (MobileNetV3's x + 3.0 and x * (1 / 6)). */
class ScalarOp extends tfl.layers.Layer {
  static className = 'TestScalarOp';
  private readonly op: string;
  private readonly value: number;
  constructor(args: { op: string; value: number; name?: string }) {
    super(args);
    this.op = args.op;
    this.value = args.value;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => (this.op === 'add' ? tf.add(one(inputs), this.value) : tf.mul(one(inputs), this.value)));
  }
  override getConfig() {
    return { ...super.getConfig(), op: this.op, value: this.value };
  }
}

class KeepdimsGlobalAveragePooling2D extends tfl.layers.Layer {
  static className = 'TestKeepdimsGlobalAveragePooling2D';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.mean(one(inputs), [1, 2], true));
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = s as tfl.Shape;
    return [shape[0], 1, 1, shape[3]];
  }
}

/** Keras 3's Normalization with adapted statistics: (x - mean) / max(sqrt(variance), 1e-7). */
class Normalization extends tfl.layers.Layer {
  static className = 'Normalization';
  private stats: tfl.LayerVariable[] = [];
  override build(s: tfl.Shape | tfl.Shape[]): void {
    const c = (s as tfl.Shape).at(-1) as number;
    const zeros = tfl.initializers.zeros();
    this.stats = [this.addWeight('mean', [c], 'float32', zeros, undefined, false), this.addWeight('variance', [c], 'float32', zeros, undefined, false)];
    this.addWeight('count', [], 'int32', zeros, undefined, false);
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [mean, variance] = this.stats.map((v) => v.read());
    return tf.tidy(() => tf.div(tf.sub(one(inputs), mean), tf.maximum(tf.sqrt(variance), 1e-7)));
  }
}

for (const cls of [HardSilu, ScalarOp, KeepdimsGlobalAveragePooling2D, Normalization]) tf.serialization.registerClass(cls);

/** An op node (a keras.ops call in the functional graph) rather than a layer: its config is only {name}. */
const isOpNode = (l: JsonObject) => l.class_name !== 'InputLayer' && isObject(l.config) && !('trainable' in l.config);

/** Every __keras_tensor__ reference in a Keras 3 call's args: [layer, node, tensor]. */
function tensorRefs(v: Json): [string, number, number][] {
  if (Array.isArray(v)) return v.flatMap(tensorRefs);
  if (!isObject(v)) return [];
  if (v.class_name === '__keras_tensor__' && isObject(v.config)) return [v.config.keras_history as [string, number, number]];
  return Object.values(v).flatMap(tensorRefs);
}

/**
 * DTypePolicy objects as their name, Keras 3 activation names as Keras 2 / TF.js spell them, and the
 * Orthogonal initializer (of the recurrent kernels) as Zeros: initializers only run before the
 * weights are loaded, and tfjs-layers' Orthogonal calls tensor.flatten(), a chained op that only
 * the @tensorflow/tfjs bundle registers, not the tfjs-core this package uses.
 */
function keras2Values(v: Json, gaps: Set<string>): Json {
  if (Array.isArray(v)) return v.map((x) => keras2Values(x, gaps));
  if (!isObject(v)) return v;
  if (v.class_name === 'DTypePolicy' && isObject(v.config)) return v.config.name;
  if (v.class_name === 'Orthogonal') return { class_name: 'Zeros', config: {} };
  if (v.activation === 'silu') gaps.add("activation 'silu'"); // tfjs calls it swish
  if (v.activation === 'hard_silu') gaps.add("activation 'hard_silu'"); // HardSilu above
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'activation' && x === 'silu' ? 'swish' : keras2Values(x, gaps)]));
}

/** One Keras 3 layer entry as a Keras 2 one; `gaps` collects what needed a stand-in. */
function keras2Layer(l: JsonObject, gaps: Set<string>): JsonObject | undefined {
  const call = Array.isArray(l.inbound_nodes) && isObject(l.inbound_nodes[0]) ? l.inbound_nodes[0] : { args: [], kwargs: {} };
  const config = keras2Values(l.config, gaps) as JsonObject;
  let className = l.class_name as string;
  if (isOpNode(l)) {
    const constant = (call.args as Json[]).find((a) => typeof a === 'number') as number | undefined;
    if (className === 'NotEqual') {
      gaps.add('op NotEqual (mask)'); // the mask of Embedding(mask_zero=True), which tfjs computes itself
      return undefined;
    }
    if ((className !== 'Add' && className !== 'Multiply') || constant === undefined) throw new Error(`op node ${className} '${l.name}' has no stand-in`);
    gaps.add(`op ${className}(x, c)`);
    Object.assign(config, { op: className.toLowerCase(), value: constant });
    className = ScalarOp.className;
  }
  if (className === 'InputLayer') {
    config.batch_input_shape = config.batch_shape;
    delete config.batch_shape;
  }
  if (className === 'GlobalAveragePooling2D' && config.keepdims === true) {
    gaps.add('GlobalAveragePooling2D keepdims');
    className = KeepdimsGlobalAveragePooling2D.className;
  }
  if (className === 'Normalization') gaps.add('Normalization');
  const kwargs = Object.fromEntries(Object.entries((call.kwargs ?? {}) as JsonObject).filter(([k]) => k !== 'mask'));
  const inbound = tensorRefs(call.args as Json).map(([name, node, tensor]) => [name, node, tensor, kwargs]);
  return { class_name: className, name: l.name, config, inbound_nodes: inbound.length ? [inbound] : [] };
}

/** Keras's naming of a layer's variables in a .keras file: its class in snake case, numbered per class. */
function savedNames(layers: JsonObject[]): Map<string, string> {
  const seen = new Map<string, number>();
  const out = new Map<string, string>();
  for (const l of layers.filter((x) => !isOpNode(x))) {
    const snake = (l.class_name as string)
      .replace(/(.)([A-Z][a-z0-9]+)/g, '$1_$2')
      .replace(/([a-z])([A-Z])/g, '$1_$2')
      .toLowerCase();
    const n = seen.get(snake);
    seen.set(snake, n === undefined ? 0 : n + 1);
    out.set(n === undefined ? snake : `${snake}_${n + 1}`, l.name as string);
  }
  return out;
}

/** The .keras layout names its variables layers/<saved name>/.../vars/<i>; the .h5 layout by <layer>/<weight>. */
const KERAS_VAR = /^layers\/([^/]+)\/(.*?)vars\/(\d+)$/;

/** Manifest weight names of each layer, in the layer's own weight order; optimizer state is left out. */
function weightsByLayer(names: string[], layers: JsonObject[]): Map<string, string[]> {
  const out = new Map<string, { name: string; key: [number, number] }[]>();
  const saved = savedNames(layers);
  const layerNames = new Set(layers.map((l) => l.name as string));
  const kerasLayout = names.some((n) => KERAS_VAR.test(n));
  for (const [i, name] of names.entries()) {
    let layer: string | undefined;
    let key: [number, number] = [i, 0];
    if (!kerasLayout) {
      // The variable's path: "<layer>/<weight>", "<name scope>/<layer>/<weight>" (NASNet) or "<layer>/<inner layer>/<cell>/<weight>".
      layer = name.split('/').find((part) => layerNames.has(part));
    } else {
      const m = KERAS_VAR.exec(name); // Bidirectional: .../forward_layer/cell/vars/<i>
      if (!m) continue;
      layer = saved.get(m[1]);
      key = [m[2].startsWith('backward') ? 1 : 0, Number(m[3])]; // Keras's weights list the forward layer first
    }
    if (layer === undefined) throw new Error(`weight ${name} belongs to no layer`);
    out.set(layer, [...(out.get(layer) ?? []), { name, key }]);
  }
  const byKey = (a: { key: [number, number] }, b: { key: [number, number] }) => a.key[0] - b.key[0] || a.key[1] - b.key[1];
  return new Map([...out].map(([l, ws]) => [l, ws.sort(byKey).map((w) => w.name)]));
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint16: 2, uint8: 1 };
const byteLength = (s: tf.io.WeightsManifestEntry) => s.shape.reduce((a, b) => a * b, 1) * BYTES[s.quantization?.dtype ?? s.dtype];

export interface Keras2Artifacts {
  artifacts: tf.io.ModelArtifacts;
  /** The Keras 3 constructs stock TF.js 4.22 has no class or spelling for, that needed a stand-in (sorted). */
  gaps: string[];
}

/**
 * The Keras 3 export in `dir` (model.json and one shard) as stock tfjs-layers can load it: Keras 2
 * topology, the manifest's own entries renamed to the names tfjs gives each layer's weights
 * (matched by position and checked by shape), and the shard bytes of the weights kept. Optimizer
 * state and the training config are dropped.
 */
export async function keras3AsKeras2(dir: string): Promise<Keras2Artifacts> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { modelTopology: JsonObject; weightsManifest: tf.io.WeightsManifestConfig };
  const mc = json.modelTopology.model_config as JsonObject;
  const cfg = mc.config as JsonObject;
  const layers = cfg.layers as JsonObject[];
  const gaps = new Set<string>();
  const ends = (v: Json) => (typeof (v as Json[])[0] === 'string' ? [v] : v);
  const config = {
    ...cfg,
    layers: layers.map((l) => keras2Layer(l, gaps)).filter((l) => l !== undefined),
    input_layers: ends(cfg.input_layers),
    output_layers: ends(cfg.output_layers),
  };
  const modelTopology = {
    keras_version: json.modelTopology.keras_version,
    backend: 'tensorflow',
    model_config: { class_name: mc.class_name, config },
  } as unknown as JsonObject;

  const [group] = json.weightsManifest;
  const specs = group.weights;
  const shard = new Uint8Array(await readFile(join(dir, group.paths[0])));
  const offsets: number[] = [];
  specs.reduce((at, s) => (offsets.push(at), at + byteLength(s)), 0);
  const model = await tfl.models.modelFromJSON({ modelTopology } as tfl.ModelAndWeightsConfig);
  const owners = weightsByLayer(
    specs.map((s) => s.name),
    layers,
  );
  const kept: { spec: tf.io.WeightsManifestEntry; bytes: Uint8Array }[] = [];
  try {
    for (const layer of model.layers) {
      const names = owners.get(layer.name) ?? [];
      if (names.length !== layer.weights.length)
        throw new Error(`${dir}: layer ${layer.name} has ${layer.weights.length} weights in tfjs, ${names.length} in the manifest`);
      layer.weights.forEach((w, i) => {
        const at = specs.findIndex((s) => s.name === names[i]);
        if (String(specs[at].shape) !== String(w.shape)) throw new Error(`${dir}: ${names[i]} is [${specs[at].shape}], tfjs's ${w.originalName} [${w.shape}]`);
        kept.push({ spec: { ...specs[at], name: w.originalName }, bytes: shard.subarray(offsets[at], offsets[at] + byteLength(specs[at])) });
      });
    }
  } finally {
    model.dispose();
  }
  const owned = [...owners.values()].flat().length;
  if (kept.length !== owned) throw new Error(`${dir}: ${owned - kept.length} manifest weights went to no tfjs layer`);
  const weightData = new Uint8Array(kept.reduce((n, k) => n + k.bytes.length, 0));
  kept.reduce((at, k) => (weightData.set(k.bytes, at), at + k.bytes.length), 0);
  return { artifacts: { modelTopology, weightSpecs: kept.map((k) => k.spec), weightData: weightData.buffer }, gaps: [...gaps].sort() };
}

/** tf.loadLayersModel on the Keras 3 export in `dir`, through an IO handler that hands over `keras3AsKeras2`'s artifacts. */
export async function loadKeras3Stock(dir: string): Promise<{ model: tfl.LayersModel; gaps: string[] }> {
  const { artifacts, gaps } = await keras3AsKeras2(dir);
  return { model: await tfl.loadLayersModel({ load: async () => artifacts }), gaps };
}
