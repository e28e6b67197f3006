export { readIdx, parseIdx, IdxFormatError } from './idx.js';
export type { IdxTensor, IdxDtype, IdxData, IdxArrays } from './idx.js';
export {
  loadFashionMnist,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FILES,
  FASHION_MNIST_SYSTEM_DIR,
  FASHION_MNIST_EMBEDDED_DIR,
} from './fashion-mnist.js';
export type { FashionMnist, FashionMnistOptions } from './fashion-mnist.js';
export { batches, validationSplit, oneHot, subset, shuffledIndices } from './batches.js';
export type { BatchOptions, SubsetOptions } from './batches.js';
export { sampleSize, take } from './split.js';
export type { Split } from './split.js';
export * from './files/index.js';
