import { defineConfig } from 'tsup';

export default defineConfig({
  // `runtime` is the small entry apps import before loading a model with KroneckerDense layers.
  entry: ['src/index.ts', 'src/runtime.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // The runtime layers extend tfjs-layers' Layer: one shared copy with the app's TF.js, never bundled.
  external: ['@tensorflow/tfjs-layers'],
});
