import { recipeJsonSchema } from '@condense/core';
import { loadRegistry } from '../registry.js';
import type { Command } from './command.js';

export const schema: Command = {
  name: 'schema',
  summary: "print the JSON Schema of recipes over the installed plugins (for editors)",
  usage: `condense schema [--list]

  --list   list the installed plugins instead

  Editors: save the output as recipe.schema.json and add
  "# yaml-language-server: $schema=./recipe.schema.json" to the top of a recipe.`,
  options: { list: { type: 'boolean' } },
  async run({ values, print }) {
    const { registry, discovered } = await loadRegistry();
    if (values.list) {
      for (const f of registry.list()) print(`${f.pluginName.padEnd(24)} ${f.description}`);
      for (const d of discovered.filter((x) => x.error)) print(`! ${d.packageName}: ${d.error}`);
      return;
    }
    print(JSON.stringify(recipeJsonSchema(registry), null, 2));
  },
};
