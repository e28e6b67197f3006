import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginFactory } from './plugin.js';
import { OptionsError } from './options.js';
import { evaluateStage, finetune } from './stages.js';

/** Maps dotted names (`prune.magnitude`) to plugin factories. */
export class Registry {
  private factories = new Map<string, PluginFactory>();

  register(...factories: PluginFactory[]): this {
    for (const f of factories) {
      const known = this.factories.get(f.pluginName);
      if (known && known !== f) throw new Error(`plugin '${f.pluginName}' is registered twice by different packages`);
      this.factories.set(f.pluginName, f);
    }
    return this;
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  get(name: string, where = 'recipe'): PluginFactory {
    const f = this.factories.get(name);
    if (!f) {
      const near = [...this.factories.keys()].filter((k) => k.split('.')[0] === name.split('.')[0] || k.includes(name));
      const hint = near.length ? ` (did you mean ${near.map((n) => `'${n}'`).join(', ')}?)` : '';
      throw new OptionsError(`${where}: unknown plugin '${name}'${hint}; installed: ${this.names().join(', ')}`);
    }
    return f;
  }

  names(): string[] {
    return [...this.factories.keys()].sort();
  }

  list(): PluginFactory[] {
    return this.names().map((n) => this.factories.get(n) as PluginFactory);
  }
}

/** A registry with the built-in stages (`finetune`, `evaluate`). */
export function createRegistry(): Registry {
  return new Registry().register(finetune, evaluateStage);
}

export const isPluginFactory = (v: unknown): v is PluginFactory =>
  typeof v === 'function' && typeof (v as PluginFactory).pluginName === 'string' && typeof (v as PluginFactory).fromOptions === 'function';

/** Register what a plugin module offers: its `register(registry)` hook, else every exported factory. */
export function registerModule(registry: Registry, mod: Record<string, unknown>): string[] {
  const before = new Set(registry.names());
  if (typeof mod.register === 'function') (mod.register as (r: Registry) => void)(registry);
  else for (const v of Object.values(mod)) if (isPluginFactory(v)) registry.register(v);
  return registry.names().filter((n) => !before.has(n));
}

interface PackageJson {
  name: string;
  main?: string;
  exports?: unknown;
  condense?: { plugins?: string | boolean };
}

async function readJson(path: string): Promise<PackageJson | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

async function candidates(nodeModules: string): Promise<string[]> {
  const dirs: string[] = [];
  const entries = await readdir(nodeModules, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.name.startsWith('condense-plugin-')) dirs.push(join(nodeModules, e.name));
    if (e.name.startsWith('@')) {
      const scoped = await readdir(join(nodeModules, e.name)).catch(() => [] as string[]);
      for (const s of scoped) if (e.name === '@condense' || s.startsWith('condense-plugin-')) dirs.push(join(nodeModules, e.name, s));
    }
  }
  return dirs;
}

function entryOf(pkg: PackageJson): string {
  if (typeof pkg.condense?.plugins === 'string') return pkg.condense.plugins;
  const dot = (pkg.exports as Record<string, unknown> | undefined)?.['.'];
  if (typeof dot === 'string') return dot;
  const imp = (dot as Record<string, unknown> | undefined)?.import;
  if (typeof imp === 'string') return imp;
  return pkg.main ?? 'index.js';
}

export interface Discovered {
  packageName: string;
  plugins: string[];
  error?: string;
}

const real = (p: string) => realpath(p).catch(() => undefined);

/** The folder of the package holding `anchor` (a file or folder inside it), and its name. */
async function packageOf(anchor: string): Promise<{ root: string; name?: string }> {
  const start = (await real(anchor)) ?? resolve(anchor);
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = await readJson(join(dir, 'package.json'));
    if (pkg) return { root: dir, name: typeof pkg.name === 'string' ? pkg.name : undefined };
    if (dirname(dir) === dir) return { root: start };
  }
}

/**
 * The node_modules folders of the dependency tree a package was installed with: its own, and
 * those of its ancestors up to the node_modules folder that holds it (the installing project's,
 * or the global one). A package that no node_modules folder holds (a bare checkout) has only its own.
 */
export async function dependencyTree(anchor: string): Promise<string[]> {
  const { root, name } = await packageOf(anchor);
  const chain: string[] = [];
  for (let dir = root; ; dir = dirname(dir)) {
    chain.push(join(dir, 'node_modules'));
    if (name && (await real(join(dir, 'node_modules', name))) === root) return chain;
    if (dirname(dir) === dir) return [join(root, 'node_modules')];
  }
}

async function importPlugin(registry: Registry, pkgDir: string, pkg: PackageJson): Promise<Discovered> {
  try {
    const mod = (await import(pathToFileURL(join(pkgDir, entryOf(pkg))).href)) as Record<string, unknown>;
    return { packageName: pkg.name, plugins: registerModule(registry, mod) };
  } catch (e) {
    return { packageName: pkg.name, plugins: [], error: (e as Error).message };
  }
}

/**
 * Find installed plugin packages without a hand-kept list: `@condense/*` and `condense-plugin-*`
 * (scoped or not) whose package.json has a `condense` field, in the dependency tree that holds
 * `anchor` (normally the CLI's own module: see `dependencyTree`). Never the working directory or
 * anything above the installing project: a folder's node_modules is not trusted for being there.
 */
export async function discoverPlugins(registry: Registry, anchor: string): Promise<Discovered[]> {
  const found: Discovered[] = [];
  const seen = new Set<string>();
  for (const nodeModules of await dependencyTree(anchor)) {
    for (const pkgDir of await candidates(nodeModules)) {
      const pkg = await readJson(join(pkgDir, 'package.json'));
      if (!pkg?.condense || seen.has(pkg.name)) continue;
      seen.add(pkg.name);
      found.push(await importPlugin(registry, pkgDir, pkg));
    }
  }
  return found;
}

/**
 * Load a plugin the user names by path (`--plugin`, a recipe's `plugins:` list): a module file or a
 * package folder (its `condense.plugins` entry, else its main export). Throws an OptionsError naming
 * `where` and the path when it cannot be loaded or registers nothing.
 */
export async function loadPlugin(registry: Registry, path: string, where: string): Promise<Discovered> {
  const abs = resolve(path);
  const info = await stat(abs).catch(() => undefined);
  if (!info) throw new OptionsError(`${where}: plugin ${path} does not exist`);
  let result: Discovered;
  if (info.isDirectory()) {
    const pkg = await readJson(join(abs, 'package.json'));
    if (!pkg) throw new OptionsError(`${where}: plugin folder ${path} has no readable package.json`);
    result = await importPlugin(registry, abs, pkg);
  } else {
    result = await importPlugin(registry, dirname(abs), { name: path, main: basename(abs) });
  }
  if (result.error) throw new OptionsError(`${where}: plugin ${path} cannot be loaded (${result.error.split('\n')[0]})`);
  if (result.plugins.length === 0) throw new OptionsError(`${where}: plugin ${path} registers no plugin (export register(registry) or plugin factories)`);
  return result;
}
