/**
 * `@condense/codec/loader`: load a `.cdz` container as a TF.js LayersModel, in the browser or Node,
 * without the condense toolkit. Depends only on @tensorflow/tfjs-core, @tensorflow/tfjs-layers and
 * the decoding core (no @condense/ir). The container must hold a `modelTopology` and a Keras
 * weight name per param (encodeGraph options `modelTopology` and `weightNames`).
 *
 * The stored topology is validated first (layers, inbound nodes, no cycle, geometry fields), then
 * built with the stored weights as its initializers: no initializer runs, every weight's shape is
 * checked before TF.js allocates it, and a failed build leaves no tensor behind.
 */
import { engine, type Variable } from '@tensorflow/tfjs-core';
import { models, type LayersModel } from '@tensorflow/tfjs-layers';
import { decodeContainer, type DecodedParam, type DecodeOptions } from './decode.js';
import { CodecError } from './errors.js';
import { MAX_CONTAINER_BYTES } from './format.js';
import { useStoredWeights, withStoredWeights } from './stored-init.js';
import { validateTopology } from './topology.js';

export type CondenseSource = string | ArrayBuffer | Uint8Array | Response;

/** Stored params by Keras weight name; a name carried twice is refused. */
function weightsByName(params: DecodedParam[], where: string): Map<string, DecodedParam> {
  const out = new Map<string, DecodedParam>();
  for (const p of params) {
    if (p.weightName === undefined) continue;
    const other = out.get(p.weightName);
    if (other) throw new CodecError('NOT_LOADABLE', `params '${other.name}' and '${p.name}' both carry the weight name '${p.weightName}'`, where);
    out.set(p.weightName, p);
  }
  return out;
}

/** A TF.js error as one line (some have an empty message). */
const tfjsMessage = (e: unknown): string => (((e as Error)?.message || (e as Error)?.name || String(e)).split('\n')[0]).trim();

/** Decode a container and build the LayersModel it describes, weights set by their Keras names. */
export async function loadCondenseModel(source: CondenseSource, options: Omit<DecodeOptions, 'source'> = {}): Promise<LayersModel> {
  const name = typeof source === 'string' ? source : source instanceof Uint8Array || source instanceof ArrayBuffer ? 'container' : source.url || 'response';
  const bytes = await readSource(source, name);
  const c = decodeContainer(bytes, { ...options, source: name });
  if (!c.modelTopology) throw new CodecError('NOT_LOADABLE', 'the container stores no TF.js modelTopology (encode with the modelTopology option)', name);
  const { topology, layers } = validateTopology(c.modelTopology, name);
  const params = weightsByName(c.params, name);
  useStoredWeights(layers);
  const before = new Set(Object.keys(engine().registeredVariables));
  let model: LayersModel | undefined;
  try {
    // modelFromJSON builds the layers synchronously, before its first await.
    const { result, used } = withStoredWeights(params, name, () => models.modelFromJSON({ modelTopology: topology as never }));
    model = await result;
    for (const w of model.weights) {
      if (!used.has(w.originalName)) throw new CodecError('NOT_LOADABLE', `the model's weight '${w.originalName}' was not built from a stored param`, name);
    }
    const unused = [...params.keys()].filter((k) => !used.has(k));
    if (unused.length) throw new CodecError('NOT_LOADABLE', `stored params carry weight names the topology does not use: ${unused.slice(0, 5).join(', ')}`, name);
    return model;
  } catch (e) {
    // Dispose whatever the failed build registered (model.dispose() cannot: the model may not exist).
    model?.dispose();
    const vars = engine().registeredVariables as Record<string, Variable>;
    for (const [k, v] of Object.entries(vars)) if (!before.has(k)) v.dispose();
    if (e instanceof CodecError) throw e;
    throw new CodecError('NOT_LOADABLE', `TF.js cannot build the stored modelTopology (${tfjsMessage(e)})`, name);
  }
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
      const path = source.startsWith('file:') ? new URL(source) : source;
      const info = await fs.stat(path);
      if (!info.isFile()) throw new CodecError('IO', 'is not a regular file', name);
      if (info.size > MAX_CONTAINER_BYTES) throw new CodecError('IO', `has ${info.size} bytes, more than the ${MAX_CONTAINER_BYTES} a container may have`, name);
      return new Uint8Array(await fs.readFile(path));
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
