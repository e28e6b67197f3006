import { getNode, getOp, paramSpecOf, rng, shuffle, type ChannelGroup, type Graph, type Param } from '@condense/ir';

/** Where the driver is when it asks for scores. */
export interface ImportanceContext {
  /** The group's position in the plan, from 0. */
  index: number;
  /** Groups in the plan. */
  total: number;
  /** This group's own seed: the run's seed + 7919 (index + 1). */
  seed: number;
}

/** One score per channel of a group (group channel order): the lowest are removed first. */
export type Scores = ArrayLike<number>;

/**
 * Ranks the channels of one channel group of the graph as it is now (earlier removals done).
 * Importances only rank; the driver decides how many go and removes them.
 */
export type Importance = (graph: Graph, group: ChannelGroup, ctx: ImportanceContext) => Scores | Promise<Scores>;

/**
 * Sum of |kernel| over each group channel's filter (its output slice of every producer kernel,
 * summed over producers coupled by an add): Li et al. 2017, "Pruning Filters for Efficient ConvNets".
 * Kernel: a producer's weight param (a recurrent layer's kernel and recurrent kernel, an embedding's table).
 */
export function filterL1Norms(graph: Graph, group: ChannelGroup): Float64Array {
  const scores = new Float64Array(group.size);
  const isWeight = (node: string, role: string) => {
    const n = getNode(graph, node);
    return paramSpecOf(getOp(n.op, n.name), role)?.kind === 'weight';
  };
  const slices = group.slices.filter((s) => s.kind === 'out' && isWeight(s.node, s.role));
  if (slices.length === 0) throw new Error(`group '${group.id}': no producer kernel to take filter norms of`);
  for (const s of slices) {
    const p = graph.params.get(s.param) as Param;
    const inner = p.shape.slice(s.axis + 1).reduce((a, b) => a * b, 1);
    const owner = new Int32Array(s.dim).fill(-1);
    s.positions.forEach((pos, c) => pos.forEach((i) => (owner[i] = c)));
    for (let e = 0; e < p.data.length; e++) {
      const c = owner[Math.floor(e / inner) % s.dim];
      if (c >= 0) scores[c] += Math.abs(p.data[e]);
    }
  }
  return scores;
}

/** Smallest filter L1 norm first. */
export const l1FilterImportance: Importance = (graph, group) => filterL1Norms(graph, group);

/** Scores from a removal order (for rankings that come as an order): the channel listed first scores 0, the next 1, ... */
export function orderScores(order: ArrayLike<number>, channels: number): Float64Array {
  const scores = new Float64Array(channels);
  for (let i = 0; i < order.length; i++) scores[order[i]] = i;
  return scores;
}

/** A seeded random order (the group's seed): score = position in a shuffle of the channels. */
export const randomImportance: Importance = (_graph, group, ctx) =>
  orderScores(
    shuffle(
      Int32Array.from({ length: group.size }, (_, i) => i),
      rng(ctx.seed),
    ),
    group.size,
  );
