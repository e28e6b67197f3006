/**
 * Importing this module registers the Kronecker ops everywhere condense needs them: the IR ops
 * (ir.ts), their TF.js kernels (kernels.ts) and their Keras layers (keras.ts).
 */
import './ir.js';
import './kernels.js';
import './keras.js';

export { KRONECKER_OPS } from './ir.js';
