export { thinet, thinetL1, thinetRandom, plugins, register } from './plugins.js';
export { pruneChannels, describeLayer, type PruneEnv, type PruneReport, type LayerReport } from './prune.js';
export {
  thinetSchema,
  ThinetSchema,
  defaultsFor,
  resolveOptions,
  type ImportanceName,
  type ThinetOptions,
  type ThinetInput,
  type ResolvedOptions,
} from './options.js';
export { pickCalibration, Sampler, imageInputs, PASS_BATCH, type CalibrationSet, type PassFactory } from './sampling.js';
export { thinetImportance, combinedProblem } from './scoring.js';
export { compensate, type ConsumerReport } from './compensation.js';
export {
  contributionGrams,
  contributionSamples,
  groupCut,
  targetOf,
  UnsupportedConsumer,
  type ConsumerGram,
  type GramOptions,
  type GroupSource,
  type Images,
} from './contrib.js';
export { gram, greedyRemove, subsetEnergy, fitScales, leastSquares, solveSymmetric, reconstructionError, energy, selfTarget, type Target } from './math.js';
