import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry, discoverPlugins, type Discovered, type Registry } from '@condense/core';

/**
 * Built-in stages plus every installed plugin package (`@condense/*`, `condense-plugin-*` with a
 * `condense` field), found from the working directory and from where the CLI itself is installed.
 */
export async function loadRegistry(): Promise<{ registry: Registry; discovered: Discovered[] }> {
  const registry = createRegistry();
  const discovered = [
    ...(await discoverPlugins(registry, process.cwd())),
    ...(await discoverPlugins(registry, dirname(fileURLToPath(import.meta.url)))),
  ];
  return { registry, discovered };
}
