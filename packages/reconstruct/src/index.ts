export { ReconstructError } from './errors.js';
export {
  layerSpec, kernelBlocks, readBlock, writeBlock, outputChannels, channelOf, LAYER_OPS,
  type LayerSpec, type LayerOp, type KernelBlocks,
} from './layout.js';
export { createStats, accumulate, statsReport, inputMean, convWindow, type LayerStats, type StatsReport } from './stats.js';
export { cholesky, upperInverseFactor, inverseFromUpper, invertUpper, choleskySolve, meanDiagonal } from './linalg.js';
export { layerError, outputEnergy, quadraticForm, type LayerError } from './error.js';
export { DEFAULT_DAMP, DEFAULT_BLOCK_SIZE, actOrder, type HessianOptions } from './obs.js';
export { createGrid, roundToGrid, slotOf, fitCodebook, nearestCentroid, type AffineFormat, type AffineGrid } from './grid.js';
export { gptq, gptqCodebook, type GptqOptions, type GptqCodebookOptions, type GptqResult, type GptqCodebookResult } from './gptq.js';
export { sparseGpt, type SparseGptOptions, type SparseGptResult, type SparsityScope } from './sparsegpt.js';
export { biasCorrection, correctBias, ridgeSolve, refitRows, DEFAULT_RIDGE, type BiasCorrection } from './bias.js';
export { gptqLayer, gptqCodebookLayer, sparseGptLayer, type LayerReport, type SparseLayerReport } from './layer.js';
export { sequential, kernelLayers, type InputSource, type LayerInput, type SequentialStep } from './sequential.js';
