/**
 * The structured-pruning driver (Torch-Pruning's shape: one dependency graph, pruners only rank).
 * `planGroups` picks the IR channel groups to prune and how much; `pruneGroups` asks an
 * `Importance` for each group's scores, removes the lowest-scored channels from every coupled
 * slice through `removeChannels`, and looks the next group up afresh (a group is only valid for
 * the graph it was computed on). Hooks repair what a removal breaks (ThiNet's least squares,
 * SSS's bias compensation) and run between groups (a fine-tune).
 */
import { channelGroups, getNode, groupOf, removeChannels, type ChannelGroup, type Graph, type Node } from '@condense/ir';
import { OptionsError } from '../options.js';
import { MatchRank, matchAny, resolveLayerEntries, selectLayers, type LayerMapEntry } from '../select.js';
import type { Importance, ImportanceContext, Scores } from './importance.js';
import { runAsync, runSync, type Steps } from './steps.js';

/** How many channels go, and from which groups. */
export interface ChannelPruneOptions {
  /** Fraction of channels removed from every selected group, in (0, 1). Default 0.5 when neither `layers` nor `threshold` is given. */
  ratio?: number;
  /** Per-layer fractions, by the selector's patterns (override `ratio`; alone, only these layers are pruned). */
  layers?: Readonly<Record<string, number>>;
  /** Instead of a fraction: remove every channel scoring at or below this (a group keeps at least one). */
  threshold?: number;
  /** 'layer' (default): `ratio` of each group. 'global': `ratio` of all selected channels, by one ranking over every group's scores divided by their mean. */
  scope?: 'layer' | 'global';
  /** At most this fraction of any group is removed, in (0, 1]. */
  maxRatio?: number;
  /** Round each group's kept channel count up to a multiple of this. */
  roundTo?: number;
  /** Op types of the producers pruned at `ratio` / `threshold`; default every producer. */
  ops?: readonly string[];
  /** Producers to prune at `ratio` (patterns, among those of `ops`); default all. */
  include?: readonly string[];
  /** Protected layers: a group with an excluded producer is never pruned, not even through `layers`. */
  exclude?: readonly string[];
  /** Groups with several producers (coupled by an add): 'prune' (default) or 'skip'. */
  coupled?: 'prune' | 'skip';
  /** Each group's importance gets seed + 7919 (its plan index + 1). Default 1. */
  seed?: number;
}

/** A group to prune: its producers (the first names it afresh after earlier removals) and its fraction. */
export interface PlanEntry {
  layer: string;
  producers: string[];
  ratio?: number;
}

export interface SkippedGroup {
  layer: string;
  reason: string;
}

/** One group's removal, as the hooks see it. */
export interface RemovalStep extends ImportanceContext {
  graph: Graph;
  /** The group as computed just before this removal. */
  group: ChannelGroup;
  scores: Scores;
  /** Channels removed, lowest score first (ties: the lowest index). */
  removed: number[];
  /** Channels kept, ascending. */
  kept: number[];
}

export interface PruneHooks {
  /** Before the removal, on the graph as it still is: rescale, correct biases, measure. Throw `SkipGroup` (before changing anything) to leave the group. */
  compensate?(step: RemovalStep): void | Promise<void>;
  /** After the removal: e.g. a fine-tune between layers. */
  afterRemove?(step: RemovalStep): void | Promise<void>;
}

export interface GroupChange {
  /** The group: its producer, or coupled producers joined by '+'. */
  layer: string;
  producers: string[];
  channelsBefore: number;
  channelsAfter: number;
  /** Removed channels (indices before the removal), lowest score first. */
  removed: number[];
}

export interface GroupsReport {
  layers: GroupChange[];
  skipped: SkippedGroup[];
}

/** Thrown by an importance or a `compensate` hook (before it changes the graph) to leave one group alone; the report says why. */
export class SkipGroup extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SkipGroup';
  }
}

export const DEFAULT_PRUNE_RATIO = 0.5;

const inOpen01 = (r: unknown): r is number => typeof r === 'number' && r > 0 && r < 1;

function checkOptions(o: ChannelPruneOptions, who: string): void {
  const bad = (msg: string) => new OptionsError(`${who}: ${msg}`);
  if (o.ratio !== undefined && !inOpen01(o.ratio)) throw bad(`ratio must be a number in (0, 1) (exclusive), got ${JSON.stringify(o.ratio)}`);
  for (const [k, r] of Object.entries(o.layers ?? {}))
    if (!inOpen01(r)) throw bad(`layers.${k} must be a number in (0, 1) (exclusive), got ${JSON.stringify(r)}`);
  if (o.maxRatio !== undefined && !(o.maxRatio > 0 && o.maxRatio <= 1)) throw bad(`maxRatio must be in (0, 1], got ${JSON.stringify(o.maxRatio)}`);
  if (o.roundTo !== undefined && !(Number.isInteger(o.roundTo) && o.roundTo >= 1))
    throw bad(`roundTo must be a positive integer, got ${JSON.stringify(o.roundTo)}`);
  if (o.threshold !== undefined && (o.ratio !== undefined || o.layers !== undefined)) throw bad('threshold cannot be combined with ratio or layers');
  if (o.scope === 'global' && (o.layers !== undefined || o.threshold !== undefined)) throw bad("scope 'global' takes one ratio (not layers or threshold)");
  if (o.coupled !== undefined && o.coupled !== 'prune' && o.coupled !== 'skip')
    throw bad(`coupled must be 'prune' or 'skip', got ${JSON.stringify(o.coupled)}`);
}

interface ProducerRef {
  node: Node;
  group: ChannelGroup;
}

/**
 * Which groups to prune, at which fraction, in graph order. A group is chosen when a producer is
 * of `ops` and selected by `include` (with a `ratio` or `threshold`), or named by `layers`; an
 * excluded producer protects its group. Unprunable chosen groups are skipped with their reason,
 * except one that `layers` names exactly, which is an error.
 */
export function planGroups(graph: Graph, o: ChannelPruneOptions, who: string): { plan: PlanEntry[]; skipped: SkippedGroup[] } {
  checkOptions(o, who);
  const groups = channelGroups(graph);
  const refs: ProducerRef[] = groups.flatMap((group) => group.producers.map((p) => ({ node: getNode(graph, p), group })));
  const ofOps = o.ops ? refs.filter((r) => o.ops?.includes(r.node.op)) : refs;
  const base = new Set(selectLayers(ofOps, { include: o.include }, who));
  const guarded = o.exclude ? matchAny(o.exclude, refs, who, 'exclude') : new Set<ProducerRef>();
  const named = o.layers ? resolveLayerEntries(refs, o.layers, who, 'layers') : new Map<ProducerRef, LayerMapEntry<number>>();
  const ratio = o.ratio ?? (o.layers || o.threshold !== undefined ? undefined : DEFAULT_PRUNE_RATIO);
  const byDefault = ratio !== undefined || o.threshold !== undefined;
  const plan: PlanEntry[] = [];
  const skipped: SkippedGroup[] = [];
  for (const g of groups) {
    const mine = refs.filter((r) => r.group === g);
    const entry = mine.map((r) => named.get(r)).find((e) => e !== undefined);
    if (entry === undefined && !(byDefault && mine.some((r) => base.has(r)))) continue;
    const skip = (reason: string) => skipped.push({ layer: g.id, reason });
    if (mine.some((r) => guarded.has(r))) skip('protected by exclude');
    else if (!g.prunable) {
      if (entry?.rank === MatchRank.Exact) throw new OptionsError(`${who}: layers: layer '${entry.key}' cannot be pruned: ${g.reason}`);
      skip(g.reason ?? 'not prunable');
    } else if (g.producers.length > 1 && o.coupled === 'skip')
      skip(`producers ${g.producers.join(', ')} are coupled (residual add) and coupled: 'skip' was given`);
    else plan.push({ layer: g.id, producers: g.producers, ratio: entry?.value ?? ratio });
  }
  return { plan, skipped };
}

/** The channel count left after removing `n` of `size`, rounded up to a multiple of `roundTo` (never all, never none). */
function capped(size: number, n: number, o: ChannelPruneOptions): number {
  let count = Math.min(n, size - 1);
  if (o.maxRatio !== undefined) count = Math.min(count, Math.floor(size * o.maxRatio));
  const to = o.roundTo ?? 1;
  if (to > 1) count = size - Math.min(size, Math.ceil((size - count) / to) * to);
  return Math.max(count, 0);
}

/** The `count` lowest-scored channels, lowest first (ties: the lowest index). */
export function lowestScores(scores: Scores, count: number): number[] {
  return Array.from({ length: scores.length }, (_, i) => i)
    .sort((a, b) => scores[a] - scores[b] || a - b)
    .slice(0, count);
}

function checkScores(scores: unknown, group: ChannelGroup, who: string): Scores {
  const s = scores as Scores;
  if (typeof s?.length !== 'number' || s.length !== group.size)
    throw new Error(`${who}: the importance gave ${s?.length ?? 'no'} scores for group '${group.id}' of ${group.size} channels`);
  for (let c = 0; c < s.length; c++) if (Number.isNaN(s[c])) throw new Error(`${who}: the importance gave NaN for channel ${c} of group '${group.id}'`);
  return s;
}

const fresh = (graph: Graph, entry: PlanEntry) => groupOf(graph, entry.producers[0]);

/** Global scope: each group's scores (or why it is skipped) and how many of its channels go. */
interface GlobalPlan {
  scores: (Scores | string)[];
  counts: number[];
}

/** Every group's scores up front, divided by their mean (Torch-Pruning's default normaliser), one ranking, per-group caps. */
function* globalPlan(
  graph: Graph,
  plan: PlanEntry[],
  importance: Importance,
  o: ChannelPruneOptions,
  ctxOf: (i: number) => ImportanceContext,
  who: string,
): Steps<GlobalPlan> {
  const scores: (Scores | string)[] = [];
  for (const [index, entry] of plan.entries()) {
    const group = fresh(graph, entry);
    try {
      scores.push(checkScores(yield importance(graph, group, ctxOf(index)), group, who));
    } catch (e) {
      if (!(e instanceof SkipGroup)) throw e;
      scores.push(e.message);
    }
  }
  const pool: { v: number; g: number; c: number }[] = [];
  const sizes = scores.map((s) => (typeof s === 'string' ? 0 : s.length));
  scores.forEach((s, g) => {
    if (typeof s === 'string') return;
    let mean = 0;
    for (let c = 0; c < s.length; c++) mean += s[c] / s.length;
    for (let c = 0; c < s.length; c++) pool.push({ v: mean > 0 ? s[c] / mean : s[c], g, c });
  });
  pool.sort((a, b) => a.v - b.v || a.g - b.g || a.c - b.c);
  const caps = sizes.map((size) => (size ? capped(size, size, { ...o, roundTo: 1 }) : 0));
  const counts = sizes.map(() => 0);
  let left = Math.round(pool.length * (o.ratio ?? DEFAULT_PRUNE_RATIO));
  for (const x of pool) {
    if (left === 0) break;
    if (counts[x.g] < caps[x.g]) [counts[x.g], left] = [counts[x.g] + 1, left - 1];
  }
  return { scores, counts: counts.map((n, g) => (sizes[g] ? capped(sizes[g], n, o) : 0)) };
}

function* drive(graph: Graph, importance: Importance, o: ChannelPruneOptions, hooks: PruneHooks, who: string): Steps<GroupsReport> {
  const { plan, skipped } = planGroups(graph, o, who);
  const seed = o.seed ?? 1;
  const ctxOf = (index: number): ImportanceContext => ({ index, total: plan.length, seed: seed + 7919 * (index + 1) });
  const global = o.scope === 'global' ? yield* globalPlan(graph, plan, importance, o, ctxOf, who) : undefined;
  const report: GroupsReport = { layers: [], skipped };
  for (const [index, entry] of plan.entries()) {
    const group = fresh(graph, entry);
    const ctx = ctxOf(index);
    const skip = (reason: string) => skipped.push({ layer: group.id, reason });
    // A fixed fraction is known before scoring: skip without asking the importance.
    const fixed = o.threshold === undefined && !global ? capped(group.size, Math.round(group.size * (entry.ratio as number)), o) : undefined;
    if (fixed === 0) {
      skip(`ratio ${entry.ratio} removes no channel of ${group.size}`);
      continue;
    }
    let step: RemovalStep;
    try {
      const precomputed = global?.scores[index];
      if (typeof precomputed === 'string') throw new SkipGroup(precomputed);
      const scores = precomputed ?? checkScores(yield importance(graph, group, ctx), group, who);
      const count = fixed ?? global?.counts[index] ?? capped(group.size, countAtOrBelow(scores, o.threshold as number), o);
      if (count === 0) {
        if (global) skip('the global ranking removes none of its channels');
        continue;
      }
      const removed = lowestScores(scores, count);
      const gone = new Set(removed);
      step = { ...ctx, graph, group, scores, removed, kept: [...Array(group.size).keys()].filter((c) => !gone.has(c)) };
      yield hooks.compensate?.(step);
    } catch (e) {
      if (!(e instanceof SkipGroup)) throw e;
      skip(e.message);
      continue;
    }
    removeChannels(graph, group, step.kept);
    report.layers.push({ layer: group.id, producers: group.producers, channelsBefore: group.size, channelsAfter: step.kept.length, removed: step.removed });
    yield hooks.afterRemove?.(step);
  }
  return report;
}

function countAtOrBelow(scores: Scores, threshold: number): number {
  let n = 0;
  for (let c = 0; c < scores.length; c++) if (scores[c] <= threshold) n++;
  return n;
}

/** Plan, rank and remove (see `planGroups`). Edits `graph` in place; `who` names the stage in errors. */
export function pruneGroups(
  graph: Graph,
  importance: Importance,
  options: ChannelPruneOptions,
  hooks: PruneHooks = {},
  who = 'pruneGroups',
): Promise<GroupsReport> {
  return runAsync(drive(graph, importance, options, hooks, who));
}

/** `pruneGroups` for an importance and hooks that return plain values (e.g. inside a training hook). */
export function pruneGroupsSync(
  graph: Graph,
  importance: Importance,
  options: ChannelPruneOptions,
  hooks: PruneHooks = {},
  who = 'pruneGroupsSync',
): GroupsReport {
  return runSync(drive(graph, importance, options, hooks, who), who);
}
