/**
 * @condense/kronecker: dense and conv kernels replaced by short sums of Kronecker products
 * (Thakker et al. 2019; GKPD, Hameed et al. 2022), initialised by the nearest Kronecker product
 * (Van Loan & Pitsianis 1993). Importing the package registers the `kronDense` and `kronConv2d`
 * ops with the IR, their TF.js kernels, and their Keras layers for export and import.
 */
import './ops/index.js';

export {
  kroneckerFactorize,
  kroneckerMaterialize,
  plugins,
  register,
  factorizeGraph,
  planLayers,
  selectLayers,
  describe,
} from './plugins.js';
export {
  factorizeLayer,
  planLayer,
  materialize,
  materializeLayer,
  materializedKernel,
  kernelOf,
  KroneckerError,
  type LayerReport,
  type LayerPlan,
  type LayerPlanOptions,
} from './factorize.js';
export { fitToReference, type FitOptions, type FitReport, type FitData } from './fit.js';
export { nkp, kronSum, rearrange, checkFactorShapes, type NkpResult } from './nkp.js';
export {
  chooseShapes,
  candidateShapes,
  rankForRatio,
  paramsPerTerm,
  macsPerTerm,
  maxRank,
  imbalance,
  type FactorShapes,
  type ChooseOptions,
} from './shapes.js';
export { jacobiSvd, topSvd, matrix, type Matrix, type Svd, type TopSvdOptions } from './linalg.js';
export {
  KroneckerDense,
  KroneckerConv2D,
  kronMatMul,
  kronConv2d,
  RUNTIME_ACTIVATIONS,
  type KroneckerDenseArgs,
  type KroneckerConv2DArgs,
  type KronConvOptions,
} from './runtime.js';
export { KRONECKER_OPS } from './ops/index.js';
