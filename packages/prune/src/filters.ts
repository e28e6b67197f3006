/**
 * Filter (channel) pruning without calibration data: rank each channel group with an importance
 * from @condense/core and let its driver remove the lowest-ranked channels for real.
 */
import {
  channelPruneOptions,
  definePlugin,
  globalPruneOptions,
  l1FilterImportance,
  pruneGroups,
  randomImportance,
  Type,
  type ChannelPruneOptions,
  type GroupsReport,
  type Importance,
  type StageContext,
} from '@condense/core';
import { cost, type Graph } from '@condense/ir';

function notes(r: GroupsReport, before: { macs: number; params: number }, after: { macs: number; params: number }): string[] {
  const out = r.layers.map((l) => `${l.layer}: ${l.channelsBefore} -> ${l.channelsAfter} channels`);
  for (const s of r.skipped) out.push(`skipped ${s.layer}: ${s.reason}`);
  out.push(`MACs ${before.macs} -> ${after.macs} (${(before.macs / Math.max(after.macs, 1)).toFixed(2)}x fewer), params ${before.params} -> ${after.params}`);
  return out;
}

/** A filter-pruning stage: rank every selected channel group with `importance`, remove the lowest for real. */
function stage(name: string, importance: Importance, o: ChannelPruneOptions) {
  return {
    contract: { provides: ['structure'], conflicts: ['codebook', 'encoded'] },
    async apply(graph: Graph, ctx: StageContext) {
      const before = cost(graph).totals;
      const r = await pruneGroups(graph, importance, { ...o, seed: o.seed ?? ctx.seed }, {}, name);
      const after = cost(graph).totals;
      return {
        details: { ...r, macsBefore: before.macs, macsAfter: after.macs, paramsBefore: before.params, paramsAfter: after.params },
        notes: notes(r, before, after),
      };
    },
  };
}

const seed = Type.Optional(Type.Integer({ description: "default: the pipeline's" }));

export const l1Filter = definePlugin({
  name: 'prune.l1Filter',
  description:
    'L1-norm filter pruning (Li et al. 2017, "Pruning Filters for Efficient ConvNets"): per layer (or by one global ranking), remove the channels whose filters have the smallest L1 norm, for real: kernel columns, bias, batch norm and the next layers\' input rows.',
  schema: Type.Object({ ...globalPruneOptions(['conv2d']), seed }, { additionalProperties: false }),
  create: (o) => stage('prune.l1Filter', l1FilterImportance, o),
});

export const randomFilter = definePlugin({
  name: 'prune.randomFilter',
  description: 'Random filter pruning (the baseline structured methods must beat): per layer, remove channels chosen at random (seeded), for real.',
  schema: Type.Object({ ...channelPruneOptions(['conv2d']), seed }, { additionalProperties: false }),
  create: (o) => stage('prune.randomFilter', randomImportance, o),
});

export const filterPlugins = [l1Filter, randomFilter];
