import { fileURLToPath } from 'node:url';
import { createRegistry, discoverPlugins, loadPlugin, type Discovered, type Registry } from '@condense/core';

/** A plugin the user names: a path and where it was named (for the error message). */
export interface NamedPlugin {
  path: string;
  where: string;
}

/**
 * Built-in stages, every plugin package installed with condense itself (`@condense/*`,
 * `condense-plugin-*` with a `condense` field, in the dependency tree that holds the CLI: never
 * the working directory's node_modules), and the plugins the user names (`--plugin`, a recipe's
 * `plugins:` list).
 */
export async function loadRegistry(named: NamedPlugin[] = []): Promise<{ registry: Registry; discovered: Discovered[] }> {
  const registry = createRegistry();
  const discovered = await discoverPlugins(registry, fileURLToPath(import.meta.url));
  for (const p of named) discovered.push(await loadPlugin(registry, p.path, p.where));
  return { registry, discovered };
}

/** `--plugin` values (the option may repeat). */
export function pluginOptions(values: Record<string, unknown>): NamedPlugin[] {
  const raw = values.plugin;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.map((path) => ({ path: String(path), where: '--plugin' }));
}
