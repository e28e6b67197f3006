import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

const pkgDir = dirname(dirname(fileURLToPath(import.meta.url)));

it('the loader entry bundles for the browser from codec sources and @condense/files/json alone (TF.js outside), under 11 KB min+gzip', async () => {
  const r = await build({
    absWorkingDir: pkgDir,
    entryPoints: ['src/loader.ts'],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    logLevel: 'silent',
    external: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'],
    conditions: ['source'],
  });
  expect(Object.keys(r.metafile.inputs).filter((f) => !f.startsWith('src/'))).toEqual(['../files/src/json.ts']);
  const bytes = r.outputFiles[0].contents;
  const gzipped = gzipSync(bytes, { level: 9 }).length;
  console.info(`@condense/codec/loader: ${bytes.length} bytes minified, ${gzipped} bytes min+gzip (TF.js not included)`);
  expect(gzipped).toBeLessThan(11 * 1024);
});
