export type * from './types.js';
export { GraphError, formatShape } from './errors.js';
export { rng, gaussian, shuffle } from './random.js';
export { dependencyOrder, type OrderEdges } from './order.js';
export {
  registerOp,
  getOp,
  hasOp,
  registeredOps,
  fail,
  paramSpecOf,
  kernelAxis,
  channelFlow,
  arityAllows,
  type OpDef,
  type RefTensor,
  type OpContext,
  type ParamSpec,
  type ParamAxis,
  type ChannelFlow,
  type ChannelValues,
  type ScalePass,
} from './ops/registry.js';
export {
  ACTIVATIONS,
  KERAS_ACTIVATION_IDS,
  isActivation,
  activationDef,
  activationAlpha,
  activationFacts,
  activationScalePass,
  activationScalar,
  referenceActivation,
  fromKerasActivation,
  kerasActivationId,
  kerasMajor,
  type ActivationFn,
  type ActivationDef,
  type ActivationAttrs,
  type ActivationFacts,
} from './ops/activations.js';
import './ops/all.js';
export { windowOut, zeroPadding, strides2, dilation2, pool2, single, convGroups, lastDim, type Padding } from './ops/common.js';
export { stride1, dilation1, windowOut1, transposeOut, type Padding1d } from './ops/convolution.js';
export { upSampling, cropping2d, permuteDims } from './ops/reshaping.js';
export { MERGES, type MergeOp } from './ops/merge.js';
export { rescaleOf, NORMALIZATION_EPSILON } from './ops/normalization.js';
export { sharedAxes } from './ops/prelu.js';
export { GATES, recurrentAttrs, type RecurrentOp, type RecurrentAttrs } from './ops/recurrent.js';
export type { PoolKind } from './ops/pooling.js';
export { BINARY_FNS, type BinaryFn } from './ops/binary-const.js';
export type { PadMode } from './ops/pad2d.js';
export { broadcastIndex, channelValue } from './ops/broadcast.js';
export {
  createGraph,
  param,
  sizeOf,
  getNode,
  getParam,
  nodeParam,
  consumers,
  topoSort,
  inferShapes,
  validate,
  sortNodes,
  cloneGraph,
  cloneParam,
  paramUses,
  weightParams,
} from './graph.js';
export {
  validateParam,
  setMask,
  applyMask,
  countNonzero,
  density,
  setCodebook,
  applyCodebook,
  quantRange,
  affineRange,
  quantSlot,
  quantSlots,
  quantize,
  setQuant,
  applyQuant,
  toFloat16Bits,
  fromFloat16Bits,
  setFloat16,
  applyFloat16,
  enforceAnnotations,
} from './annotations.js';
export {
  encodingOf,
  storedEncoding,
  isGrid,
  bytesPerValue,
  gridMax,
  gridValue,
  gridCode,
  nearestGridValue,
  roundToEncoding,
  gridCodes,
  float16Codes,
  encodeExactly,
  fitsStored,
  sourceBytes,
  storageRounding,
  type StoredGrid,
  type StoredEncoding,
} from './stored.js';
export { cost, paramBytes, sparseEntries, SPARSE_GAP_BITS, type CostReport, type LayerCost, type ParamBytes, type Encoding } from './cost.js';
export { channelGroups, groupOf, removeChannels, takeAlongAxis, type ChannelGroup, type ChannelSlice } from './channels.js';
export { uniqueNodeName, insertAfter, bypassNode, removeUnusedParams, shiftOutput } from './surgery.js';
export { serializeGraph, deserializeGraph, isSerializedGraph, type GraphHeader } from './serialize.js';
export { GraphBuilder, type LayerOptions, type ConvOptions } from './builder.js';
export {
  lenet300100,
  lenet5,
  vggSmall,
  resnet20,
  mobilenetV2Small,
  mobilenetV2,
  makeDivisible,
  type ResNet20Options,
  type MobileNetV2SmallOptions,
} from './models.js';
export { runReference, referenceValues, referenceForward } from './testing/reference.js';
