export {
  definePlugin,
  type Plugin,
  type PluginFactory,
  type PluginDefinition,
  type Contract,
  type Capability,
  type Requirement,
  type StageResult,
} from './plugin.js';
export { parseOptions, OptionsError } from './options.js';
export { checkContracts, checkPipeline, graphCapabilities, ContractError } from './contract.js';
export type { StageContext, PipelineContext, PipelineData, PipelineSources, DataKind, Split, FinetuneOptions } from './context.js';
export * from './data/index.js';
export type { PipelineEvent } from './events.js';
export type {
  Runtime,
  RuntimeTask,
  TrainingContribution,
  TrainRequest,
  TrainResult,
  EvaluateRequest,
  EvaluateResult,
  EpochProgress,
  LabelFreeOptions,
  LabelFreeSetting,
  LatencyRequest,
  LatencyResult,
} from './runtime.js';
export { snapshot, type Snapshot } from './snapshot.js';
export {
  pipeline,
  sources,
  DEFAULT_FINETUNE,
  DEFAULT_AGREEMENT_EXAMPLES,
  DEFAULT_CALIBRATION_EXAMPLES,
  type Pipeline,
  type PipelineResult,
  type StageRecord,
  type FinetuneRecord,
} from './pipeline.js';
export { testStageContext, referenceRuntime, type TestStageOptions, type TestStageContext } from './testing.js';
export { finetune, evaluateStage } from './stages.js';
export { Registry, createRegistry, dependencyTree, discoverPlugins, loadPlugin, registerModule, isPluginFactory, type Discovered } from './registry.js';
export { parseRecipe, buildPipeline, recipeJsonSchema, RecipeDataSchema, type Recipe, type RecipeStage, type RecipeData } from './recipe.js';
export * from './report/index.js';
export { Type, type Static, type TObject } from '@sinclair/typebox';
export {
  selectLayers,
  resolveLayerMap,
  resolveLayerEntries,
  resolvePerLayer,
  matchPattern,
  matchAny,
  describeCandidates,
  globToRegExp,
  isGlob,
  isLayerMap,
  nodeRefs,
  MatchRank,
  type LayerRef,
  type LayerSelection,
  type LayerMapEntry,
  type PerLayer,
} from './select.js';
export { selectionOptions, layerMap, perLayer, finetuneSchema } from './layer-options.js';
export * from './structured/index.js';
export * from './layerwise/index.js';
