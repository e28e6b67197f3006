export { SCALE_OP, scaleNodes, type StructureKind } from './scale-op.js';
export { softThreshold, apgStep, groupShrink, type ApgOptions } from './prox.js';
export {
  STRUCTURE_KINDS,
  channelStructures,
  blockStructures,
  findStructures,
  insertScales,
  selectStructures,
  type Structure,
  type ChannelStructure,
  type BlockStructure,
  type Selection,
} from './structures.js';
export { finalize, type FinalizeReport, type LayerChange } from './finalize.js';
export {
  apgContribution,
  l1Contribution,
  groupLassoContribution,
  finalizeModel,
  zeroFactors,
  type Factor,
  type ApgContributionOptions,
  type L1ContributionOptions,
  type GroupLassoContributionOptions,
  type GroupLayer,
} from './contributions.js';
export { sss, slimming, groupLasso, l1, finalizeStage, slimmingFactors, plugins, register } from './plugins.js';
