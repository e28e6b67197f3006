import { getOp, paramUses, type Graph, type Node, type Param, type ParamSpec } from '@condense/ir';
import { QuantizeError } from './errors.js';

/** A param as a node uses it (the shape of `weightParams` / `paramUses` entries in @condense/ir). */
export interface ParamUse {
  node: Node;
  role: string;
  param: Param;
}

export type ParamKind = ParamSpec['kind'];

/**
 * Which params a graph-level quantizer touches. Strings are patterns matched against the layer
 * (node) name, the param name and the op type, with `*` (any run) and `?` (one character) globs;
 * every pattern must match something. A function decides per param use.
 */
export type Select = string | readonly string[] | ((use: ParamUse) => boolean);

export interface SelectOptions {
  /** Patterns or predicate; default: every candidate. */
  layers?: Select;
  /** Param kinds that are candidates (from the op registry's param specs). */
  kinds: readonly ParamKind[];
  /** Names the caller in error messages, e.g. 'shareGraphWeights'. */
  caller: string;
}

const globCache = new Map<string, RegExp>();

/** A whole-string matcher for a glob with `*` and `?`; every other character is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (!re) {
    const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`);
    globCache.set(glob, re);
  }
  return re;
}

export const isGlob = (pattern: string): boolean => /[*?]/.test(pattern);

/** Does a pattern name this use's layer, param or op type? */
export function matchesUse(pattern: string, use: ParamUse): boolean {
  const re = globToRegExp(pattern);
  return re.test(use.node.name) || re.test(use.param.name) || re.test(use.node.op);
}

export function kindOf(use: ParamUse): ParamKind | undefined {
  return getOp(use.node.op).params?.[use.role]?.kind;
}

export const PARAM_KINDS: readonly ParamKind[] = ['weight', 'bias', 'norm', 'other'];

/** Candidate param uses of the given kinds, one per param (a param shared by nodes is taken at its first use). */
export function candidates(graph: Graph, kinds: readonly ParamKind[]): ParamUse[] {
  for (const kind of kinds) {
    if (!PARAM_KINDS.includes(kind)) throw new QuantizeError(`'kinds' entry '${kind}' is not a param kind (${PARAM_KINDS.join(', ')})`);
  }
  const seen = new Set<string>();
  return paramUses(graph).filter((u) => {
    const kind = kindOf(u);
    if (kind === undefined || !kinds.includes(kind) || seen.has(u.param.name)) return false;
    seen.add(u.param.name);
    return true;
  });
}

/** The selected candidates. Throws if a pattern matches none of them, listing what exists. */
export function selectParams(graph: Graph, o: SelectOptions): ParamUse[] {
  const all = candidates(graph, o.kinds);
  const { layers } = o;
  if (layers === undefined) return all;
  if (typeof layers === 'function') return all.filter(layers);
  const patterns: readonly string[] = typeof layers === 'string' ? [layers] : layers;
  for (const pattern of patterns) {
    if (!all.some((u) => matchesUse(pattern, u))) throw new QuantizeError(`${o.caller}: 'layers' pattern '${pattern}' matches no ${describe(all, o.kinds)}`);
  }
  return all.filter((u) => patterns.some((p) => matchesUse(p, u)));
}

/** "weight param (candidates: fc1/kernel [dense fc1], ...)" for error messages. */
export function describe(all: ParamUse[], kinds: readonly ParamKind[]): string {
  const list = all.map((u) => `${u.param.name} [${u.node.op} ${u.node.name}]`).join(', ');
  return `layer, param or op type among the ${kinds.join('/')} params (candidates: ${list || 'none'})`;
}
