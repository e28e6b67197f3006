import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRegistry, discoverPlugins, isPluginFactory } from './registry.js';
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

  it('discovers @condense/* and condense-plugin-* packages that have a condense field, without a list', async () => {
    const root = await mkdtemp(join(tmpdir(), 'condense-discover-'));
    await fakePackage(root, 'condense-plugin-a', { name: 'condense-plugin-a', type: 'module', main: 'index.js', condense: { plugins: true } }, pluginModule('a.one'));
    await fakePackage(root, '@acme/condense-plugin-b', { name: '@acme/condense-plugin-b', type: 'module', exports: { '.': { import: './index.js' } }, condense: {} }, pluginModule('b.one'));
    await fakePackage(root, 'condense-plugin-nofield', { name: 'condense-plugin-nofield', type: 'module', main: 'index.js' }, pluginModule('c.one'));
    await fakePackage(root, 'condense-plugin-broken', { name: 'condense-plugin-broken', type: 'module', main: 'index.js', condense: {} }, 'throw new Error("boom")');
    const r = createRegistry();
    const found = await discoverPlugins(r, join(root));
    expect(r.names()).toEqual(['a.one', 'b.one', 'evaluate', 'finetune']);
    expect(found.find((f) => f.packageName === 'condense-plugin-broken')?.error).toMatch(/boom/);
  });
});
