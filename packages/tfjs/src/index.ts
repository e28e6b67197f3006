export * from './io/index.js';
export * from './exec/index.js';
export * from './train/index.js';
export * from './backend/index.js';
export * from './graph-model/index.js';
export { tfjsRuntime, asTfjsContribution, measureLatency, type TfjsRuntimeOptions } from './runtime.js';
export * from './distill/index.js';
export { registerKerasLayer, type KerasLayerRegistration } from './custom-layer.js';
