import { definePlugin, pruneGroups, Type, type Importance, type Registry } from '@condense/core';
import { rng, setMask, shuffle, weightParams } from '@condense/ir';

/**
 * Random pruning baselines: what magnitude pruning or ThiNet must beat. A third-party plugin
 * package needs only this: factories from `definePlugin`, a `register` export, and a `condense`
 * field in package.json so `condense` finds it.
 */

export const randomPrune = definePlugin({
  name: 'random.prune',
  description: "Remove a random fraction of every kernel's weights (an unstructured baseline).",
  schema: Type.Object(
    {
      sparsity: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'fraction of each kernel to remove' }),
      seed: Type.Integer({ default: 1 }),
    },
    { additionalProperties: false },
  ),
  create: ({ sparsity, seed }) => ({
    contract: { provides: ['mask'], conflicts: ['codebook', 'encoded'] },
    apply(graph) {
      const next = rng(seed);
      for (const { param } of weightParams(graph)) {
        const order = shuffle(
          Int32Array.from({ length: param.data.length }, (_, i) => i),
          next,
        );
        const mask = param.mask?.slice() ?? new Uint8Array(param.data.length).fill(1);
        for (let i = 0; i < Math.round(sparsity * order.length); i++) mask[order[i]] = 0;
        setMask(param, mask);
      }
      return { notes: [`randomly pruned ${Math.round(sparsity * 100)}% of each kernel`] };
    },
  }),
});

/**
 * A structured pruner only ranks: an `Importance` scores the channels of one IR channel group
 * (here uniformly at random, from the seed the driver gives each group), and core's driver
 * removes the lowest-scored ones from every coupled param, group after group.
 */
const randomScores: Importance = (_graph, group, ctx) => Float64Array.from({ length: group.size }, rng(ctx.seed));

export const randomChannels = definePlugin({
  name: 'random.channels',
  description: 'Remove a random fraction of the channels/neurons of every prunable group (a structured baseline).',
  schema: Type.Object(
    {
      fraction: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'fraction of each group to remove' }),
      seed: Type.Integer({ default: 1 }),
    },
    { additionalProperties: false },
  ),
  create: ({ fraction, seed }) => ({
    contract: { provides: ['structure'], conflicts: ['codebook', 'encoded'] },
    async apply(graph) {
      const r = await pruneGroups(graph, randomScores, { ratio: fraction, seed }, {}, 'random.channels');
      return { notes: r.layers.map((l) => `${l.layer}: ${l.channelsBefore} -> ${l.channelsAfter}`) };
    },
  }),
});

export const plugins = [randomPrune, randomChannels];

export function register(registry: Registry): void {
  registry.register(randomPrune, randomChannels);
}
