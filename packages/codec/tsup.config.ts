import { defineConfig } from 'tsup';

export default defineConfig({
  // `loader` is the browser-safe entry (`@condense/codec/loader`): decoding core + TF.js only.
  entry: ['src/index.ts', 'src/loader.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
