export { compile, type CompiledModel, type CompileOptions, type PredictOptions, type PredictResult, type BoundParam } from './compile.js';
export { registerKernel, getKernel, hasKernel, registeredKernels, type Kernel, type KernelContext, type KernelOptions, type KernelEntry } from './kernels.js';
export { activate } from './activations.js';
export { registerBuiltinKernels } from './builtin.js';
export { forwardNodes } from './forward.js';
