export { thinet, thinetL1, thinetRandom, plugins, register } from './plugins.js';
export {
  pruneChannels, planLayers, checkOptions, defaultsFor, pickCalibration, l1Scores, describeLayer, pluginName,
  type Method, type ChannelPruneOptions, type FinetuneStep, type CalibrationSet, type PruneEnv, type PruneReport, type LayerReport, type ConsumerReport,
} from './prune.js';
export { contributionGrams, contributionSamples, UnsupportedConsumer, type ConsumerGram, type GramOptions, type Images } from './contrib.js';
export { gram, greedyRemove, subsetEnergy, fitScales, leastSquares, solveSymmetric, reconstructionError, energy, selfTarget, type Target } from './math.js';
