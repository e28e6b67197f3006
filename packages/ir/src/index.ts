export type * from './types.js';
export { GraphError, formatShape } from './errors.js';
export { rng, gaussian, shuffle } from './random.js';
export {
  registerOp, getOp, hasOp, registeredOps, fail, paramSpecOf, kernelAxis, arityAllows,
  type OpDef, type RefTensor, type OpContext, type ParamSpec, type ParamAxis, type ChannelFlow, type ChannelValues, type ScalePass,
} from './ops/registry.js';
export {
  ACTIVATIONS, KERAS_ACTIVATION_IDS, isActivation, activationDef, activationAlpha, activationFacts, activationScalePass, activationScalar,
  referenceActivation, fromKerasActivation, kerasActivationId,
  type ActivationFn, type ActivationDef, type ActivationAttrs, type ActivationFacts,
} from './ops/activations.js';
export { windowOut, zeroPadding, strides2, dilation2, pool2, type Padding } from './ops/builtin.js';
import './ops/constant.js';
import './ops/identity.js';
import './ops/prelu.js';
import './ops/bias-add.js';
import './ops/resize2d.js';
import './ops/depth-to-space.js';
import './ops/conv2d-transpose.js';
import './ops/pad2d.js';
import './ops/binary-const.js';
export { BINARY_FNS, type BinaryFn } from './ops/binary-const.js';
export type { PadMode } from './ops/pad2d.js';
export { broadcastIndex, channelValue } from './ops/broadcast.js';
export {
  createGraph, param, sizeOf, getNode, getParam, nodeParam, consumers, topoSort, inferShapes, validate,
  sortNodes, cloneGraph, cloneParam, paramUses, weightParams,
} from './graph.js';
export {
  validateParam, setMask, applyMask, countNonzero, density, setCodebook, applyCodebook, quantRange, affineRange, quantSlot, quantize,
  setQuant, applyQuant, toFloat16Bits, fromFloat16Bits, setFloat16, applyFloat16, enforceAnnotations,
} from './annotations.js';
export { cost, paramBytes, sparseEntries, SPARSE_GAP_BITS, type CostReport, type LayerCost, type ParamBytes, type Encoding } from './cost.js';
export { channelGroups, groupOf, removeChannels, takeAlongAxis, type ChannelGroup, type ChannelSlice } from './channels.js';
export { uniqueNodeName, insertAfter, bypassNode, removeUnusedParams } from './surgery.js';
export { serializeGraph, deserializeGraph, isSerializedGraph, type GraphHeader } from './serialize.js';
export { GraphBuilder, type LayerOptions, type ConvOptions } from './builder.js';
export { lenet300100, lenet5, vggSmall } from './models.js';
export { runReference, referenceValues } from './testing/reference.js';
