/**
 * The container holds the model twice: the IR graph (what `inspect`, `convert` and `compress` use)
 * and a TF.js topology with weight names (what the loader runs). They must be the same model, so
 * the stored topology must be the graph's own TF.js export (as `codec.deepCompression` and
 * `loaderOptions(graph)` write it), layer by layer, with the same weight names.
 */
import { GraphError, type Graph } from '@condense/ir';
import { CodecError } from './errors.js';

/** The graph's own TF.js topology and weight names: `exportTopology` of @condense/tfjs. */
export type ExportTopology = (graph: Graph) => { modelTopology: object; weightNames: Map<string, string> };

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const brief = (v: Json): string => {
  const s = JSON.stringify(v);
  return s === undefined ? 'absent' : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** The first place where `a` and `b` differ, as `path: a vs b`; undefined when they are equal. */
function firstDifference(a: Json, b: Json, path: string): string | undefined {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (isObject(a) && isObject(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const d = firstDifference(a[k], b[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  return a === b ? undefined : `${path || 'the value'} is ${brief(a)} in the stored topology, ${brief(b)} in the graph`;
}

/** Top-level fields that record who wrote the topology, not what it computes. */
const PROVENANCE = ['keras_version', 'backend'];

function modelPart(t: Record<string, Json>): Record<string, Json> {
  const top = isObject(t.model_config) ? t.model_config : t;
  return Object.fromEntries(Object.entries(top).filter(([k]) => !PROVENANCE.includes(k)));
}

const layerName = (l: Json, i: number): string => {
  const name = isObject(l) ? (isObject(l.config) && typeof l.config.name === 'string' ? l.config.name : l.name) : undefined;
  return typeof name === 'string' ? `layer '${name}'` : `config.layers[${i}]`;
};

/**
 * Refuse (TOPOLOGY_MISMATCH) a stored topology or weight-name table that is not the graph's own
 * export. Exporting validates the graph: an invalid one throws its GraphError.
 */
export function checkStoredTopology(
  graph: Graph,
  exportTopology: ExportTopology,
  stored: Record<string, unknown>,
  storedNames: Map<string, string>,
  where: string,
): void {
  function fail(what: string): never {
    throw new CodecError('TOPOLOGY_MISMATCH', `the stored TF.js topology (what the loader runs) is not the stored graph: ${what}`, where);
  }
  let derived: ReturnType<typeof exportTopology>;
  try {
    derived = exportTopology(graph);
  } catch (e) {
    // An invalid graph is the caller's BAD_GRAPH; a valid one without a TF.js form cannot match any topology.
    if (e instanceof GraphError) throw e;
    fail(`cannot export the graph to compare with (${(e as Error).message.split('\n')[0]})`);
  }
  const s = modelPart(stored);
  const d = modelPart(derived.modelTopology as Record<string, unknown>);
  const sl = isObject(s.config) && Array.isArray(s.config.layers) ? s.config.layers : [];
  const dl = isObject(d.config) && Array.isArray(d.config.layers) ? d.config.layers : [];
  if (sl.length !== dl.length) fail(`it has ${sl.length} layers, the graph exports ${dl.length}`);
  for (let i = 0; i < dl.length; i++) {
    const diff = firstDifference(sl[i], dl[i], '');
    if (diff) fail(`${layerName(dl[i], i)} (config.layers[${i}]): ${diff}`);
  }
  const rest = firstDifference({ ...s, config: { ...(s.config as object), layers: [] } }, { ...d, config: { ...(d.config as object), layers: [] } }, '');
  if (rest) fail(rest);
  for (const [param, weight] of derived.weightNames) {
    const have = storedNames.get(param);
    if (have !== weight) fail(`param '${param}' loads into ${have === undefined ? 'no weight' : `'${have}'`}, the graph's layer weight is '${weight}'`);
  }
  for (const [param, weight] of storedNames)
    if (!derived.weightNames.has(param)) fail(`param '${param}' carries the weight name '${weight}', but no layer of the graph has that weight`);
}
