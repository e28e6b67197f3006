export { magnitudePrune, pruneSensitivity, sensitivity, suggest, plugins, register } from './plugins.js';
export { smallestMask, pruneToSparsity, pruneByQuality, pruneGlobal, agpSparsity, iterativeSparsity, checkSparsity, std } from './magnitude.js';
export { prunableLayers, matchLayers, resolveLayerMap, globToRegExp, DEFAULT_OPS, type PrunableLayer } from './select.js';
