import { mkdtemp, readdir, readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lenet300100, setMask } from '@condense/ir';
import { saveModel } from '@condense/tfjs';
import { main } from './main.js';

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function savedModel(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'condense-cli-'));
  const g = lenet300100();
  const k = g.params.get('fc1/kernel')!;
  setMask(
    k,
    Uint8Array.from({ length: k.data.length }, (_, i) => (i % 10 === 0 ? 1 : 0)),
  );
  await saveModel(g, join(dir, 'model'));
  return dir;
}

describe('condense CLI', () => {
  it('prints help and exits 2 without a command, 0 with --help', async () => {
    expect((await run([])).code).toBe(2);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['demo', 'compress', 'inspect', 'convert', 'schema', 'report']) expect(help.out).toContain(c);
    const sub = await run(['compress', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.out).toContain('--recipe');
  });

  it('exits 2 on usage errors', async () => {
    expect((await run(['nope'])).code).toBe(2);
    const bad = await run(['inspect', '--no-such-flag']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Unknown option/);
  });

  it('inspect --json reports layers and totals', async () => {
    const dir = await savedModel();
    const r = await run(['inspect', join(dir, 'model'), '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.totals.params).toBe(266_610);
    expect(j.totals.macs).toBe(266_200);
    expect(j.totals.nonzero).toBeLessThan(266_610 - 200_000);
    expect(j.layers.find((l: { name: string }) => l.name === 'fc1')).toMatchObject({ op: 'dense', params: 235_500 });
    const text = await run(['inspect', join(dir, 'model')]);
    expect(text.out).toMatch(/fc1\s+dense/);
  });

  it("inspect on a graph model: per-node ops, the opaque TF ops with counts, and the weight file's bytes", async () => {
    const dir = fileURLToPath(new URL('../../tfjs/src/io/fixtures/graph/nms', import.meta.url));
    const j = JSON.parse((await run(['inspect', dir, '--json'])).out);
    expect(j.opaque).toMatchObject({ StridedSlice: 4, NonMaxSuppressionV3: 1, Where: 1, GatherV2: 2 });
    expect(j.layers.find((l: { name: string }) => l.name === 'StatefulPartitionedCall/Relu')).toMatchObject({
      op: 'conv2d',
      shape: [null, 8, 8, 8],
      params: 224,
      macs: 13_824,
    });
    expect(j.layers.find((l: { name: string }) => l.name === 'StatefulPartitionedCall/Where')).toMatchObject({ op: 'Where', opaque: true, shape: null });
    // Every byte of the weight file: float weights by their encoding, int32 constants included.
    expect(j.totals.bytes).toBe((await stat(join(dir, 'group1-shard1of1.bin'))).size);
    const text = (await run(['inspect', dir])).out;
    expect(text).toMatch(/StatefulPartitionedCall\/Where\s+Where \(tf\)\s+\?/);
    expect(text).toMatch(/opaque \(run by TF\.js.*\): \d+ nodes, .*NonMaxSuppressionV3 x1/);
  });

  it('exits 1 with a one-line message on a user error, stack only with --verbose', async () => {
    const r = await run(['inspect', '/nonexistent/model.json']);
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toContain('/nonexistent/model.json');
    const dir = await mkdtemp(join(tmpdir(), 'condense-cli-'));
    await writeFile(join(dir, 'model.json'), '{"modelTopology": ');
    const v = await run(['inspect', join(dir, 'model.json'), '--verbose']);
    expect(v.code).toBe(1);
    expect(v.err).toContain('model.json');
    expect(v.err.split('\n').length).toBeGreaterThan(1);
  });

  it('converts model.json -> .cir -> .cdz -> model.json losslessly', async () => {
    const dir = await savedModel();
    expect((await run(['convert', join(dir, 'model'), join(dir, 'm.cir')])).code).toBe(0);
    expect((await run(['convert', join(dir, 'm.cir'), join(dir, 'm.cdz')])).code).toBe(0);
    const back = await run(['convert', join(dir, 'm.cdz'), join(dir, 'back')]);
    expect(back.code, back.err).toBe(0);
    const a = JSON.parse((await run(['inspect', join(dir, 'model'), '--json'])).out);
    const b = JSON.parse((await run(['inspect', join(dir, 'back'), '--json'])).out);
    expect(b.totals).toEqual(a.totals);
    const c = JSON.parse((await run(['inspect', join(dir, 'm.cdz'), '--json'])).out);
    expect(c.totals.nonzero).toBe(a.totals.nonzero);
    expect((await run(['convert', join(dir, 'm.cir'), join(dir, 'm.cdz')])).code).toBe(1); // exists, no --force
  });

  it('compress refuses a non-empty output directory without --force and never touches the input', async () => {
    const dir = await savedModel();
    const out = join(dir, 'out');
    await mkdir(out);
    await writeFile(join(out, 'keep.txt'), 'x');
    await writeFile(join(dir, 'r.yaml'), 'stages:\n  - prune.magnitude: { sparsity: 0.5 }\n');
    const r = await run(['compress', '--recipe', join(dir, 'r.yaml'), '--model', join(dir, 'model'), '--out', out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not empty; pass --force/);
    const inPlace = await run(['compress', '--recipe', join(dir, 'r.yaml'), '--model', join(dir, 'model'), '--out', join(dir, 'model')]);
    expect(inPlace.code).toBe(1);
    expect(inPlace.err).toMatch(/would replace the model .*; choose another directory/);
    expect(await readdir(out)).toEqual(['keep.txt']);
  });

  it('compress with a search.budget stage writes the recipe it chose, which reproduces the model without searching', async () => {
    const dir = await savedModel();
    await writeFile(
      join(dir, 'search.yaml'),
      'stages:\n  - search.budget: { target: size=4x, levels: { prune: [0.5, 0.9], bits: [5] }, samples: 100, steps: 1 }\n',
    );
    const common = ['--model', join(dir, 'model'), '--data', 'fashion-mnist', '--limit-train', '600', '--limit-test', '100', '--backend', 'cpu', '--quiet'];
    const r = await run(['compress', '--recipe', join(dir, 'search.yaml'), ...common, '--out', join(dir, 'a'), '--workers', '1']);
    expect(r.code, r.err).toBe(0);
    // 4x of what the input file stores (266,610 float32 weights), as the stage table's `vs input`.
    expect(r.out).toContain('target size=4x: 1.07 MB -> at most 266.6 kB;');
    // Kernel bytes add up exactly over layers: the curves predict what the combination measures.
    const [, predicted, measured] = /predicted (\S+ kB).*measured one-shot (\S+ kB)/.exec(r.out) ?? [];
    expect(measured).toBe(predicted);
    expect(r.out).toMatch(/max drop 1 points: (met|MISSED) on the test data/);
    const chosen = await readFile(join(dir, 'a', 'recipe.yaml'), 'utf8');
    expect(chosen).toMatch(/^name: recipe \(chosen by search.budget\)\nstages:\n {2}- prune.magnitude:/);
    const again = await run(['compress', '--recipe', join(dir, 'a', 'recipe.yaml'), ...common, '--out', join(dir, 'b')]);
    expect(again.code, again.err).toBe(0);
    const bytes = async (d: string) => JSON.parse(await readFile(join(dir, d, 'report.json'), 'utf8')).stages.at(-1).bytes;
    expect(await bytes('b')).toBe(await bytes('a'));
    expect(await bytes('a')).toBeLessThanOrEqual(JSON.parse(await readFile(join(dir, 'a', 'report.json'), 'utf8')).stages[0].bytes / 4);
    const wrong = await run(['compress', '--recipe', join(dir, 'a', 'recipe.yaml'), ...common, '--out', join(dir, 'c'), '--target', 'size=2x']);
    expect(wrong.err).toMatch(/recipe.yaml has no search.budget stage for --target/);
    const bad = await run(['compress', '--target', 'size=2', ...common, '--out', join(dir, 'd')]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--target|target: 'size=2': no unit/);
  });

  it('compress --target size=Nx writes a container that meets the target, beside the recipe it chose', async () => {
    const dir = await savedModel();
    const common = ['--model', join(dir, 'model'), '--data', 'fashion-mnist', '--limit-train', '600', '--limit-test', '100', '--backend', 'cpu', '--quiet'];
    const r = await run(['compress', '--target', 'size=8x', '--max-drop', '5', '--epochs', '0', ...common, '--out', join(dir, 'out'), '--workers', '1']);
    expect(r.code, r.err).toBe(0);
    const files = await readdir(join(dir, 'out'));
    expect(files).toEqual(expect.arrayContaining(['model.cdz', 'model.json', 'recipe.yaml', 'report.json']));
    const input = (await stat(join(dir, 'model', 'group1-shard1of1.bin'))).size;
    expect((await stat(join(dir, 'out', 'model.cdz'))).size).toBeLessThanOrEqual(input / 8);
    expect(await readFile(join(dir, 'out', 'recipe.yaml'), 'utf8')).toMatch(/- codec.deepCompression/);
  });

  it('schema prints a JSON Schema over the installed plugins', async () => {
    const r = await run(['schema']);
    expect(r.code, r.err).toBe(0);
    const names = JSON.parse(r.out).properties.stages.items.anyOf.flatMap((s: { properties?: object }) => Object.keys(s.properties ?? {}));
    expect(names).toEqual(expect.arrayContaining(['finetune', 'prune.magnitude', 'quantize.kmeans', 'codec.deepCompression']));
  });
});
