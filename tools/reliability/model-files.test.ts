/**
 * Issue 27, items 1, 2 and the model.json half of 8: a hostile model.json cannot make condense
 * read outside the model's folder, exhaust memory, or fail with a raw JS error.
 */
import { mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lenet300100 } from '@condense/ir';
import { loadModel, ModelIOError, saveModel } from '@condense/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, fingerprint, isCleanRefusal, scratch } from './helpers.js';

let tmp: Awaited<ReturnType<typeof scratch>>;
let good = '';
beforeAll(async () => {
  tmp = await scratch();
  good = join(tmp.dir, 'good');
  await saveModel(lenet300100(), good, { shardBytes: 400_000 });
});
afterAll(() => tmp.done());

/** A copy of the good model whose model.json `spoil` edits; returns its folder. */
async function spoiled(name: string, spoil: (json: any, dir: string) => Promise<void> | void): Promise<string> {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const dir = join(tmp.dir, name);
  await mkdir(dir, { recursive: true });
  const json = JSON.parse(await readFile(join(good, 'model.json'), 'utf8'));
  for (const p of json.weightsManifest[0].paths) await writeFile(join(dir, p), await readFile(join(good, p)));
  await spoil(json, dir);
  // DEEP stands for a nesting JSON.stringify itself cannot write.
  await writeFile(join(dir, 'model.json'), JSON.stringify(json).replace('"DEEP"', '['.repeat(10_000) + ']'.repeat(10_000)));
  return dir;
}

const refusal = async (dir: string) => {
  const err = await loadModel(dir).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err, 'loadModel must refuse').toBeInstanceOf(ModelIOError);
  expect(err!.message.split('\n')).toHaveLength(1);
  return err!.message;
};

describe('27.1 weight paths stay inside the model folder', () => {
  it('refuses absolute paths, .., URLs and symlinks out, naming the path; nothing outside is read into an output', async () => {
    const secret = join(tmp.dir, 'secret.bin');
    await writeFile(secret, new Uint8Array(1_066_440 - 800_000));
    const last = (j: any) => j.weightsManifest[0].paths.length - 1; // eslint-disable-line @typescript-eslint/no-explicit-any
    const absolute = await spoiled('absolute', (j) => void (j.weightsManifest[0].paths[last(j)] = secret));
    expect(await refusal(absolute)).toMatch(new RegExp(`model\\.json: weightsManifest\\[0\\]\\.paths\\[2\\] "${secret}" is an absolute path`));
    const up = await spoiled('up', (j) => void (j.weightsManifest[0].paths[last(j)] = '../secret.bin'));
    expect(await refusal(up)).toMatch(/paths\[2\] "\.\.\/secret\.bin" goes up with '\.\.'/);
    const url = await spoiled('url', (j) => void (j.weightsManifest[0].paths[last(j)] = 'file:///etc/passwd'));
    expect(await refusal(url)).toMatch(/paths\[2\] "file:\/\/\/etc\/passwd" is a URL/);
    const link = await spoiled('link', async (j, dir) => {
      await symlink(secret, join(dir, 'linked.bin'));
      j.weightsManifest[0].paths[last(j)] = 'linked.bin';
    });
    expect(await refusal(link)).toMatch(/paths\[2\] "linked\.bin" leads out of .*secret\.bin/);
    // Through the CLI: convert refuses and writes nothing.
    const r = await cli('convert', absolute, join(tmp.dir, 'converted.cir'));
    expect(isCleanRefusal(r), r.err).toBe(true);
    await expect(readFile(join(tmp.dir, 'converted.cir'))).rejects.toThrow();
  });
});

describe('27.2 shard sizes are checked before allocation', () => {
  it('refuses a shard larger (sparse 3 GiB) or smaller than the manifest needs, naming it and both sizes, without reading it', async () => {
    const dir = await spoiled('huge', () => undefined);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const shard = json.weightsManifest[0].paths[0];
    // A sparse file: no disk space, but reading it would allocate 3 GiB (and a single read call above 2^31-1 aborts Node).
    await truncate(join(dir, shard), 3 * 2 ** 30);
    const before = process.memoryUsage().rss;
    expect(await refusal(dir)).toMatch(
      new RegExp(`needs 1066440 bytes .* but its shards hold ${3 * 2 ** 30 + 666_440}: ${shard.replace('.', '\\.')} ${3 * 2 ** 30} bytes`),
    );
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 2 ** 20);
    await truncate(join(dir, shard), 10);
    expect(await refusal(dir)).toMatch(/needs 1066440 bytes .* but its shards hold 666450/);
  });
});

describe('27.8 model.json errors name the file and field', () => {
  it('a directory where a shard should be, and model.json nested 10,000 deep', async () => {
    const isDir = await spoiled('eisdir', async (j, dir) => {
      await mkdir(join(dir, 'adir.bin'));
      j.weightsManifest[0].paths[0] = 'adir.bin';
    });
    expect(await refusal(isDir)).toMatch(/model\.json: weight shard .*adir\.bin \(weightsManifest\[0\]\.paths\[0\]\) is a directory, not a file/);
    const deep = await spoiled('deep', (j) => void (j.userDefinedMetadata = 'DEEP'));
    expect(await refusal(deep)).toMatch(/model\.json: is nested more than 64 levels deep \(at userDefinedMetadata(\[0\])+\)/);
    const before = await fingerprint(deep);
    const r = await cli('inspect', deep);
    expect(isCleanRefusal(r), r.err).toBe(true);
    expect(await fingerprint(deep)).toEqual(before);
  });
});
