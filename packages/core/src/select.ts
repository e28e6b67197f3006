/**
 * One layer selector for every plugin: which layers (or params) an option's patterns name, and
 * the value a per-layer option gives each of them. Framework-neutral: it reads node names, param
 * names and op types, nothing else. The rule (README "Selecting layers"):
 *
 * - A pattern is a name or a glob: `*` any run of characters (`/` included), `?` one character,
 *   everything else literal; it must match the whole name.
 * - A plain pattern matches a candidate's layer (node) name or its param name. A plain pattern
 *   that names no layer or param of the candidates is tried against their op types instead, so
 *   `dense` selects every dense layer unless a layer is called `dense`. `op:<pattern>` matches
 *   op types only.
 * - include / exclude (SparseML's targets / ignore): the candidates some include pattern matches
 *   (all, without include), minus those some exclude pattern matches. Exclude always wins.
 * - A map pattern -> value: each candidate takes the value of its most specific matching key
 *   (an exact name, then a glob over names, then an op type); among equally specific keys, the
 *   later one wins.
 * - A pattern that matches no candidate is an error naming the field, the pattern and the
 *   candidates, except the exact name of a registered op type (a recipe written for any model
 *   may name op types a model lacks).
 */
import { hasOp } from '@condense/ir';
import { OptionsError } from './options.js';

/** What a pattern can name: a layer (node) and, where selection is per param, one of its params. */
export interface LayerRef {
  node: { readonly name: string; readonly op: string };
  param?: { readonly name: string };
}

/** Which candidates an option selects (SparseML's targets / ignore). */
export interface LayerSelection {
  /** Patterns of the layers to select; default: every candidate. */
  include?: readonly string[];
  /** Patterns of the layers never selected; wins over include. */
  exclude?: readonly string[];
}

/** One value for every layer, or a map pattern -> value. */
export type PerLayer<V> = V | Readonly<Record<string, V>>;

/** How specifically a pattern names a candidate: higher wins in a map. */
export const MatchRank = { None: 0, OpType: 1, Glob: 2, Exact: 3 } as const;
export type MatchRank = (typeof MatchRank)[keyof typeof MatchRank];

const OP_PREFIX = 'op:';
const globCache = new Map<string, RegExp>();

/** A whole-string matcher for a glob with `*` and `?`; every other character is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (!re) {
    const body = glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${body}$`);
    globCache.set(glob, re);
  }
  return re;
}

export const isGlob = (pattern: string): boolean => /[*?]/.test(pattern);

function nameRank(pattern: string, ref: LayerRef): MatchRank {
  const names = ref.param ? [ref.node.name, ref.param.name] : [ref.node.name];
  if (names.includes(pattern)) return MatchRank.Exact;
  return isGlob(pattern) && names.some((n) => globToRegExp(pattern).test(n)) ? MatchRank.Glob : MatchRank.None;
}

/** The candidates a pattern names, each with how specifically (candidates order). */
export function matchPattern<T extends LayerRef>(pattern: string, candidates: readonly T[]): Map<T, MatchRank> {
  const out = new Map<T, MatchRank>();
  if (!pattern.startsWith(OP_PREFIX)) {
    for (const c of candidates) {
      const rank = nameRank(pattern, c);
      if (rank !== MatchRank.None) out.set(c, rank);
    }
    if (out.size > 0) return out;
  }
  const re = globToRegExp(pattern.startsWith(OP_PREFIX) ? pattern.slice(OP_PREFIX.length) : pattern);
  for (const c of candidates) if (re.test(c.node.op)) out.set(c, MatchRank.OpType);
  return out;
}

const MAX_LISTED = 40;

/** "fc1 (dense), fc2 (dense)" or, per param, "fc1/kernel (dense fc1)"; long lists are cut. */
export function describeCandidates(candidates: readonly LayerRef[]): string {
  if (candidates.length === 0) return 'none';
  const one = (c: LayerRef) => (c.param ? `${c.param.name} (${c.node.op} ${c.node.name})` : `${c.node.name} (${c.node.op})`);
  const shown = candidates.slice(0, MAX_LISTED).map(one).join(', ');
  return candidates.length > MAX_LISTED ? `${shown}, ... ${candidates.length - MAX_LISTED} more` : shown;
}

/** Matches of one pattern, or the error for a pattern that names nothing. */
function matchOrThrow<T extends LayerRef>(pattern: string, candidates: readonly T[], where: string, field: string): Map<T, MatchRank> {
  const hit = matchPattern(pattern, candidates);
  const opName = pattern.startsWith(OP_PREFIX) ? pattern.slice(OP_PREFIX.length) : pattern;
  if (hit.size === 0 && !(hasOp(opName) && !isGlob(opName))) {
    throw new OptionsError(`${where}: ${field} pattern '${pattern}' matches no layer, param or op type (candidates: ${describeCandidates(candidates)})`);
  }
  return hit;
}

/** The candidates any of `patterns` names (each pattern must name one). */
export function matchAny<T extends LayerRef>(patterns: readonly string[], candidates: readonly T[], where: string, field: string): Set<T> {
  const out = new Set<T>();
  for (const p of patterns) for (const c of matchOrThrow(p, candidates, where, field).keys()) out.add(c);
  return out;
}

/** The selected candidates, in candidate order. `where` names the stage in errors (e.g. 'prune.magnitude'). */
export function selectLayers<T extends LayerRef>(candidates: readonly T[], sel: LayerSelection, where: string): T[] {
  const included = sel.include ? matchAny(sel.include, candidates, where, 'include') : undefined;
  const excluded = sel.exclude ? matchAny(sel.exclude, candidates, where, 'exclude') : new Set<T>();
  return candidates.filter((c) => (included === undefined || included.has(c)) && !excluded.has(c));
}

/** The winning key of a map for one candidate, with its rank. */
export interface LayerMapEntry<V> {
  key: string;
  rank: MatchRank;
  value: V;
}

/** Each candidate's winning entry of a pattern -> value map (candidates no key names are absent). */
export function resolveLayerEntries<T extends LayerRef, V>(
  candidates: readonly T[],
  map: Readonly<Record<string, V>>,
  where: string,
  field: string,
): Map<T, LayerMapEntry<V>> {
  const best = new Map<T, LayerMapEntry<V>>();
  for (const [key, value] of Object.entries(map)) {
    for (const [c, rank] of matchOrThrow(key, candidates, where, `${field} key`)) {
      // Entries come in key order, so `>=` lets the later of two equally specific keys win.
      if (rank >= (best.get(c)?.rank ?? MatchRank.None)) best.set(c, { key, rank, value });
    }
  }
  return new Map(candidates.filter((c) => best.has(c)).map((c) => [c, best.get(c) as LayerMapEntry<V>]));
}

/** The value a pattern -> value map gives each candidate (most specific key; the later on ties). */
export function resolveLayerMap<T extends LayerRef, V>(candidates: readonly T[], map: Readonly<Record<string, V>>, where: string, field = 'layers'): Map<T, V> {
  return new Map([...resolveLayerEntries(candidates, map, where, field)].map(([c, e]) => [c, e.value]));
}

export const isLayerMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The value a per-layer option gives each candidate: a single value for all, or a map resolved
 * by `resolveLayerMap`. Pass `isMap` when the value itself is an object.
 */
export function resolvePerLayer<T extends LayerRef, V>(
  candidates: readonly T[],
  option: PerLayer<V> | undefined,
  where: string,
  field: string,
  isMap: (v: unknown) => boolean = isLayerMap,
): Map<T, V> {
  if (option === undefined) return new Map();
  if (isMap(option)) return resolveLayerMap(candidates, option as Record<string, V>, where, field);
  return new Map(candidates.map((c) => [c, option as V]));
}

/** Refs for nodes (layer-level selection). */
export const nodeRefs = <N extends { name: string; op: string }>(nodes: readonly N[]): { node: N }[] => nodes.map((node) => ({ node }));
