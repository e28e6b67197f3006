import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRegistry, dependencyTree, discoverPlugins, isPluginFactory, loadPlugin } from './registry.js';
import { finetune } from './stages.js';

async function fakePackage(root: string, dir: string, pkg: object, code: string) {
  const at = join(root, 'node_modules', dir);
  await mkdir(at, { recursive: true });
  await writeFile(join(at, 'package.json'), JSON.stringify(pkg));
  await writeFile(join(at, 'index.js'), code);
}

const pluginModule = (name: string) => `
const f = () => ({ name: '${name}', options: {}, contract: {} });
f.pluginName = '${name}'; f.description = 'x'; f.schema = { type: 'object' }; f.fromOptions = () => f();
export const plugin = f;`;

describe('registry', () => {
  it('has the built-in stages', () => {
    expect(createRegistry().names()).toEqual(['evaluate', 'finetune']);
    expect(isPluginFactory(finetune)).toBe(true);
  });

  it('refuses the same name from two different factories', () => {
    const r = createRegistry();
    const fake = Object.assign(() => undefined, { pluginName: 'finetune', fromOptions: () => undefined });
    expect(() => r.register(fake as never)).toThrow(/'finetune' is registered twice/);
  });

  it('discovers @condense/* and condense-plugin-* packages that have a condense field, in the tree that installed the host, without a list', async () => {
    const root = await mkdtemp(join(tmpdir(), 'condense-discover-'));
    // The host (the CLI in real use) is installed in root/project; discovery starts from its module.
    const project = join(root, 'project');
    await fakePackage(project, '@condense/host', { name: '@condense/host', type: 'module', main: 'index.js' }, 'export {}');
    await fakePackage(
      project,
      'condense-plugin-a',
      { name: 'condense-plugin-a', type: 'module', main: 'index.js', condense: { plugins: true } },
      pluginModule('a.one'),
    );
    await fakePackage(
      project,
      '@acme/condense-plugin-b',
      { name: '@acme/condense-plugin-b', type: 'module', exports: { '.': { import: './index.js' } }, condense: {} },
      pluginModule('b.one'),
    );
    await fakePackage(project, 'condense-plugin-nofield', { name: 'condense-plugin-nofield', type: 'module', main: 'index.js' }, pluginModule('c.one'));
    await fakePackage(
      project,
      'condense-plugin-broken',
      { name: 'condense-plugin-broken', type: 'module', main: 'index.js', condense: {} },
      'throw new Error("boom")',
    );
    // Above the installing project: never searched.
    await fakePackage(
      root,
      'condense-plugin-above',
      { name: 'condense-plugin-above', type: 'module', main: 'index.js', condense: {} },
      pluginModule('above.one'),
    );
    const r = createRegistry();
    const found = await discoverPlugins(r, join(project, 'node_modules', '@condense', 'host', 'index.js'));
    expect(r.names()).toEqual(['a.one', 'b.one', 'evaluate', 'finetune']);
    expect(found.find((f) => f.packageName === 'condense-plugin-broken')?.error).toMatch(/boom/);
    expect(await dependencyTree(join(project, 'node_modules', '@condense', 'host'))).toEqual([
      join(project, 'node_modules', '@condense', 'host', 'node_modules'),
      join(project, 'node_modules', '@condense', 'node_modules'),
      join(project, 'node_modules', 'node_modules'),
      join(project, 'node_modules'),
    ]);
  });

  it('loads a plugin named by path (file or package folder), naming the path when it cannot', async () => {
    const root = await mkdtemp(join(tmpdir(), 'condense-plugin-path-'));
    await writeFile(join(root, 'p.mjs'), pluginModule('p.one'));
    await fakePackage(root, 'pkg', { name: 'pkg', type: 'module', main: 'index.js' }, pluginModule('q.one'));
    const r = createRegistry();
    expect((await loadPlugin(r, join(root, 'p.mjs'), '--plugin')).plugins).toEqual(['p.one']);
    expect((await loadPlugin(r, join(root, 'node_modules', 'pkg'), 'recipe: plugins[0]')).plugins).toEqual(['q.one']);
    await expect(loadPlugin(r, join(root, 'nope.mjs'), '--plugin')).rejects.toThrow(`--plugin: plugin ${join(root, 'nope.mjs')} does not exist`);
    await writeFile(join(root, 'empty.mjs'), 'export const x = 1;');
    await expect(loadPlugin(r, join(root, 'empty.mjs'), '--plugin')).rejects.toThrow(/registers no plugin/);
  });
});
