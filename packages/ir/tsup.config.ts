import { defineConfig } from 'tsup';

export default defineConfig({
  // `activations` is the activation table alone (no side effects), for app runtimes such as @condense/kronecker/runtime;
  // `order` the dependency order alone, for the codec's browser graph loader.
  entry: { index: 'src/index.ts', activations: 'src/ops/activations.ts', order: 'src/order.ts' },
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
