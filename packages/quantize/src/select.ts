import { selectLayers } from '@condense/core';
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
 * Which params a graph-level quantizer touches. Strings are patterns with @condense/core's
 * selector rule (layer name, param name, else op type; `*` and `?` globs; every pattern must
 * match something). A function decides per param use.
 */
export type Select = string | readonly string[] | ((use: ParamUse) => boolean);

export interface SelectOptions {
  /** Patterns or predicate; default: every candidate. */
  include?: Select;
  /** @deprecated the old name of `include`. */
  layers?: Select;
  /** Patterns never selected (wins over include). */
  exclude?: readonly string[];
  /** Param kinds that are candidates (from the op registry's param specs). */
  kinds: readonly ParamKind[];
  /** Names the caller in error messages, e.g. 'shareGraphWeights'. */
  caller: string;
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

/** `include`, or its deprecated name `layers`; both at once is an error. */
export function includeOf(o: { include?: Select; layers?: Select }, caller: string): Select | undefined {
  if (o.include !== undefined && o.layers !== undefined) throw new QuantizeError(`${caller}: give 'include' ('layers' is its deprecated name), not both`);
  return o.include ?? o.layers;
}

/** The selected candidates (of `all`, by default every one of the kinds). Throws if a pattern matches none of them, listing what exists. */
export function selectParams(graph: Graph, o: SelectOptions, all = candidates(graph, o.kinds)): ParamUse[] {
  const include = includeOf(o, o.caller);
  const patterns = include === undefined || typeof include === 'function' ? undefined : typeof include === 'string' ? [include] : include;
  const chosen = selectLayers(all, { include: patterns, exclude: o.exclude }, o.caller);
  return typeof include === 'function' ? chosen.filter(include) : chosen;
}
