import { execFileSync, spawnSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileError,
  cleanStaleTemps,
  confinedPathProblem,
  isWithin,
  readBounded,
  readInto,
  realPathOf,
  replaceDir,
  resolveInside,
  tempOwner,
  tempPath,
  treeProblem,
  writeFileAtomic,
} from './index.js';

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'condense-files-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const sub = async (name: string) => {
  const d = join(root, name);
  await mkdir(d, { recursive: true });
  return d;
};

/** A process id that is certainly not running any more. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;

describe('writeFileAtomic', () => {
  it('creates missing folders, writes the whole file and leaves no temporary behind', async () => {
    const file = join(root, 'a', 'b', 'out.bin');
    await writeFileAtomic(file, Uint8Array.of(1, 2, 3));
    expect([...(await readFile(file))]).toEqual([1, 2, 3]);
    await writeFileAtomic(file, 'text');
    expect(await readFile(file, 'utf8')).toBe('text');
    expect(await readdir(join(root, 'a', 'b'))).toEqual(['out.bin']);
  });

  it('names the file in a one-line error (a folder in the way)', async () => {
    const dir = await sub('in-the-way');
    await expect(writeFileAtomic(dir, 'x')).rejects.toThrow(new RegExp(`^${dir}: cannot write \\(`));
    expect(await readdir(root)).not.toContainEqual(expect.stringContaining('condense-tmp'));
  });
});

describe('temporaries', () => {
  it('are recognised by their own naming only', () => {
    const t = tempPath('/x/model.cdz');
    expect(t).toMatch(/^\/x\/\.model\.cdz\.condense-tmp-\d+-[0-9a-f]{8}$/);
    expect(tempOwner(t.split('/').at(-1)!)).toBe(process.pid);
    for (const other of ['model.cdz', '.model.cdz.tmp-123', '.x.condense-tmp-12-zz', 'x.condense-tmp-12-0123abcd']) expect(tempOwner(other)).toBeUndefined();
  });

  it("removes a dead process's temporaries on the next write, keeping live ones and other files", async () => {
    const dir = await sub('stale');
    const dead = join(dir, `.out.condense-tmp-${deadPid()}-0123abcd`);
    const live = join(dir, `.out.condense-tmp-${process.pid}-89abcdef`);
    await mkdir(dead);
    await writeFile(join(dead, 'big.bin'), new Uint8Array(1000));
    await writeFile(live, 'in use');
    await writeFile(join(dir, '.hidden'), 'mine');
    await writeFileAtomic(join(dir, 'new.txt'), 'x');
    expect((await readdir(dir)).sort()).toEqual(['.hidden', live.split('/').at(-1), 'new.txt'].sort());
    expect(await cleanStaleTemps(dir)).toEqual([]);
  });
});

describe('replaceDir', () => {
  it('creates the target with the umask mode (not 0700)', async () => {
    const ref = join(root, 'mode-ref');
    await mkdir(ref);
    const out = join(root, 'mode-out');
    await replaceDir(out, async (d) => writeFile(join(d, 'f'), 'x'));
    expect((await stat(out)).mode & 0o777).toBe((await stat(ref)).mode & 0o777);
  });

  it('replaces every entry, moves `last` entries last, and the target never disappears', async () => {
    const out = await sub('replace');
    for (let i = 0; i < 50; i++) await writeFile(join(out, `old${i}.bin`), 'old');
    await writeFile(join(out, 'model.json'), 'old');
    let missing = 0;
    let polls = 0;
    let done = false;
    const poll = (async () => {
      while (!done) {
        polls++;
        if (
          !(await stat(out).then(
            () => true,
            () => false,
          ))
        )
          missing++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    await replaceDir(
      out,
      async (d) => {
        for (let i = 0; i < 50; i++) await writeFile(join(d, `new${i}.bin`), 'new');
        await mkdir(join(d, 'nested'));
        await writeFile(join(d, 'nested', 'x'), 'x');
        await writeFile(join(d, 'model.json'), 'new');
      },
      { last: ['model.json'] },
    );
    done = true;
    await poll;
    expect(polls).toBeGreaterThan(10);
    expect(missing).toBe(0);
    const names = (await readdir(out)).sort();
    expect(names).toEqual(['model.json', 'nested', ...Array.from({ length: 50 }, (_, i) => `new${i}.bin`)].sort());
    expect(await readFile(join(out, 'model.json'), 'utf8')).toBe('new');
    expect(await readdir(root)).not.toContainEqual(expect.stringContaining('condense-tmp'));
  });

  it('updates the folder a symlinked target points at, keeping the link', async () => {
    const real = await sub('real-out');
    await writeFile(join(real, 'old'), 'x');
    const link = join(root, 'link-out');
    await symlink(real, link);
    await replaceDir(link, async (d) => writeFile(join(d, 'new'), 'y'));
    expect(await readdir(real)).toEqual(['new']);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
  });

  it('leaves the old target untouched when writing fails', async () => {
    const out = await sub('keep');
    await writeFile(join(out, 'a'), 'old');
    await expect(
      replaceDir(out, async (d) => {
        await writeFile(join(d, 'a'), 'new');
        throw new Error('stage failed');
      }),
    ).rejects.toThrow('stage failed');
    expect(await readdir(out)).toEqual(['a']);
    expect(await readFile(join(out, 'a'), 'utf8')).toBe('old');
    expect(await readdir(root)).not.toContainEqual(expect.stringContaining('condense-tmp'));
  });
});

describe('resolveInside', () => {
  it('resolves names and subfolders inside the folder, symlinks within it included', async () => {
    const dir = await sub('model');
    await mkdir(join(dir, 'w'));
    await writeFile(join(dir, 'w', 'shard.bin'), 'x');
    await symlink(join(dir, 'w', 'shard.bin'), join(dir, 'link.bin'));
    expect(await resolveInside(dir, 'w/shard.bin')).toBe(join(await realPathOf(dir), 'w', 'shard.bin'));
    expect(await resolveInside(dir, './link.bin')).toBe(join(await realPathOf(dir), 'w', 'shard.bin'));
  });

  it('refuses absolute paths, URLs, .. and links that lead out, naming the path', async () => {
    const dir = await sub('model2');
    const secret = join(root, 'secret.txt');
    await writeFile(secret, 'secret');
    await symlink(secret, join(dir, 'out.bin'));
    await expect(resolveInside(dir, secret)).rejects.toThrow(`${secret}: is an absolute path`);
    await expect(resolveInside(dir, '../secret.txt')).rejects.toThrow("../secret.txt: goes up with '..'");
    await expect(resolveInside(dir, 'https://example.com/w.bin')).rejects.toThrow('is a URL');
    await expect(resolveInside(dir, 'file:///etc/passwd')).rejects.toThrow('is a URL');
    await expect(resolveInside(dir, 'out.bin')).rejects.toThrow(/out\.bin: leads out of/);
    await expect(resolveInside(dir, 'missing.bin')).rejects.toThrow(/missing\.bin: cannot be found in .*does not exist/);
    expect(confinedPathProblem(3)).toBe('is not a file name');
  });

  it('isWithin tells containment without being fooled by a common prefix', () => {
    expect(isWithin('/a/b', '/a/b')).toBe(true);
    expect(isWithin('/a/b', '/a/b/c')).toBe(true);
    expect(isWithin('/a/b', '/a/bc')).toBe(false);
    expect(isWithin('/a/b', '/a')).toBe(false);
  });
});

describe('bounded reads', () => {
  it('checks the size before allocating and refuses folders and FIFOs', async () => {
    const dir = await sub('reads');
    const f = join(dir, 'f.bin');
    await writeFile(f, new Uint8Array(100));
    expect((await readBounded(f, { maxBytes: 100 })).length).toBe(100);
    await expect(readBounded(f, { maxBytes: 99 })).rejects.toThrow(`${f}: has 100 bytes, more than the 99 allowed`);
    await expect(readInto(f, new Uint8Array(50))).rejects.toThrow(`${f}: has 100 bytes, expected 50`);
    await expect(readBounded(dir, { maxBytes: 10 })).rejects.toMatchObject({ code: 'EISDIR', message: `${dir}: is a directory, not a file` });
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(readBounded(fifo, { maxBytes: 10 })).rejects.toThrow(`${fifo}: is not a regular file`);
    await expect(readBounded(join(dir, 'nope'), { maxBytes: 10 })).rejects.toBeInstanceOf(FileError);
  });
});

describe('treeProblem', () => {
  it('refuses deep nesting and self-reference, naming where', () => {
    const deep = JSON.parse('['.repeat(100) + ']'.repeat(100));
    expect(treeProblem(deep)).toMatch(/nested more than 64 levels deep \(at (\[0\])+\)/);
    const self: Record<string, unknown> = { a: { b: [] } };
    (self.a as { b: unknown[] }).b.push(self);
    expect(treeProblem(self)).toBe('contains itself (at a.b[0])');
    const shared = { x: 1 };
    expect(treeProblem({ p: shared, q: shared, r: [1, 'two', null] })).toBeUndefined();
    expect(
      treeProblem(
        Array.from({ length: 20 }, () => [1, 2]),
        { maxNodes: 30 },
      ),
    ).toBe('holds more than 30 values');
  });
});
