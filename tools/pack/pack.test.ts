import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

// Users install single packages. Pack every package as npm would publish it and install each into
// an empty project outside the monorepo with only its declared condense dependencies (the sibling
// tarballs stand in for the registry), then run a script against its public API. Missing
// dependencies, unbuilt exports or workspace-only paths fail here, and so does a package that
// must work without TF.js (ir, core, quantize, codec's encoder) pulling in any @tensorflow/*.

const root = join(import.meta.dirname, '..', '..');
const PACKAGES = readdirSync(join(root, 'packages')).filter((p) => existsSync(join(root, 'packages', p, 'package.json')));
const built = PACKAGES.every((p) => existsSync(join(root, 'packages', p, 'dist', 'index.js')));
const run = promisify(execFile);
let tarballs: Record<string, string> = {};

/** `pkg` and the condense packages it depends on, transitively (peers, even optional ones, excluded). */
function closure(pkg: string, seen = new Set<string>()): string[] {
  if (seen.has(pkg)) return [...seen];
  seen.add(pkg);
  const deps = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')).dependencies ?? {};
  for (const name of Object.keys(deps)) if (name.startsWith('@condense/')) closure(name.slice('@condense/'.length), seen);
  return [...seen];
}

/** At most a few npm installs at a time: the machine is shared. */
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

interface Project {
  dir: string;
  /** Every package npm installed (package-lock paths), nested ones included. */
  installed: string[];
  node(script: string): Promise<string>;
}

/**
 * A fresh project with the tarballs of `packages` installed. With TF.js, optional dependencies are
 * left out: the only one is @tensorflow/tfjs-node, whose install (a libtensorflow download) fails
 * offline and costs seconds; the TF.js-free projects install them, so none can sneak TF.js in.
 */
async function project(packages: string[], { withTfjs = true } = {}): Promise<Project> {
  const dir = await mkdtemp(join(tmpdir(), 'condense-pack-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  const flags = ['--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline', ...(withTfjs ? ['--omit=optional'] : [])];
  await limited(() => run('npm', ['install', ...flags, ...packages.map((p) => tarballs[p])], { cwd: dir, timeout: 300_000 }));
  const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  return {
    dir,
    installed: Object.keys(lock.packages).filter((k) => k !== ''),
    async node(script) {
      await writeFile(join(dir, 'main.mjs'), script);
      return (await run('node', ['main.mjs'], { cwd: dir, timeout: 300_000 })).stdout;
    },
  };
}

const tensorflow = (p: Project) => p.installed.filter((k) => k.includes('node_modules/@tensorflow/'));

/**
 * The start of a script that trains: `pipeline`, `finetune`, `lenet300100`, the CPU backend,
 * `runtime` (the TF.js runtime) and `data` (labelled 28x28 images, enough for a fine-tune to run).
 */
const TRAINING = `
  import { finetune, pipeline } from '@condense/core';
  import { lenet300100 } from '@condense/ir';
  import { selectBackend, tfjsRuntime } from '@condense/tfjs';
  await selectBackend('cpu');
  const runtime = tfjsRuntime();
  const split = (n) => ({ images: Float32Array.from({ length: n * 784 }, (_, i) => (i * 7919 % 97) / 97), labels: Uint8Array.from({ length: n }, (_, i) => i % 10), count: n, shape: [n, 28, 28, 1] });
  const data = { train: split(64), test: split(32) };`;

describe.skipIf(!built || process.env.CONDENSE_SKIP_PACK_TEST === '1').concurrent('installing one package', () => {
  beforeAll(async () => {
    const out = await mkdtemp(join(tmpdir(), 'condense-tarballs-'));
    for (const p of PACKAGES) execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: join(root, 'packages', p), stdio: 'ignore' });
    const files = await readdir(out);
    tarballs = Object.fromEntries(PACKAGES.map((p) => [p, join(out, files.find((f) => f.startsWith(`condense-${p}-`))!)]));
  }, 300_000);

  it('covers every package', () => {
    expect(PACKAGES.sort()).toEqual([
      'cli',
      'codec',
      'core',
      'datasets',
      'distill',
      'files',
      'ir',
      'kronecker',
      'prune',
      'quantize',
      'reconstruct',
      'search',
      'sparsity',
      'tfjs',
      'thinet',
    ]);
  });

  it('@condense/files alone writes atomically and bounds JSON trees', async () => {
    const p = await project(closure('files'), { withTfjs: false });
    expect(tensorflow(p)).toEqual([]);
    const out = await p.node(`
      import { writeFileAtomic, readBounded } from '@condense/files';
      import { treeProblem } from '@condense/files/json';
      await writeFileAtomic('out/a/b.txt', 'hello');
      console.log(new TextDecoder().decode(await readBounded('out/a/b.txt', { maxBytes: 10 })), treeProblem([[[1]]], { maxDepth: 2 }));`);
    expect(out.trim()).toBe('hello is nested more than 2 levels deep (at [0][0])');
  }, 300_000);

  it('@condense/ir alone installs no TF.js and costs a model', async () => {
    const p = await project(closure('ir'), { withTfjs: false });
    expect(tensorflow(p)).toEqual([]);
    const out = await p.node(`
      import { lenet5, cost } from '@condense/ir';
      console.log(JSON.stringify(cost(lenet5()).totals));`);
    expect(JSON.parse(out)).toMatchObject({ params: 431_080, macs: 2_293_000 });
  }, 300_000);

  it('@condense/core installs no TF.js, runs a pipeline, and refuses training without a runtime', async () => {
    const p = await project(closure('core'), { withTfjs: false });
    expect(closure('core').sort()).toEqual(['core', 'files', 'ir']);
    expect(tensorflow(p)).toEqual([]);
    const out = await p.node(`
      import { definePlugin, finetune, pipeline, Type } from '@condense/core';
      import { lenet300100 } from '@condense/ir';
      const zero = definePlugin({ name: 'user.zero', description: 'zero fc1', schema: Type.Object({}), create: () => ({ contract: {}, apply(g) { g.params.get('fc1/kernel').data.fill(0); } }) });
      const r = await pipeline([zero()]).run(lenet300100());
      let refused = '';
      try { pipeline([finetune()]).check({ data: { train: { images: new Float32Array(784), labels: new Uint8Array(1), count: 1, shape: [1, 28, 28, 1] } } }); } catch (e) { refused = e.message; }
      console.log(JSON.stringify({ nonzero: r.snapshots[1].nonzero, refused }));`);
    const r = JSON.parse(out);
    expect(r.nonzero).toBe(266_200 - 784 * 300); // the biases start at 0
    expect(r.refused).toMatch(/trains the model, and the pipeline was given no runtime: .*tfjsRuntime/);
  }, 300_000);

  it('@condense/quantize alone installs no TF.js and quantizes a graph', async () => {
    const p = await project(closure('quantize'), { withTfjs: false });
    expect(closure('quantize').sort()).toEqual(['core', 'files', 'ir', 'quantize']);
    expect(tensorflow(p)).toEqual([]);
    const out = await p.node(`
      import { pipeline } from '@condense/core';
      import { lenet300100 } from '@condense/ir';
      import { kmeansQuantize, affineQuantize } from '@condense/quantize';
      const k = await pipeline([kmeansQuantize({ bits: 5 })]).run(lenet300100());
      const a = await pipeline([affineQuantize({ bits: 8 })]).run(lenet300100());
      const fc1 = k.graph.params.get('fc1/kernel');
      console.log(JSON.stringify({ before: k.snapshots[0].bytes, kmeans: k.snapshots[1].bytes, affine: a.snapshots[1].bytes, centroids: fc1.codebook.centroids.length, distinct: new Set(fc1.data).size }));`);
    const r = JSON.parse(out);
    expect(r.centroids).toBe(32);
    expect(r.distinct).toBeLessThanOrEqual(32);
    expect(r.kmeans).toBeLessThan(r.before / 5);
    expect(r.affine).toBeLessThan(r.before / 3.5);
  }, 300_000);

  it("@condense/codec's encoder installs no TF.js and encodes, decodes and writes a container in a pipeline", async () => {
    const p = await project(closure('codec'), { withTfjs: false });
    expect(closure('codec').sort()).toEqual(['codec', 'core', 'files', 'ir']);
    expect(tensorflow(p)).toEqual([]);
    const out = await p.node(`
      import { pipeline } from '@condense/core';
      import { lenet300100 } from '@condense/ir';
      import { encodeGraph, decodeGraph, deepCompression } from '@condense/codec';
      const g = lenet300100();
      const back = decodeGraph(encodeGraph(g).bytes);
      const r = await pipeline([deepCompression({ topology: false })]).run(g);
      let refused = '';
      try { await pipeline([deepCompression()]).run(g); } catch (e) { refused = e.message; }
      console.log(JSON.stringify({ same: back.params.get('fc1/kernel').data[5] === g.params.get('fc1/kernel').data[5], file: r.artifacts['model.cdz'].length, bytes: r.snapshots[1].bytes, refused }));`);
    const r = JSON.parse(out);
    expect(r.same).toBe(true);
    expect(r.bytes).toBe(r.file);
    expect(r.refused).toMatch(/codec\.deepCompression: 'topology: true' .*needs @condense\/tfjs .*or set topology: false/);
  }, 300_000);

  it('@condense/codec with @condense/tfjs stores the topology, and its loader rebuilds the model', async () => {
    const p = await project([...closure('codec'), 'tfjs']);
    const out = await p.node(`
      import '@tensorflow/tfjs-backend-cpu';
      import * as tf from '@tensorflow/tfjs-core';
      import { pipeline } from '@condense/core';
      import { lenet300100 } from '@condense/ir';
      import { deepCompression } from '@condense/codec';
      import { loadCondenseModel } from '@condense/codec/loader';
      await tf.setBackend('cpu');
      const r = await pipeline([deepCompression()]).run(lenet300100());
      const model = await loadCondenseModel(r.artifacts['model.cdz']);
      console.log(model.predict(tf.zeros([2, 28, 28, 1])).shape.join('x'));`);
    expect(out.trim()).toBe('2x10');
  }, 300_000);

  it('@condense/tfjs loads and saves a model, and trains as the pipeline runtime', async () => {
    const p = await project(closure('tfjs'));
    const out = await p.node(`
      import { saveModel, loadModel } from '@condense/tfjs';
      import { mkdtempSync } from 'node:fs';
      ${TRAINING}
      const dir = mkdtempSync('m-');
      await saveModel(lenet300100(), dir);
      const g = await loadModel(dir);
      const r = await pipeline([finetune({ epochs: 2, batchSize: 32 })]).run(g, { data, runtime });
      console.log(JSON.stringify({ params: g.params.size, epochs: r.snapshots[1].epochs, accuracy: typeof r.snapshots[1].accuracy }));`);
    expect(JSON.parse(out)).toEqual({ params: 6, epochs: 2, accuracy: 'number' });
  }, 300_000);

  it('@condense/prune prunes and retrains through a pipeline', async () => {
    const p = await project(closure('prune'));
    const out = await p.node(`
      import { magnitudePrune } from '@condense/prune';
      ${TRAINING}
      const r = await pipeline([magnitudePrune({ sparsity: 0.9, schedule: 'iterative', rounds: 2, finetune: { epochs: 1, batchSize: 32 } })]).run(lenet300100(), { data, runtime });
      console.log(JSON.stringify({ nonzero: r.snapshots[1].nonzero, epochs: r.stages[0].epochs }));`);
    const r = JSON.parse(out);
    expect(r.nonzero).toBeLessThan(30_000);
    expect(r.epochs).toBe(2);
  }, 300_000);

  it('@condense/sparsity folds and removes neurons after an SSS fine-tune', async () => {
    const p = await project(closure('sparsity'));
    const out = await p.node(`
      import { sss } from '@condense/sparsity';
      ${TRAINING}
      const r = await pipeline([sss({ gamma: 0.5, learningRate: 0.5, structures: ['neuron'] }), finetune({ epochs: 1, batchSize: 32 })]).run(lenet300100(), { data, runtime });
      console.log(r.stages[0].notes.at(-1));`);
    expect(out).toMatch(/^sparsity\.sss: folded 2 scale nodes, removed \d+ channels \(fc1 300->\d+, fc2 100->\d+\)/);
  }, 300_000);

  it('@condense/distill distils a fine-tune', async () => {
    const p = await project(closure('distill'));
    const out = await p.node(`
      import { distillKd } from '@condense/distill';
      ${TRAINING}
      const r = await pipeline([distillKd({ temperature: 4 }), finetune({ epochs: 1, batchSize: 32 })]).run(lenet300100(1), { data, teacher: lenet300100(2), runtime });
      console.log(JSON.stringify({ epochs: r.snapshots[2].epochs, loss: r.stages[1].details.finalLoss }));`);
    const r = JSON.parse(out);
    expect(r.epochs).toBe(1);
    expect(r.loss).toBeGreaterThan(0);
  }, 300_000);

  it('@condense/kronecker factorizes a model', async () => {
    const p = await project(closure('kronecker'));
    const out = await p.node(`
      import { cost, lenet300100 } from '@condense/ir';
      import { factorizeGraph } from '@condense/kronecker';
      const g = lenet300100();
      factorizeGraph(g, { rank: 8 });
      console.log(cost(g).totals.params);`);
    expect(Number(out)).toBe(12_050);
  }, 300_000);

  it('@condense/thinet installs no TF.js, and removes channels from calibration data through the TF.js runtime', async () => {
    expect(closure('thinet').sort()).toEqual(['core', 'files', 'ir', 'thinet']);
    const p = await project([...closure('thinet'), 'tfjs']);
    const out = await p.node(`
      import { lenet5 } from '@condense/ir';
      import { thinet } from '@condense/thinet';
      ${TRAINING}
      const r = await pipeline([thinet({ layers: { conv1: 0.5 }, imagesPerClass: 2 })]).run(lenet5(), { data: { calibration: data.train }, runtime });
      console.log(r.graph.params.get('conv1/kernel').shape[3]);`);
    expect(Number(out)).toBe(10);
  }, 300_000);

  it('@condense/reconstruct installs no TF.js, quantizes a layer with GPTQ, and runs as a stage through the TF.js runtime', async () => {
    expect(closure('reconstruct').sort()).toEqual(['core', 'files', 'ir', 'reconstruct']);
    const p = await project(closure('reconstruct'), { withTfjs: false });
    expect(tensorflow(p)).toEqual([]);
    const out = await p.node(`
      import { lenet300100 } from '@condense/ir';
      import { accumulate, createStats, gptqLayer, layerSpec } from '@condense/reconstruct';
      const g = lenet300100();
      const stats = createStats(layerSpec(g, 'fc2'));
      accumulate(stats, Float32Array.from({ length: 64 * 300 }, (_, i) => Math.sin(i)), [64, 300]);
      const r = gptqLayer(g, stats, { bits: 4 });
      console.log(g.params.get('fc2/kernel').quant.bits, r.error.after < r.error.before);`);
    expect(out.trim()).toBe('4 true');
    const q = await project([...closure('reconstruct'), 'tfjs']);
    const staged = await q.node(`
      import { gptqPlugin } from '@condense/reconstruct';
      ${TRAINING}
      const r = await pipeline([gptqPlugin({ bits: 4, groupSize: 64, include: ['fc1'] })]).run(lenet300100(), { data: { calibration: data.train }, runtime });
      console.log(r.graph.params.get('fc1/kernel').quant.group.size);`);
    expect(Number(staged)).toBe(64);
  }, 300_000);

  it('@condense/datasets ships its embedded subset', async () => {
    const p = await project(closure('datasets'));
    const out = await p.node(`
      import { loadFashionMnist } from '@condense/datasets';
      const d = await loadFashionMnist({ dir: undefined });
      console.log(d.train.count + d.test.count);`);
    expect(Number(out)).toBeGreaterThan(0);
  }, 300_000);

  it('@condense/search runs recipe trials on worker threads with the plugins installed beside it, and names an unreachable Redis', async () => {
    const p = await project([...new Set([...closure('search'), 'prune'])]);
    const out = await p.node(`
      import { DEFAULT_EXECUTORS, queueRunner, recipeTrial, storeAssets, trialOutputs, workerPool } from '@condense/search';
      import { lenet300100 } from '@condense/ir';
      const pool = workerPool({ workers: 2, modules: [DEFAULT_EXECUTORS], init: { backend: 'cpu' } });
      const n = 16;
      const validation = { images: new Float32Array(n * 784).fill(0.5), labels: new Uint8Array(n), count: n, shape: [n, 28, 28, 1] };
      const assets = await storeAssets(pool.blobs, lenet300100(), { validation });
      const prune = (s) => ({ stages: [{ plugin: 'prune.magnitude', options: { layers: { fc1: s } } }] });
      const outs = trialOutputs(await pool.run([recipeTrial('a', assets, prune(0.5)), recipeTrial('b', assets, prune(0.9))]));
      await pool.close();
      let refused = '';
      await queueRunner({ url: 'redis://127.0.0.1:1' }).catch((e) => (refused = e.message));
      console.log(JSON.stringify({ nonzero: outs.map((o) => o.nonzero), refused }));`);
    const r = JSON.parse(out);
    expect(r.nonzero[0] - r.nonzero[1]).toBe(Math.round(0.9 * 784 * 300) - Math.round(0.5 * 784 * 300));
    expect(r.refused).toMatch(/^cannot reach Redis at redis:\/\/127.0.0.1:1: connection refused/);
  }, 300_000);

  it('@condense/cli compresses a model from a recipe, training through the TF.js runtime', async () => {
    const p = await project(closure('cli'));
    await writeFile(join(p.dir, 'recipe.yaml'), 'stages:\n  - prune.magnitude: { sparsity: 0.5 }\n  - finetune: { epochs: 1 }\n');
    const out = await p.node(`
      import { saveModel } from '@condense/tfjs';
      import { lenet300100 } from '@condense/ir';
      import { execFileSync } from 'node:child_process';
      import { readFileSync } from 'node:fs';
      await saveModel(lenet300100(), 'model');
      execFileSync('npx', ['condense', 'compress', '--recipe', 'recipe.yaml', '--model', 'model', '--out', 'out', '--data', 'node_modules/@condense/datasets/data/fashion-mnist-subset', '--limit-train', '256', '--limit-test', '128', '--backend', 'cpu', '--quiet'], { stdio: 'ignore' });
      const report = JSON.parse(readFileSync('out/report.json', 'utf8'));
      console.log(JSON.stringify(report.stages.map((s) => [s.stage, s.epochs])));`);
    expect(JSON.parse(out)).toEqual([
      ['input', 0],
      ['prune.magnitude', 0],
      ['finetune', 1],
    ]);
  }, 300_000);
});
