import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder, registerOp } from '@condense/ir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from './index.js';
import { artifactsOf, loadStock, maxAbsDiff, predict, randomInput, randomizeWeights, tempDir, tfl, useCpu, writeModelFiles } from './test-helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let model: tfl.LayersModel;
let src: string;
beforeAll(async () => {
  await useCpu();
  tmp = await tempDir();
  const seq = tfl.sequential();
  seq.add(tfl.layers.dense({ inputShape: [50], units: 30, activation: 'relu', name: 'a' }));
  seq.add(tfl.layers.dense({ units: 4, name: 'b' }));
  model = seq;
  randomizeWeights(model);
  src = join(tmp.dir, 'src');
  await writeModelFiles(src, await artifactsOf(model), 3000);
});
afterAll(() => tmp.done());

async function fingerprint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) {
    const s = await stat(join(dir, f));
    out[f] = `${createHash('sha256')
      .update(await readFile(join(dir, f)))
      .digest('hex')}@${s.mtimeMs}`;
  }
  return out;
}

async function expectSamePredictions(dir: string) {
  const x = randomInput(model);
  expect(maxAbsDiff(predict(await loadStock(dir), x), predict(model, x))).toBeLessThan(1e-5);
}

describe('files', () => {
  it('loads from the directory or the model.json path, and never touches the input files', async () => {
    const before = await fingerprint(src);
    const g1 = await loadModel(src);
    const g2 = await loadModel(join(src, 'model.json'));
    expect(g2.nodes).toEqual(g1.nodes);
    // Params view the loaded bytes: changing them changes neither the files nor the other graph.
    g1.params.get('a/kernel')!.data.fill(0);
    expect(g2.params.get('a/kernel')!.data.some((v) => v !== 0)).toBe(true);
    expect(await fingerprint(src)).toEqual(before);
  });

  it('writes shards of at most shardBytes with TF.js names', async () => {
    const out = join(tmp.dir, 'sharded');
    const r = await saveModel(await loadModel(src), out, { shardBytes: 2500 });
    const weightBytes = (50 * 30 + 30 + 30 * 4 + 4) * 4;
    const n = Math.ceil(weightBytes / 2500);
    expect(r.files).toEqual([join(out, 'model.json'), ...Array.from({ length: n }, (_, i) => join(out, `group1-shard${i + 1}of${n}.bin`))]);
    expect((await readdir(out)).sort()).toEqual(['model.json', ...Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`)].sort());
    expect(r.bytes).toBe((await Promise.all(r.files.map((f) => stat(f)))).reduce((a, s) => a + s.size, 0));
    await expectSamePredictions(out);
    expect(await readdir(tmp.dir)).not.toContainEqual(expect.stringContaining('.tmp-'));
  });

  it('replaces a model in an existing directory, keeping unrelated files and removing the old shards', async () => {
    const out = join(tmp.dir, 'existing');
    await saveModel(await loadModel(src), out, { shardBytes: 1000 });
    await writeFile(join(out, 'notes.txt'), 'keep me');
    const oldShards = (await readdir(out)).filter((f) => f.endsWith('.bin'));
    expect(oldShards.length).toBeGreaterThan(3);
    const r = await saveModel(await loadModel(src), out, { shardBytes: 4000 });
    const now = (await readdir(out)).sort();
    const shards = r.files.slice(1).map((f) => f.slice(out.length + 1));
    // New names never collide with the shards the old model.json used, so it stayed valid until the switch.
    expect(shards.every((s) => !oldShards.includes(s))).toBe(true);
    expect(now).toEqual(['model.json', 'notes.txt', ...shards].sort());
    expect(await readFile(join(out, 'notes.txt'), 'utf8')).toBe('keep me');
    await expectSamePredictions(out);
    // Saving over the directory the graph was loaded from works too (the weights were read into memory).
    const g = await loadModel(out);
    await saveModel(g, out);
    await expectSamePredictions(out);
    expect(await readdir(tmp.dir)).not.toContainEqual(expect.stringContaining('.tmp-'));
  });

  it('writes a model without weights (no shards) that stock tfjs loads', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.flatten({ inputShape: [2, 3] }));
    m.add(tfl.layers.activation({ activation: 'sigmoid' }));
    const dir = join(tmp.dir, 'noweights');
    await writeModelFiles(dir, await artifactsOf(m));
    const out = join(tmp.dir, 'noweights-out');
    const r = await saveModel(await loadModel(dir), out);
    expect(r.files).toEqual([join(out, 'model.json')]);
    const x = randomInput(m);
    expect(maxAbsDiff(predict(await loadStock(out), x), predict(m, x))).toBeLessThan(1e-6);
  });

  it('leaves nothing behind when the export fails', async () => {
    registerOp({ op: 'filesTestOp', arity: 1, inferShape: (ctx) => ctx.inputs[0], channels: { kind: 'elementwise' } });
    const b = new GraphBuilder('g', [3]).dense(2, { name: 'fc' });
    b.add('filesTestOp', ['fc'], {}, {}, 'odd');
    const out = join(tmp.dir, 'failed');
    await expect(saveModel(b.build(), out)).rejects.toThrow(/node 'odd' \(op 'filesTestOp'\)/);
    expect(await readdir(tmp.dir)).not.toContain('failed');
    expect(await readdir(tmp.dir)).not.toContainEqual(expect.stringContaining('.tmp-'));
    await expect(saveModel(await loadModel(src), join(src, 'model.json'))).rejects.toThrow(/model\.json exists and is not a directory/);
    await expect(saveModel(await loadModel(src), out, { shardBytes: 0 })).rejects.toThrow(/shardBytes must be a positive integer/);
  });
});
