import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

// Users install single packages. Pack each package as npm would publish it and install it into an
// empty project outside the monorepo with only its declared dependencies (the sibling tarballs
// stand in for the registry), then run a script against its public API. Missing dependencies,
// unbuilt exports or workspace-only paths fail here.

const root = join(import.meta.dirname, '..', '..');
const PACKAGES = ['files', 'ir', 'tfjs', 'core', 'datasets', 'prune', 'quantize', 'codec'];
const built = PACKAGES.every((p) => existsSync(join(root, 'packages', p, 'dist', 'index.js')));
let tarballs: Record<string, string> = {};

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

/** A fresh project with `pkg` and the tarballs of the condense packages it depends on, installed. */
async function project(deps: string[], script: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'condense-pack-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...deps.map((d) => tarballs[d])], dir);
  await writeFile(join(dir, 'main.mjs'), script);
  return sh('node', ['main.mjs'], dir);
}

describe.skipIf(!built || process.env.CONDENSE_SKIP_PACK_TEST === '1')('installing one package', () => {
  beforeAll(async () => {
    const out = await mkdtemp(join(tmpdir(), 'condense-tarballs-'));
    for (const p of PACKAGES) sh('npm', ['pack', '--silent', '--pack-destination', out], join(root, 'packages', p));
    const files = await readdir(out);
    tarballs = Object.fromEntries(PACKAGES.map((p) => [p, join(out, files.find((f) => f.startsWith(`condense-${p}-`))!)]));
  }, 300_000);

  it('@condense/ir alone builds and costs a model', async () => {
    const out = await project(['ir'], `
      import { lenet5, cost } from '@condense/ir';
      console.log(JSON.stringify(cost(lenet5()).totals));`);
    expect(JSON.parse(out)).toMatchObject({ params: 431_080, macs: 2_293_000 });
  }, 300_000);

  it('@condense/tfjs loads and saves a model', async () => {
    const out = await project(['files', 'ir', 'tfjs'], `
      import { lenet300100 } from '@condense/ir';
      import { saveModel, loadModel } from '@condense/tfjs';
      import { mkdtempSync } from 'node:fs';
      const dir = mkdtempSync('m-');
      await saveModel(lenet300100(), dir);
      const g = await loadModel(dir);
      console.log(g.params.size);`);
    expect(out.trim()).toBe('6');
  }, 300_000);

  it('@condense/prune with its dependencies prunes a model through a pipeline', async () => {
    const out = await project(['files', 'ir', 'tfjs', 'core', 'prune'], `
      import { lenet300100 } from '@condense/ir';
      import { pipeline } from '@condense/core';
      import { magnitudePrune } from '@condense/prune';
      const r = await pipeline([magnitudePrune({ sparsity: 0.9 })]).run(lenet300100());
      console.log(r.snapshots[1].nonzero);`);
    expect(Number(out)).toBeLessThan(30_000);
  }, 300_000);

  it('@condense/files alone writes atomically and bounds JSON trees', async () => {
    const out = await project(['files'], `
      import { writeFileAtomic, readBounded } from '@condense/files';
      import { treeProblem } from '@condense/files/json';
      await writeFileAtomic('out/a/b.txt', 'hello');
      console.log(new TextDecoder().decode(await readBounded('out/a/b.txt', { maxBytes: 10 })), treeProblem([[[1]]], { maxDepth: 2 }));`);
    expect(out.trim()).toBe('hello is nested more than 2 levels deep (at [0][0])');
  }, 300_000);

  it('@condense/datasets ships its embedded subset', async () => {
    const out = await project(['datasets'], `
      import { loadFashionMnist } from '@condense/datasets';
      const d = await loadFashionMnist({ dir: undefined });
      console.log(d.train.count + d.test.count);`);
    expect(Number(out)).toBeGreaterThan(0);
  }, 300_000);

  it('@condense/codec encodes and decodes, and its loader entry exists', async () => {
    const out = await project(['files', 'ir', 'tfjs', 'core', 'codec'], `
      import { lenet300100 } from '@condense/ir';
      import { encodeGraph, decodeGraph } from '@condense/codec';
      import { loadCondenseModel } from '@condense/codec/loader';
      const g = lenet300100();
      const back = decodeGraph(encodeGraph(g).bytes);
      console.log(typeof loadCondenseModel, back.params.get('fc1/kernel').data[5] === g.params.get('fc1/kernel').data[5]);`);
    expect(out.trim()).toBe('function true');
  }, 300_000);
});
