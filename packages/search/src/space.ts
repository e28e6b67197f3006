/**
 * What the search varies: per layer, a magnitude-pruning sparsity and a k-means bit width; per
 * channel group, a structured (L1-filter) pruning ratio. Every point is a plain recipe for the
 * plugins that do the work (`prune.magnitude`, `quantize.kmeans`, `prune.l1Filter`), so the
 * chosen budget is a normal recipe, and the workers run it with their own registry.
 */
import { nodeRefs, planGroups, selectLayers, type Recipe, type RecipeStage } from '@condense/core';
import { weightParams, type Graph } from '@condense/ir';
import type { TargetMetric } from './target.js';

export type Method = 'prune' | 'bits' | 'channels';
export const METHODS: readonly Method[] = ['prune', 'bits', 'channels'];

/** The levels each method tries (besides "leave it": sparsity 0, float weights, no channel removed). */
export interface Levels {
  /** Sparsities of `prune.magnitude`. */
  prune: number[];
  /** Index bits of `quantize.kmeans`. */
  bits: number[];
  /** Fractions of a group's channels `prune.l1Filter` removes. */
  channels: number[];
}

export const DEFAULT_LEVELS: Levels = {
  prune: [0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99],
  bits: [8, 6, 5, 4, 3, 2],
  channels: [0.125, 0.25, 0.375, 0.5, 0.625, 0.75],
};

/** Bit width meaning "not quantized" in configs and probes. */
export const FLOAT_BITS = 32;

/** Methods that move a metric when the user names none: weights for size, structure for speed. */
export function defaultMethods(metric: TargetMetric): Method[] {
  if (metric === 'bytes') return ['prune', 'bits'];
  if (metric === 'nonzero') return ['prune'];
  return ['channels'];
}

/** Which layers the search may touch. */
export interface SpaceSelection {
  /** Op types searched; default dense, conv2d, depthwiseConv2d. */
  ops?: readonly string[];
  include?: readonly string[];
  exclude?: readonly string[];
}

export const DEFAULT_OPS = ['dense', 'conv2d', 'depthwiseConv2d'];

/** A layer whose kernel may be pruned and quantized. */
export interface KernelUnit {
  layer: string;
  param: string;
}

/** A channel group that may lose channels: named by its id, pruned through its first producer. */
export interface GroupUnit {
  group: string;
  producer: string;
}

const WHO = 'search.budget';

export function kernelUnits(graph: Graph, sel: SpaceSelection): KernelUnit[] {
  const ops = sel.ops ?? DEFAULT_OPS;
  const uses = weightParams(graph).filter((u) => ops.includes(u.node.op) && u.role === 'kernel');
  const refs = nodeRefs(uses.map((u) => u.node));
  const chosen = new Set(selectLayers(refs, sel, WHO).map((r) => r.node.name));
  return uses.filter((u) => chosen.has(u.node.name)).map((u) => ({ layer: u.node.name, param: u.param.name }));
}

/** Prunable channel groups of the selected layers (the structured driver's plan; groups it skips stay out). */
export function groupUnits(graph: Graph, sel: SpaceSelection): GroupUnit[] {
  return planGroups(graph, { ops: sel.ops ?? DEFAULT_OPS, include: sel.include, exclude: sel.exclude, ratio: 0.5 }, WHO).plan.map((e) => ({
    group: e.layer,
    producer: e.producers[0],
  }));
}

/** A point of the space: what each unit gets (absent: left as it is). */
export interface Config {
  /** Layer -> sparsity. */
  prune: Record<string, number>;
  /** Layer -> index bits. */
  bits: Record<string, number>;
  /** Producer of a group -> fraction of its channels removed. */
  channels: Record<string, number>;
}

export const emptyConfig = (): Config => ({ prune: {}, bits: {}, channels: {} });

/** The recipe of a config: channels removed first (structure), then masks, then codebooks. */
export function configStages(c: Config): RecipeStage[] {
  const stages: RecipeStage[] = [];
  if (Object.keys(c.channels).length) stages.push({ plugin: 'prune.l1Filter', options: { layers: { ...c.channels } } });
  if (Object.keys(c.prune).length) stages.push({ plugin: 'prune.magnitude', options: { layers: { ...c.prune } } });
  if (Object.keys(c.bits).length) stages.push({ plugin: 'quantize.kmeans', options: { bits: { ...c.bits } } });
  return stages;
}

export const configRecipe = (c: Config, name?: string): Recipe => ({ ...(name ? { name } : {}), stages: configStages(c) });
