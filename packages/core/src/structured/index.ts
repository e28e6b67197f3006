export {
  pruneGroups,
  pruneGroupsSync,
  planGroups,
  lowestScores,
  SkipGroup,
  DEFAULT_PRUNE_RATIO,
  type ChannelPruneOptions,
  type PlanEntry,
  type SkippedGroup,
  type RemovalStep,
  type PruneHooks,
  type GroupChange,
  type GroupsReport,
} from './driver.js';
export { filterL1Norms, l1FilterImportance, randomImportance, orderScores, type Importance, type ImportanceContext, type Scores } from './importance.js';
export { channelPruneOptions, globalPruneOptions } from './schema.js';
