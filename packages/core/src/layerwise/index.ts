export type { NodeValue, ForwardRequest, Forward } from './forward.js';
export { LayerPass, splitInputs, batchInputs, DEFAULT_PASS_BATCH, type ModelInputs, type LayerPassOptions, type PassUsage } from './pass.js';
export { cholesky, choleskySolve, meanDiagonal, dampedFactor, ridgeSolve, refitRows, DEFAULT_RIDGE } from './lstsq.js';
export { convWindow, patchSums, type ConvWindow } from './patches.js';
