/** ThiNet's importance: the greedy reconstruction criterion over a group's sampled contributions. */
import { orderScores, SkipGroup, type Importance } from '@condense/core';
import { targetOf, UnsupportedConsumer, type ConsumerGram } from './contrib.js';
import { greedyRemove, type Target } from './math.js';
import type { Sampler } from './sampling.js';

/** Sum of the consumers' problems, each normalised by its target's energy: one criterion for coupled next layers. */
export function combinedProblem(grams: ConsumerGram[], channels: number): { g: Float64Array; target: Target } {
  const g = new Float64Array(channels * channels);
  const h = new Float64Array(channels);
  for (const c of grams) {
    const t = targetOf(c, channels);
    if (!(t.tt > 0)) continue;
    for (let i = 0; i < g.length; i++) g[i] += c.gram[i] / t.tt;
    for (let i = 0; i < channels; i++) h[i] += t.h[i] / t.tt;
  }
  return { g, target: { h, tt: grams.length } };
}

/**
 * ThiNet (Luo et al. 2017, Algorithm 1) as an importance: the greedy removal order over all of a
 * group's channels. The greedy set for any count is a prefix of that order, so the driver's
 * "lowest scores first" removes exactly the channels the greedy selection picks. The scores are
 * ranks, not comparable across groups (no global scope).
 */
export function thinetImportance(sampler: Sampler): Importance {
  return async (graph, group, ctx) => {
    const grams = await sampler.of(graph, group, ctx.seed);
    if (grams instanceof UnsupportedConsumer) throw new SkipGroup(grams.message);
    const { g, target } = combinedProblem(grams, group.size);
    return orderScores(greedyRemove(g, group.size, group.size, target), group.size);
  };
}
