/**
 * `@condense/codec/graph-loader`: load a `.cdz` container that holds a graph model (what condense
 * writes for a model read from tfjs-converter's graph-model format) as a `tf.GraphModel`, in the
 * browser or Node, without the condense toolkit. Depends only on @tensorflow/tfjs-core,
 * @tensorflow/tfjs-converter and the decoding core (no @condense/ir). The stored GraphDef is
 * validated before TF.js builds it.
 */
import { io } from '@tensorflow/tfjs-core';
import { loadGraphModelSync, type GraphModel } from '@tensorflow/tfjs-converter';
import { decodeContainer, type DecodedParam, type DecodeOptions } from './decode.js';
import { CodecError } from './errors.js';
import { validateGraphTopology, type GraphWeightJson } from './graph-topology.js';
import { readSource, sourceName, tfjsMessage, weightsByName, type CondenseSource } from './load-common.js';

export type { CondenseSource } from './load-common.js';

const fromBase64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));

/** The weight specs and data TF.js loads a stored graph model with: float weights from the params of their names, the others as stored. */
function graphWeights(weights: GraphWeightJson[], params: Map<string, DecodedParam>, where: string): { specs: io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const parts: Uint8Array[] = [];
  const used = new Set<string>();
  for (const w of weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (w.dtype === 'float32') {
      const p = params.get(w.name);
      if (!p) throw new CodecError('NOT_LOADABLE', `no stored param carries the weight name '${w.name}'`, where);
      if (p.shape.length !== w.shape.length || p.shape.some((d, i) => d !== w.shape[i]))
        throw new CodecError('NOT_LOADABLE', `param '${p.name}' has shape [${p.shape}], weight '${w.name}' needs [${w.shape}]`, where);
      used.add(w.name);
      parts.push(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength));
      continue;
    }
    const bytes = fromBase64(w.data);
    const fixed = w.dtype === 'int32' ? 4 * n : w.dtype === 'bool' ? n : undefined;
    if (fixed === undefined ? bytes.byteLength < 4 * n : bytes.byteLength !== fixed)
      throw new CodecError('NOT_LOADABLE', `weight '${w.name}' (${w.dtype} [${w.shape}]) has ${bytes.byteLength} bytes of data`, where);
    parts.push(bytes);
  }
  const unused = [...params.keys()].filter((k) => !used.has(k));
  if (unused.length)
    throw new CodecError('NOT_LOADABLE', `stored params carry weight names the graph model does not use: ${unused.slice(0, 5).join(', ')}`, where);
  const data = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.byteLength;
  }
  return { specs: weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: w.dtype })), data: data.buffer };
}

/**
 * Decode a container that holds a graph model (what condense writes for a model read from a
 * tfjs-converter graph model) and build it as TF.js does: a `tf.GraphModel` whose weights are the
 * decoded params (float32) and the stored int32/bool/string constants.
 */
export async function loadCondenseGraphModel(source: CondenseSource, options: Omit<DecodeOptions, 'source'> = {}): Promise<GraphModel<io.IOHandlerSync>> {
  const name = sourceName(source);
  const bytes = await readSource(source, name);
  const c = decodeContainer(bytes, { ...options, source: name });
  if (c.modelTopology?.format !== 'graph-model')
    throw new CodecError('NOT_LOADABLE', 'the container holds no graph model (a layers model loads with loadCondenseModel)', name);
  const { model, weights } = validateGraphTopology(c.modelTopology, name);
  const { specs, data } = graphWeights(weights, weightsByName(c.params, name), name);
  try {
    return loadGraphModelSync(io.fromMemorySync({ ...(model as io.ModelArtifacts), weightSpecs: specs, weightData: data }));
  } catch (e) {
    throw new CodecError('NOT_LOADABLE', `TF.js cannot build the stored graph model (${tfjsMessage(e)})`, name);
  }
}
