export { magnitudePrune, pruneSensitivity, sensitivity, suggest, plugins, register } from './plugins.js';
export { l1Filter, randomFilter } from './filters.js';
export { smallestMask, pruneToSparsity, pruneByQuality, pruneGlobal, agpSparsity, iterativeSparsity, checkSparsity, std } from './magnitude.js';
export { prunableLayers, DEFAULT_OPS, type PrunableLayer } from './select.js';
