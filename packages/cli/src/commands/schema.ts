import { recipeJsonSchema } from '@condense/core';
import { loadRegistry, pluginOptions } from '../registry.js';
import type { Command } from './command.js';

export const schema: Command = {
  name: 'schema',
  summary: 'print the JSON Schema of recipes over the installed plugins (for editors)',
  usage: `condense schema [--list] [--plugin P]

  --list       list the installed plugins instead
  --plugin P   also load a plugin module or package folder (repeatable)

  Editors: save the output as recipe.schema.json and add
  "# yaml-language-server: $schema=./recipe.schema.json" to the top of a recipe.`,
  options: { list: { type: 'boolean' }, plugin: { type: 'string', multiple: true } },
  async run({ values, print }) {
    const { registry, discovered } = await loadRegistry(pluginOptions(values));
    if (values.list) {
      for (const f of registry.list()) print(`${f.pluginName.padEnd(24)} ${f.description}`);
      for (const d of discovered.filter((x) => x.error)) print(`! ${d.packageName}: ${d.error}`);
      return;
    }
    print(JSON.stringify(recipeJsonSchema(registry), null, 2));
  },
};
