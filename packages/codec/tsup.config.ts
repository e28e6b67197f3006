import { defineConfig } from 'tsup';

export default defineConfig({
  // `loader` and `graph-loader` are the browser-safe entries (`@condense/codec/loader`,
  // `@condense/codec/graph-loader`): decoding core + TF.js only.
  entry: ['src/index.ts', 'src/loader.ts', 'src/graph-loader.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
