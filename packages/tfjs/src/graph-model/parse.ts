/**
 * Reading a graph model's model.json: telling it from a layers model (by `format`, or by its
 * topology when the field is missing) and checking the GraphDef's structure, with errors that name
 * the file and the field.
 */
import { brief, isObject, ModelIOError, type Json, type JsonObject } from '../io/errors.js';
import type { FunctionDef, GraphDefJson, NodeDef, Signature } from './types.js';

/**
 * Whether model.json fields describe a graph model: `format: 'graph-model'`, or no format and a
 * GraphDef topology (a `node` list, as tfjs-converter writes it) rather than a Keras one.
 */
export function isGraphModelJson(json: Record<string, unknown>): boolean {
  if (json.format === 'graph-model') return true;
  if (json.format !== undefined && json.format !== null) return false;
  const t = json.modelTopology;
  return (
    isObject(t as Json) && Array.isArray((t as JsonObject).node) && (t as JsonObject).class_name === undefined && (t as JsonObject).model_config === undefined
  );
}

function checkNode(n: unknown, at: string, where: string): asserts n is NodeDef {
  if (!isObject(n as Json)) throw new ModelIOError(`${where}: ${at} must be an object, got ${brief(n)}`);
  const node = n as JsonObject;
  if (typeof node.name !== 'string' || node.name === '') throw new ModelIOError(`${where}: ${at}.name must be a non-empty string, got ${brief(node.name)}`);
  const name = `${at} ('${node.name}')`;
  if (typeof node.op !== 'string' || node.op === '') throw new ModelIOError(`${where}: ${name}.op must be a non-empty string, got ${brief(node.op)}`);
  if (node.input !== undefined && !(Array.isArray(node.input) && node.input.every((i) => typeof i === 'string'))) {
    throw new ModelIOError(`${where}: ${name}.input must be a list of tensor names, got ${brief(node.input)}`);
  }
  if (node.attr !== undefined && !(isObject(node.attr) && Object.values(node.attr).every((v) => isObject(v)))) {
    throw new ModelIOError(`${where}: ${name}.attr must map attr names to attr values (objects), got ${brief(node.attr)}`);
  }
}

function checkNodes(list: unknown, at: string, where: string): NodeDef[] {
  if (!Array.isArray(list)) throw new ModelIOError(`${where}: ${at} must be a list of nodes, got ${brief(list)}`);
  const seen = new Set<string>();
  list.forEach((n, i) => {
    checkNode(n, `${at}[${i}]`, where);
    if (seen.has(n.name)) throw new ModelIOError(`${where}: ${at}[${i}]: two nodes are named '${n.name}'`);
    seen.add(n.name);
  });
  return list as NodeDef[];
}

/** The GraphDef of a graph model's modelTopology, checked (node names, ops, inputs that name nodes, library functions). */
export function parseGraphDef(topology: unknown, where: string): GraphDefJson {
  if (!isObject(topology as Json)) throw new ModelIOError(`${where}: modelTopology must be an object (a GraphDef), got ${brief(topology)}`);
  const t = topology as JsonObject;
  if (!Array.isArray(t.node)) throw new ModelIOError(`${where}: format is 'graph-model' but modelTopology is not a GraphDef (it has no node list)`);
  const nodes = checkNodes(t.node, 'modelTopology.node', where);
  const names = new Set(nodes.map((n) => n.name));
  for (const n of nodes) {
    for (const input of n.input ?? []) {
      const producer = input.replace(/^\^/, '').split(':')[0];
      if (!names.has(producer)) throw new ModelIOError(`${where}: node '${n.name}' (${n.op}) reads '${input}', which no node produces`);
    }
  }
  const lib = t.library;
  if (lib !== undefined) {
    if (!isObject(lib)) throw new ModelIOError(`${where}: modelTopology.library must be an object, got ${brief(lib)}`);
    const fns = lib.function ?? [];
    if (!Array.isArray(fns)) throw new ModelIOError(`${where}: modelTopology.library.function must be a list, got ${brief(fns)}`);
    fns.forEach((f, i) => {
      const at = `modelTopology.library.function[${i}]`;
      if (!isObject(f) || !isObject(f.signature) || typeof f.signature.name !== 'string')
        throw new ModelIOError(`${where}: ${at} needs a signature with a name`);
      checkNodes(f.nodeDef ?? [], `${at} ('${f.signature.name}').nodeDef`, where);
    });
  }
  return t as unknown as GraphDefJson;
}

/** The signature, checked: inputs and outputs map keys to `{ name: 'node:port' }`. */
export function parseSignature(sig: unknown, nodes: Set<string>, where: string): Signature | undefined {
  if (sig === undefined || sig === null) return undefined;
  if (!isObject(sig as Json)) throw new ModelIOError(`${where}: signature must be an object, got ${brief(sig)}`);
  const s = sig as Signature;
  for (const side of ['inputs', 'outputs'] as const) {
    const entries = s[side];
    if (entries === undefined) continue;
    if (!isObject(entries as unknown as Json)) throw new ModelIOError(`${where}: signature.${side} must be an object, got ${brief(entries)}`);
    for (const [key, info] of Object.entries(entries)) {
      if (!isObject(info as unknown as Json) || typeof info.name !== 'string')
        throw new ModelIOError(`${where}: signature.${side}.${key} needs a tensor name, got ${brief(info)}`);
      const node = info.name.split(':')[0];
      if (!nodes.has(node)) throw new ModelIOError(`${where}: signature.${side}.${key} names tensor '${info.name}', which no node produces`);
    }
  }
  return s;
}

/** Library functions by name. */
export function functionsOf(graphDef: GraphDefJson): Map<string, FunctionDef> {
  return new Map((graphDef.library?.function ?? []).map((f) => [f.signature.name, f]));
}

/** A tensor reference in a node's input list: `name`, `name:port`, or a control input `^name`. */
export interface TensorRef {
  node: string;
  port: number;
  control: boolean;
}

export function parseRef(input: string): TensorRef {
  const control = input.startsWith('^');
  const body = control ? input.slice(1) : input;
  const colon = body.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(body.slice(colon + 1))) return { node: body.slice(0, colon), port: Number(body.slice(colon + 1)), control };
  return { node: body, port: 0, control };
}
