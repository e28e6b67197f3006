import { defineConfig } from 'tsup';

export default defineConfig({
  // `wasm-grads` is a side-effect entry any tfjs program can import to train convs on WASM;
  // `activations` is the activation kernels alone, for app runtimes (@condense/kronecker/runtime);
  // `testing` is stock TF.js on model files (Keras 3 exports included), for tests and benchmarks.
  entry: { index: 'src/index.ts', 'wasm-grads': 'src/backend/wasm-grads.ts', activations: 'src/exec/activations.ts', testing: 'src/testing/index.ts' },
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  external: ['@tensorflow/tfjs-node'],
});
