import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/thread.ts', 'src/executors.ts', 'src/testing.ts'],
  format: ['esm'],
  dts: { entry: ['src/index.ts', 'src/executors.ts', 'src/testing.ts'] },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
