export { QuantizeError } from './errors.js';
export { type ErrorStats, errorStats, checkBits } from './metrics.js';
export { sortFloat32 } from './sort.js';
export {
  kmeans1d,
  initialCentroids,
  linearCentroids,
  KMEANS_INITS,
  DEFAULT_KMEANS_ITERATIONS,
  type KmeansInit,
  type KmeansOptions,
  type KmeansResult,
} from './kmeans.js';
export {
  shareWeights,
  shareGraphWeights,
  DEEP_COMPRESSION_BITS,
  type ShareWeightsOptions,
  type ShareGraphOptions,
  type ShareReport,
} from './weight-sharing.js';
export {
  quantizeAffine,
  quantizeGraphAffine,
  affineQuant,
  resolveAffine,
  outputChannelAxis,
  tfjsQuantization,
  tfjsQuantizedWeight,
  type AffineDtype,
  type AffineOptions,
  type AffineSpec,
  type AffineReport,
  type AffineGraphOptions,
  type TfjsQuantization,
} from './affine.js';
export { toFloat16, float16Param, type Float16Report } from './float16.js';
export {
  selectParams,
  candidates,
  includeOf,
  kindOf,
  PARAM_KINDS,
  type Select,
  type SelectOptions,
  type ParamUse,
  type ParamKind,
} from './select.js';
export { kmeansQuantize, affineQuantize, float16Quantize, plugins, register } from './plugins.js';
