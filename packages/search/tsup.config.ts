import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/thread.ts', 'src/executors.ts'],
  format: ['esm'],
  dts: { entry: ['src/index.ts', 'src/executors.ts'] },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
