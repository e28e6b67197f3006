/**
 * `@condense/codec/loader`: load a `.cdz` container as a TF.js LayersModel, in the browser or Node,
 * without the condense toolkit. Depends only on @tensorflow/tfjs-core, @tensorflow/tfjs-layers and
 * the decoding core (no @condense/ir). The container must hold a `modelTopology` and a Keras
 * weight name per param (encodeGraph options `modelTopology` and `weightNames`). A container of a
 * graph model loads with `@condense/codec/graph-loader`.
 *
 * The stored topology is validated first (layers, inbound nodes, no cycle, geometry fields), then
 * built with the stored weights as its initializers: no initializer runs, every weight's shape is
 * checked before TF.js allocates it, and a failed build leaves no tensor behind.
 */
import { engine, type Variable } from '@tensorflow/tfjs-core';
import { models, type LayersModel } from '@tensorflow/tfjs-layers';
import { decodeContainer, type DecodeOptions } from './decode.js';
import { CodecError } from './errors.js';
import { readSource, sourceName, tfjsMessage, weightsByName, type CondenseSource } from './load-common.js';
import { useStoredWeights, withStoredWeights } from './stored-init.js';
import { validateTopology } from './topology.js';

export type { CondenseSource } from './load-common.js';

/** Decode a container and build the LayersModel it describes, weights set by their Keras names. */
export async function loadCondenseModel(source: CondenseSource, options: Omit<DecodeOptions, 'source'> = {}): Promise<LayersModel> {
  const name = sourceName(source);
  const bytes = await readSource(source, name);
  const c = decodeContainer(bytes, { ...options, source: name });
  if (!c.modelTopology) throw new CodecError('NOT_LOADABLE', 'the container stores no TF.js modelTopology (encode with the modelTopology option)', name);
  if (c.modelTopology.format === 'graph-model')
    throw new CodecError('NOT_LOADABLE', 'the container holds a graph model: load it with loadCondenseGraphModel from @condense/codec/graph-loader', name);
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
    if (unused.length)
      throw new CodecError('NOT_LOADABLE', `stored params carry weight names the topology does not use: ${unused.slice(0, 5).join(', ')}`, name);
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
