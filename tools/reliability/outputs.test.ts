/**
 * Issue 27, items 4 to 8 on the command line: no output replaces an input, plugins are not taken
 * from the working directory, killed runs leave nothing for long, outputs never go missing and get
 * the usual mode, convert creates folders, and a self-referencing recipe is refused in one line.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FASHION_MNIST_EMBEDDED_DIR } from '@condense/datasets';
import { lenet300100, serializeGraph } from '@condense/ir';
import { saveModel } from '@condense/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, fingerprint, isCleanRefusal, scratch } from './helpers.js';

let tmp: Awaited<ReturnType<typeof scratch>>;
let model = '';
let recipe = '';
beforeAll(async () => {
  tmp = await scratch();
  model = join(tmp.dir, 'model');
  await saveModel(lenet300100(), model);
  recipe = join(tmp.dir, 'prune.yaml');
  await writeFile(recipe, 'stages:\n  - prune.magnitude: { sparsity: 0.5 }\n');
});
afterAll(() => tmp.done());

const refusedCleanly = (r: Awaited<ReturnType<typeof cli>>) => expect(isCleanRefusal(r), `${r.code}: ${r.err}`).toBe(true);

describe('27.4 no output replaces an input, with or without --force', () => {
  it('convert onto an existing model folder needs --force, and never replaces IN', async () => {
    const other = join(tmp.dir, 'other');
    await saveModel(lenet300100(2), other);
    const before = await fingerprint(other);
    refusedCleanly(await cli('convert', model, other));
    expect(await fingerprint(other)).toEqual(before);
    for (const force of [[], ['--force']]) refusedCleanly(await cli('convert', model, join(model, 'model.json'), ...force));
    const cir = join(tmp.dir, 'm.cir');
    expect((await cli('convert', model, cir)).code).toBe(0);
    refusedCleanly(await cli('convert', cir, cir, '--force'));
    expect((await cli('convert', model, other, '--force')).code).toBe(0);
  });

  it('compress never replaces the data, the recipe, a teacher or the model, even with --force (symlinks included)', async () => {
    const data = join(tmp.dir, 'data');
    await cp(FASHION_MNIST_EMBEDDED_DIR, data, { recursive: true });
    const dataPrint = await fingerprint(data);
    refusedCleanly(await cli('compress', '--recipe', recipe, '--model', model, '--data', data, '--out', data, '--force'));
    const teacher = join(tmp.dir, 'teachers', 'big.cir');
    await mkdir(join(tmp.dir, 'teachers'));
    await writeFile(teacher, serializeGraph(lenet300100(3)));
    const kd = join(tmp.dir, 'kd.yaml');
    await writeFile(kd, `stages:\n  - distill.kd: { teacher: '${teacher}' }\n  - finetune: { epochs: 1 }\n`);
    const r = await cli('compress', '--recipe', kd, '--model', model, '--out', join(tmp.dir, 'teachers'), '--force');
    refusedCleanly(r);
    expect(r.err).toMatch(/would replace the .*stage 1 \(distill\.kd\) option\.teacher .*big\.cir/);
    refusedCleanly(await cli('compress', '--recipe', recipe, '--model', model, '--out', tmp.dir, '--force'));
    const link = join(tmp.dir, 'link-to-model');
    await symlink(model, link);
    refusedCleanly(await cli('compress', '--recipe', recipe, '--model', model, '--out', link, '--force'));
    expect(await fingerprint(data)).toEqual(dataPrint);
    expect(await readFile(teacher)).toEqual(Buffer.from(serializeGraph(lenet300100(3))));
  });
});

describe("27.5 plugins come from condense's own dependency tree or from paths the user names", () => {
  it("never imports the working directory's node_modules; --plugin and a recipe's plugins: load a named one", async () => {
    const evil = join(tmp.dir, 'evil');
    const marker = join(tmp.dir, 'evil-ran');
    const pkg = join(evil, 'node_modules', 'condense-plugin-evil');
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'condense-plugin-evil', type: 'module', main: 'index.js', condense: {} }));
    await writeFile(
      join(pkg, 'index.js'),
      `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(marker)}, 'ran');
const f = () => ({ name: 'evil.x', options: {}, contract: {}, apply: (g) => g });
f.pluginName = 'evil.x'; f.description = 'evil'; f.schema = { type: 'object' }; f.fromOptions = () => f();
export const plugin = f;`,
    );
    const cwd = process.cwd();
    process.chdir(join(evil));
    try {
      const list = await cli('schema', '--list');
      expect(list.code).toBe(0);
      expect(list.out).toMatch(/prune\.magnitude/);
      expect(list.out).not.toMatch(/evil/);
      await expect(stat(marker)).rejects.toThrow();
      const named = await cli('schema', '--list', '--plugin', pkg);
      expect(named.out).toMatch(/evil\.x/);
      await expect(stat(marker)).resolves.toBeTruthy();
    } finally {
      process.chdir(cwd);
    }
    const withPlugins = join(evil, 'recipe.yaml');
    await writeFile(withPlugins, 'plugins: [./node_modules/condense-plugin-evil]\nstages:\n  - evil.x\n');
    const r = await cli(
      'compress',
      '--recipe',
      withPlugins,
      '--model',
      model,
      '--out',
      join(tmp.dir, 'evil-out'),
      '--backend',
      'cpu',
      '--quiet',
      '--limit-train',
      '10',
      '--limit-test',
      '10',
    );
    expect(r.code, r.err).toBe(0);
    refusedCleanly(await cli('schema', '--plugin', join(evil, 'nope.js')));
  });
});

/** Run `script` (ESM, @condense/files from its build) in a child; resolves once it prints 'ready', then SIGKILLs it. */
async function killWhenReady(script: string): Promise<void> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((res, rej) => {
    child.stdout.on('data', (d) => String(d).includes('ready') && res());
    child.on('exit', (code) => rej(new Error(`child exited (${code}) before it was ready`)));
  });
  const gone = new Promise((res) => child.on('exit', res));
  child.kill('SIGKILL');
  await gone;
}

describe('27.6 leftovers, the output window and permissions', () => {
  it("a killed run's staging folder is removed by the next run; the old output survived the kill", async () => {
    const out = join(tmp.dir, 'killed');
    expect(
      (await cli('compress', '--recipe', recipe, '--model', model, '--out', out, '--quiet', '--backend', 'cpu', '--limit-train', '10', '--limit-test', '10'))
        .code,
    ).toBe(0);
    const before = await fingerprint(out);
    await killWhenReady(`import { replaceDir } from '@condense/files';
import { writeFile } from 'node:fs/promises';
await replaceDir(${JSON.stringify(out)}, async (d) => { await writeFile(d + '/big.bin', new Uint8Array(4e6)); console.log('ready'); await new Promise(() => {}); });`);
    const leftovers = (await readdir(tmp.dir)).filter((n) => n.includes('.condense-tmp-'));
    expect(leftovers).toHaveLength(1);
    expect(await fingerprint(out)).toEqual(before);
    const r = await cli(
      'compress',
      '--recipe',
      recipe,
      '--model',
      model,
      '--out',
      out,
      '--force',
      '--quiet',
      '--backend',
      'cpu',
      '--limit-train',
      '10',
      '--limit-test',
      '10',
    );
    expect(r.code, r.err).toBe(0);
    expect((await readdir(tmp.dir)).filter((n) => n.includes('.condense-tmp-'))).toEqual([]);
  });

  it('--out never disappears while it is replaced, and a new output folder has the umask mode', async () => {
    const out = join(tmp.dir, 'window');
    const args = ['compress', '--recipe', recipe, '--model', model, '--out', out, '--quiet', '--backend', 'cpu', '--limit-train', '10', '--limit-test', '10'];
    expect((await cli(...args)).code).toBe(0);
    const ref = join(tmp.dir, 'mode-ref');
    await mkdir(ref);
    expect((await stat(out)).mode & 0o777).toBe((await stat(ref)).mode & 0o777);
    let missing = 0;
    let polls = 0;
    let done = false;
    const poll = (async () => {
      for (; !done; polls++) {
        if (
          !(await stat(join(out, 'model.json')).then(
            () => true,
            () => false,
          ))
        )
          missing++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const r = await cli(...args, '--force');
    done = true;
    await poll;
    expect(r.code, r.err).toBe(0);
    expect(polls).toBeGreaterThan(5);
    expect(missing).toBe(0);
  });
});

describe('27.7 convert creates missing folders, like saveModel', () => {
  it('writes a .cdz and a .cir into folders that do not exist yet', async () => {
    for (const out of [join(tmp.dir, 'new', 'a', 'm.cdz'), join(tmp.dir, 'new', 'b', 'm.cir')]) {
      const r = await cli('convert', model, out);
      expect(r.code, r.err).toBe(0);
      expect((await stat(out)).size).toBeGreaterThan(0);
    }
  });
});

describe('27.8 a recipe that contains itself', () => {
  it('a YAML self-alias is refused in one line naming the recipe', async () => {
    const self = join(tmp.dir, 'self.yaml');
    await writeFile(self, 'stages: &s\n  - prune.magnitude: { sparsity: 0.5, extra: *s }\n');
    const r = await cli('compress', '--recipe', self, '--model', model, '--out', join(tmp.dir, 'self-out'));
    refusedCleanly(r);
    expect(r.err).toMatch(/self\.yaml: the recipe contains itself \(at stages\[0\]\.prune\.magnitude\.extra\)/);
  });
});
