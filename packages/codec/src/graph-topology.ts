/**
 * Validation of a stored graph-model topology (a GraphDef and its weight list, as
 * `exportTopology` of @condense/tfjs writes it for a graph model) before the loader lets TF.js
 * build it: well-formed nodes, inputs that name nodes, no cycle but a loop's NextIteration ->
 * Merge edge, every Const backed by one stored weight of its shape. Plain JSON only (no TF.js;
 * of @condense/ir only its dependency order, `@condense/ir/order`), so that the loader stays small.
 */
import { dependencyOrder } from '@condense/ir/order';
import { CodecError } from './errors.js';

/** Most nodes a stored GraphDef (graph and library functions) may have. */
export const MAX_GRAPH_NODES = 100_000;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface GraphNodeJson {
  name: string;
  op: string;
  input?: string[];
}

/** A weight the loader hands TF.js: float ones from params by name, the others as stored bytes. */
export type GraphWeightJson =
  | { name: string; shape: number[]; dtype: 'float32' }
  | { name: string; shape: number[]; dtype: 'int32' | 'bool' | 'string'; data: string };

export interface ValidatedGraph {
  /** model.json's fields (format, signature, modelTopology, userDefinedMetadata, ...). */
  model: Json;
  weights: GraphWeightJson[];
}

const isShape = (v: unknown): v is number[] => Array.isArray(v) && v.length <= 8 && v.every((d) => Number.isInteger(d) && d >= 0);

function checkNodes(list: unknown, at: string, fail: (msg: string) => never): GraphNodeJson[] {
  if (!Array.isArray(list)) fail(`${at} must be a list of nodes`);
  const names = new Set<string>();
  for (const [i, n] of list.entries()) {
    if (!isObject(n) || typeof n.name !== 'string' || typeof n.op !== 'string') fail(`${at}[${i}] needs a name and an op`);
    if (names.has(n.name)) fail(`${at}[${i}]: two nodes are named '${n.name}'`);
    if (n.input !== undefined && !(Array.isArray(n.input) && n.input.every((x) => typeof x === 'string')))
      fail(`${at}[${i}] ('${n.name}'): input must be a list of names`);
    names.add(n.name);
  }
  return list as GraphNodeJson[];
}

const producerOf = (input: string): string => input.replace(/^\^/, '').replace(/:\d+$/, '');

/** Throws unless the graph's nodes only read nodes that exist, without a cycle outside loops' back edges. */
function checkEdges(nodes: GraphNodeJson[], fail: (msg: string) => never): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const n of nodes) for (const i of n.input ?? []) if (!byName.has(producerOf(i))) fail(`node '${n.name}' (${n.op}) reads '${i}', which no node produces`);
  dependencyOrder(nodes, {
    key: (n) => n.name,
    reads: (n) => (n.input ?? []).map((i) => byName.get(producerOf(i)) as GraphNodeJson).filter((dep) => !(n.op === 'Merge' && dep.op === 'NextIteration')),
    cycle: (_path, dep) => fail(`the nodes form a cycle through '${dep.name}' (${dep.op})`),
  });
}

function checkWeights(list: unknown, consts: Set<string>, fail: (msg: string) => never): GraphWeightJson[] {
  if (!Array.isArray(list)) fail('weights must be a list');
  const seen = new Set<string>();
  for (const [i, w] of list.entries()) {
    if (!isObject(w) || typeof w.name !== 'string' || !isShape(w.shape)) fail(`weights[${i}] needs a name and a shape`);
    if (!['float32', 'int32', 'bool', 'string'].includes(w.dtype as string)) fail(`weight '${w.name}' has dtype ${JSON.stringify(w.dtype)}`);
    if (w.dtype !== 'float32' && typeof w.data !== 'string') fail(`weight '${w.name}' (${w.dtype}) carries no data`);
    if (!consts.has(w.name)) fail(`weight '${w.name}' has no Const node of that name`);
    if (seen.has(w.name)) fail(`two weights are named '${w.name}'`);
    seen.add(w.name);
  }
  for (const c of consts) if (!seen.has(c)) fail(`Const node '${c}' has no stored weight`);
  return list as GraphWeightJson[];
}

/** The stored graph model, checked; CodecError NOT_LOADABLE naming what is wrong. */
export function validateGraphTopology(stored: Json, where: string): ValidatedGraph {
  const fail = (msg: string): never => {
    throw new CodecError('NOT_LOADABLE', `the stored graph model: ${msg}`, where);
  };
  const model = stored.model;
  if (!isObject(model) || !isObject(model.modelTopology)) return fail('model.modelTopology (a GraphDef) is missing');
  const graphDef = model.modelTopology;
  const nodes = checkNodes(graphDef.node, 'node', fail);
  const fns = isObject(graphDef.library) && Array.isArray(graphDef.library.function) ? graphDef.library.function : [];
  const fnNodes = fns.flatMap((f, i) =>
    isObject(f) ? checkNodes(f.nodeDef ?? [], `library.function[${i}].nodeDef`, fail) : fail(`library.function[${i}] must be an object`),
  );
  if (nodes.length + fnNodes.length > MAX_GRAPH_NODES) fail(`${nodes.length + fnNodes.length} nodes, more than ${MAX_GRAPH_NODES}`);
  checkEdges(nodes, fail);
  const consts = new Set([...nodes, ...fnNodes].filter((n) => n.op === 'Const').map((n) => n.name));
  return { model, weights: checkWeights(stored.weights, consts, fail) };
}
