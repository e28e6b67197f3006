/**
 * Filter (channel) pruning without calibration data: rank each channel group with an importance
 * from @condense/core and let its driver remove the lowest-ranked channels for real.
 */
import { channelPruneOptions, definePlugin, globalPruneOptions, l1FilterImportance, pruneGroups, randomImportance, Type, type ChannelPruneOptions, type GroupsReport, type Importance, type StageContext, type TObject } from '@condense/core';
import { cost, type Graph } from '@condense/ir';

function notes(r: GroupsReport, before: { macs: number; params: number }, after: { macs: number; params: number }): string[] {
  const out = r.layers.map((l) => `${l.layer}: ${l.channelsBefore} -> ${l.channelsAfter} channels`);
  for (const s of r.skipped) out.push(`skipped ${s.layer}: ${s.reason}`);
  out.push(`MACs ${before.macs} -> ${after.macs} (${(before.macs / Math.max(after.macs, 1)).toFixed(2)}x fewer), params ${before.params} -> ${after.params}`);
  return out;
}

function filterPlugin<S extends TObject>(name: string, description: string, schema: S, importance: Importance) {
  return definePlugin({
    name,
    description,
    schema,
    create: (options) => ({
      contract: { provides: ['structure'], conflicts: ['codebook', 'encoded'] },
      async apply(graph: Graph, ctx: StageContext) {
        const o = options as ChannelPruneOptions;
        const before = cost(graph).totals;
        const r = await pruneGroups(graph, importance, { ...o, seed: o.seed ?? ctx.seed }, {}, name);
        const after = cost(graph).totals;
        return {
          details: { ...r, macsBefore: before.macs, macsAfter: after.macs, paramsBefore: before.params, paramsAfter: after.params },
          notes: notes(r, before, after),
        };
      },
    }),
  });
}

const seed = Type.Optional(Type.Integer({ description: "default: the pipeline's" }));

export const l1Filter = filterPlugin(
  'prune.l1Filter',
  'L1-norm filter pruning (Li et al. 2017, "Pruning Filters for Efficient ConvNets"): per layer (or by one global ranking), remove the channels whose filters have the smallest L1 norm, for real: kernel columns, bias, batch norm and the next layers\' input rows.',
  Type.Object({ ...globalPruneOptions(['conv2d']), seed }, { additionalProperties: false }),
  l1FilterImportance,
);

export const randomFilter = filterPlugin(
  'prune.randomFilter',
  'Random filter pruning (the baseline structured methods must beat): per layer, remove channels chosen at random (seeded), for real.',
  Type.Object({ ...channelPruneOptions(['conv2d']), seed }, { additionalProperties: false }),
  randomImportance,
);

export const filterPlugins = [l1Filter, randomFilter];
