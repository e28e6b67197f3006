/**
 * The loader builds a stored topology without running a single initializer: every initializer of
 * every layer is replaced by `StoredWeight`, which hands TF.js the container's param for that
 * weight, after checking its shape. So no random initializer runs (orthogonal on a huge matrix
 * takes minutes), nothing is allocated beyond the stored weights, and a weight the container
 * does not hold, or holds with another shape, is refused before TF.js allocates it.
 */
import { serialization, tensor, type DataType, type Tensor } from '@tensorflow/tfjs-core';
import type { DecodedParam } from './decode.js';
import { CodecError } from './errors.js';
import type { StoredLayer } from './topology.js';

/** Initializer config keys and the weight each one initializes (tfjs-layers' names). */
const ROLES: Record<string, string> = {
  kernel_initializer: 'kernel',
  bias_initializer: 'bias',
  depthwise_initializer: 'depthwise_kernel',
  pointwise_initializer: 'pointwise_kernel',
  recurrent_initializer: 'recurrent_kernel',
  gamma_initializer: 'gamma',
  beta_initializer: 'beta',
  moving_mean_initializer: 'moving_mean',
  moving_variance_initializer: 'moving_variance',
  embeddings_initializer: 'embeddings',
  alpha_initializer: 'alpha',
};

/** The params of the build in progress, by Keras weight name, and those handed out. */
interface Build {
  where: string;
  params: Map<string, DecodedParam>;
  used: Set<string>;
}
let current: Build | undefined;

interface StoredWeightConfig extends serialization.ConfigDict {
  /** The Keras weight name (`layer/role`); under `name`, the one key TF.js does not camel-case. */
  name: string;
  /** The initializer the topology had (serialized back as is, so a saved model keeps it). */
  original: serialization.ConfigDict | null;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

class StoredWeight extends serialization.Serializable {
  static className = 'CondenseStoredWeight';
  constructor(private readonly config: StoredWeightConfig) {
    super();
  }

  apply(shape: number[], _dtype?: DataType): Tensor {
    const build = current;
    const name = this.config.name;
    if (!build) throw new CodecError('NOT_LOADABLE', `weight '${name}' initialized outside the loader`);
    const p = build.params.get(name);
    if (!p) throw new CodecError('NOT_LOADABLE', `the topology creates the weight '${name}' (shape [${shape}]), which no stored param carries`, build.where);
    if (!sameShape(p.shape, shape))
      throw new CodecError('NOT_LOADABLE', `param '${p.name}' has shape [${p.shape}], weight '${name}' needs [${shape}]`, build.where);
    if (build.used.has(name)) throw new CodecError('NOT_LOADABLE', `the topology creates the weight '${name}' twice`, build.where);
    build.used.add(name);
    return tensor(p.data, p.shape, 'float32');
  }

  // Serialized as the initializer it stands for, so `model.toJSON()` / `save()` keep the original.
  override getClassName(): string {
    return (this.config.original?.className as string | undefined) ?? 'Zeros';
  }

  getConfig(): serialization.ConfigDict {
    return (this.config.original?.config as serialization.ConfigDict | undefined) ?? {};
  }
}
serialization.registerClass(StoredWeight);

const initializerKey = (key: string) => key.replace(/_/g, '').toLowerCase().endsWith('initializer');

/** Point every initializer of every layer at the stored weight `layer/role` (the configs are edited in place). */
export function useStoredWeights(layers: StoredLayer[]): void {
  for (const layer of layers) {
    const originals = new Map<string, unknown>();
    for (const key of Object.keys(layer.config)) {
      if (!initializerKey(key)) continue;
      originals.set(key, layer.config[key]);
      delete layer.config[key];
    }
    for (const [key, role] of Object.entries(ROLES)) {
      const original = originals.get(key);
      layer.config[key] = {
        class_name: StoredWeight.className,
        config: { name: `${layer.name}/${role}`, original: typeof original === 'object' && original !== null ? original : null },
      };
    }
  }
}

/** Run `build` (which must construct the model synchronously) with `params` as the weights' source; returns the names used. */
export function withStoredWeights<T>(params: Map<string, DecodedParam>, where: string, build: () => T): { result: T; used: Set<string> } {
  const b: Build = { where, params, used: new Set() };
  current = b;
  try {
    return { result: build(), used: b.used };
  } finally {
    current = undefined;
  }
}
