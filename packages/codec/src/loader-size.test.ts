import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

const pkgDir = dirname(dirname(fileURLToPath(import.meta.url)));

/** The entry bundled for the browser with TF.js outside: the files it pulls in and its min+gzip size. */
async function bundle(entry: string, external: string[]): Promise<{ inputs: string[]; bytes: number; gzipped: number }> {
  const r = await build({
    absWorkingDir: pkgDir,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    logLevel: 'silent',
    external,
    conditions: ['source'],
  });
  const bytes = r.outputFiles[0].contents;
  return { inputs: Object.keys(r.metafile.inputs).filter((f) => !f.startsWith('src/')), bytes: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length };
}

it('the loader entry bundles for the browser from codec sources and @condense/files/json alone (TF.js outside), under 11 KB min+gzip', async () => {
  const b = await bundle('src/loader.ts', ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers']);
  expect(b.inputs).toEqual(['../files/src/json.ts']);
  console.info(`@condense/codec/loader: ${b.bytes} bytes minified, ${b.gzipped} bytes min+gzip (TF.js not included)`);
  expect(b.gzipped).toBeLessThan(11 * 1024);
});

it('the graph-model loader entry bundles for the browser from codec sources, @condense/files/json and @condense/ir/order alone (TF.js outside), under 11 KB min+gzip', async () => {
  const b = await bundle('src/graph-loader.ts', ['@tensorflow/tfjs-core', '@tensorflow/tfjs-converter']);
  expect(b.inputs.sort()).toEqual(['../files/src/json.ts', '../ir/src/order.ts']);
  console.info(`@condense/codec/graph-loader: ${b.bytes} bytes minified, ${b.gzipped} bytes min+gzip (TF.js not included)`);
  expect(b.gzipped).toBeLessThan(11 * 1024);
});
