import { defineConfig } from 'tsup';

export default defineConfig({
  // `activations` is the activation table alone (no side effects), for app runtimes such as @condense/kronecker/runtime.
  entry: { index: 'src/index.ts', activations: 'src/ops/activations.ts' },
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
