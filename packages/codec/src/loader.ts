/**
 * `@condense/codec/loader`: load a `.cdz` container as a TF.js LayersModel, in the browser or Node,
 * without the condense toolkit. Depends only on @tensorflow/tfjs-core, @tensorflow/tfjs-layers and
 * the decoding core (no @condense/ir). The container must hold a `modelTopology` and a Keras
 * weight name per param (encodeGraph options `modelTopology` and `weightNames`).
 */
import { tensor, dispose, type Tensor, type NamedTensorMap } from '@tensorflow/tfjs-core';
import { models, type LayersModel } from '@tensorflow/tfjs-layers';
import { decodeContainer, type DecodeOptions } from './decode.js';
import { CodecError } from './errors.js';

export type CondenseSource = string | ArrayBuffer | Uint8Array | Response;

/** Decode a container and build the LayersModel it describes, weights set by their Keras names. */
export async function loadCondenseModel(source: CondenseSource, options: Omit<DecodeOptions, 'source'> = {}): Promise<LayersModel> {
  const name = typeof source === 'string' ? source : source instanceof Uint8Array || source instanceof ArrayBuffer ? 'container' : source.url || 'response';
  const bytes = await readSource(source, name);
  const c = decodeContainer(bytes, { ...options, source: name });
  if (!c.modelTopology) throw new CodecError('NOT_LOADABLE', 'the container stores no TF.js modelTopology (encode with the modelTopology option)', name);
  let model: LayersModel;
  try {
    model = await models.modelFromJSON({ modelTopology: c.modelTopology as never });
  } catch (e) {
    throw new CodecError('NOT_LOADABLE', `TF.js cannot build the stored modelTopology (${(e as Error).message})`, name);
  }
  const byWeight = new Map(c.params.filter((p) => p.weightName !== undefined).map((p) => [p.weightName as string, p]));
  const weights: NamedTensorMap = {};
  try {
    for (const w of model.weights) {
      const p = byWeight.get(w.originalName);
      if (!p) throw new CodecError('NOT_LOADABLE', `no stored param carries the weight name '${w.originalName}'`, name);
      const same = p.shape.length === w.shape.length && p.shape.every((d, i) => d === w.shape[i]);
      if (!same) throw new CodecError('NOT_LOADABLE', `param '${p.name}' has shape [${p.shape}], weight '${w.originalName}' needs [${w.shape}]`, name);
      weights[w.originalName] = tensor(p.data, p.shape, 'float32');
    }
    model.loadWeights(weights, true);
  } catch (e) {
    model.dispose();
    if (e instanceof CodecError) throw e;
    throw new CodecError('NOT_LOADABLE', `TF.js rejected the weights (${(e as Error).message})`, name);
  } finally {
    dispose(Object.values(weights) as Tensor[]);
  }
  return model;
}

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Bytes of the source: a URL or (in Node) a file path, a fetch Response, or bytes in memory. */
async function readSource(source: CondenseSource, name: string): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  try {
    if (typeof source !== 'string') return await responseBytes(source);
    if (isNode() && !/^https?:\/\//i.test(source)) {
      // A computed specifier keeps browser bundlers from trying to resolve a Node builtin.
      const fsModule = 'node:fs/promises';
      const fs = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
      return new Uint8Array(await fs.readFile(source.startsWith('file:') ? new URL(source) : source));
    }
    return await responseBytes(await fetch(source));
  } catch (e) {
    if (e instanceof CodecError) throw e;
    throw new CodecError('IO', `cannot read the container (${(e as Error).message})`, name);
  }
}

async function responseBytes(r: Response): Promise<Uint8Array> {
  if (!r.ok) throw new CodecError('IO', `HTTP ${r.status} ${r.statusText}`, r.url || 'response');
  return new Uint8Array(await r.arrayBuffer());
}
