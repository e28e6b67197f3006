/**
 * Memory of importing and exporting a model with 100 MB of float32 weights. Opt-in (it writes
 * 200 MB of files and takes a few seconds):
 *
 *   CONDENSE_MEMORY_TEST=1 npx vitest run packages/tfjs/src/io/memory.test.ts
 *
 * Prints peak RSS over the baseline (process.resourceUsage().maxRSS) and asserts both stay
 * within 3x the weight bytes. No TF.js is loaded: import/export do not need it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from './index.js';
import { tempDir } from './test-helpers.js';

const LAYERS = 4;
const WIDTH = 2500; // 4 dense layers of 2500 x 2500 float32 = 100 MB of kernels
const SHARD = 4 * 1024 * 1024;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const rss = () => process.memoryUsage().rss;
const maxRss = () => process.resourceUsage().maxRSS * 1024;

/** Write model.json + 4 MB shards of a dense stack shard by shard, so the fixture never holds the weights. */
async function writeBigModel(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const layers = Array.from({ length: LAYERS }, (_, i) => ({
    class_name: 'Dense',
    config: {
      name: `d${i}`,
      units: WIDTH,
      activation: i < LAYERS - 1 ? 'relu' : 'linear',
      use_bias: true,
      ...(i === 0 ? { batch_input_shape: [null, WIDTH] } : {}),
    },
  }));
  const weights = layers.flatMap((l) => [
    { name: `${l.config.name}/kernel`, shape: [WIDTH, WIDTH], dtype: 'float32' },
    { name: `${l.config.name}/bias`, shape: [WIDTH], dtype: 'float32' },
  ]);
  const total = LAYERS * (WIDTH * WIDTH + WIDTH) * 4;
  const n = Math.ceil(total / SHARD);
  const paths: string[] = [];
  let seed = 1;
  for (let i = 0; i < n; i++) {
    const len = Math.min(SHARD, total - i * SHARD);
    const f = new Float32Array(len / 4);
    for (let j = 0; j < f.length; j++) f[j] = ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.05;
    paths.push(`group1-shard${i + 1}of${n}.bin`);
    await writeFile(join(dir, paths[i]), f);
  }
  const json = {
    format: 'layers-model',
    modelTopology: { class_name: 'Sequential', config: { name: 'big', layers }, keras_version: 'tfjs-layers 4.22.0' },
    weightsManifest: [{ paths, weights }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  return total;
}

async function hashFiles(files: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) for await (const chunk of createReadStream(f)) h.update(chunk as Buffer);
  return h.digest('hex');
}

describe.skipIf(!process.env.CONDENSE_MEMORY_TEST)('memory of a 100 MB model', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(() => tmp?.done());

  it('imports and exports within 3x the weight bytes', async () => {
    const src = join(tmp.dir, 'src');
    const weightBytes = await writeBigModel(src);
    gc();
    const base = rss();
    const peakBefore = maxRss();

    let t = performance.now();
    const graph = await loadModel(src);
    const importMs = performance.now() - t;
    const importPeak = maxRss() - base;
    const afterImport = process.memoryUsage();

    t = performance.now();
    const out = join(tmp.dir, 'out');
    const saved = await saveModel(graph, out);
    const exportMs = performance.now() - t;
    const exportPeak = maxRss() - base;

    const line = [
      `weights ${mb(weightBytes)} MB in ${graph.params.size} params`,
      `baseline RSS ${mb(base)} MB (earlier peak ${mb(peakBefore)} MB)`,
      `import: ${importMs.toFixed(0)} ms, peak RSS +${mb(importPeak)} MB (${(importPeak / weightBytes).toFixed(2)}x), after: heap ${mb(afterImport.heapUsed)} MB, arrayBuffers ${mb(afterImport.arrayBuffers)} MB`,
      `export: ${exportMs.toFixed(0)} ms, peak RSS with the graph held +${mb(exportPeak)} MB (${(exportPeak / weightBytes).toFixed(2)}x), ${saved.files.length} files, ${mb(saved.bytes)} MB`,
    ];
    console.log(`[io memory]\n  ${line.join('\n  ')}`);

    // The exported shards hold the same float32 bytes in the same order as the source shards.
    const shardsOf = (dir: string, files: string[]) => files.filter((f) => f.endsWith('.bin')).map((f) => join(dir, f.slice(f.lastIndexOf('/') + 1)));
    const srcFiles = Array.from({ length: Math.ceil(weightBytes / SHARD) }, (_, i) => `group1-shard${i + 1}of${Math.ceil(weightBytes / SHARD)}.bin`);
    expect(await hashFiles(shardsOf(out, saved.files))).toBe(await hashFiles(shardsOf(src, srcFiles)));
    expect(peakBefore).toBeLessThan(base + weightBytes); // else the peaks below would be masked
    expect(importPeak).toBeLessThan(3 * weightBytes);
    expect(exportPeak).toBeLessThan(3 * weightBytes);
  });
});
