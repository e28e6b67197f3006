import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
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

/**
 * Find installed plugin packages without a hand-kept list: `@condense/*` and `condense-plugin-*`
 * (scoped or not) in every node_modules from `cwd` up, whose package.json has a `condense` field.
 */
export async function discoverPlugins(registry: Registry, cwd = process.cwd()): Promise<Discovered[]> {
  const found: Discovered[] = [];
  const seen = new Set<string>();
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const pkgDir of await candidates(join(dir, 'node_modules'))) {
      const pkg = await readJson(join(pkgDir, 'package.json'));
      if (!pkg?.condense || seen.has(pkg.name)) continue;
      seen.add(pkg.name);
      try {
        const mod = (await import(pathToFileURL(join(pkgDir, entryOf(pkg))).href)) as Record<string, unknown>;
        found.push({ packageName: pkg.name, plugins: registerModule(registry, mod) });
      } catch (e) {
        found.push({ packageName: pkg.name, plugins: [], error: (e as Error).message });
      }
    }
    if (dirname(dir) === dir) break;
  }
  return found;
}
