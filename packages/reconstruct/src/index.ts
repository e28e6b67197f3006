export { ReconstructError } from './errors.js';
export {
  layerSpec,
  kernelBlocks,
  readBlock,
  writeBlock,
  outputChannels,
  channelOf,
  LAYER_OPS,
  type LayerSpec,
  type LayerOp,
  type KernelBlocks,
} from './layout.js';
export { createStats, accumulate, statsReport, inputMean, windowOf, type LayerStats, type StatsOptions, type StatsReport } from './stats.js';
export { upperInverseFactor, inverseFromUpper, invertUpper } from './linalg.js';
// The shared least squares, re-exported: ThiNet and these solvers use the same ones.
export { cholesky, choleskySolve, meanDiagonal, ridgeSolve, refitRows, DEFAULT_RIDGE } from '@condense/core';
export { layerError, outputEnergy, quadraticForm, type LayerError } from './error.js';
export { DEFAULT_DAMP, DEFAULT_BLOCK_SIZE, actOrder, type HessianOptions } from './obs.js';
export { createGrid, roundToGrid, slotOf, fitCodebook, nearestCentroid, type AffineFormat, type AffineGrid } from './grid.js';
export { gptq, gptqCodebook, type GptqOptions, type GptqCodebookOptions, type GptqResult, type GptqCodebookResult } from './gptq.js';
export { sparseGpt, type SparseGptOptions, type SparseGptResult, type SparsityScope } from './sparsegpt.js';
export { biasCorrection, correctBias, type BiasCorrection } from './bias.js';
export { gptqLayer, gptqCodebookLayer, sparseGptLayer, type LayerReport, type SparseLayerReport } from './layer.js';
export { sequential, kernelLayers, passInputs, type InputSource, type LayerInput, type SequentialStep } from './sequential.js';
export { createMeans, accumulateMeans, meanOutput, type BlockSums } from './means.js';
export { gptqPlugin, sparseGptPlugin, biasCorrectionPlugin, bnRecalibratePlugin, plugins, register, type StageLayerRow } from './plugins.js';
