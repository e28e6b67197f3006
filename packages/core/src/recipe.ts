import { treeProblem } from '@condense/files/json';
import { parse } from 'yaml';
import type { TObject } from '@sinclair/typebox';
import { OptionsError } from './options.js';
import { pipeline, type Pipeline } from './pipeline.js';
import type { Registry } from './registry.js';

export interface RecipeStage {
  plugin: string;
  options: Record<string, unknown>;
}

export interface Recipe {
  name?: string;
  description?: string;
  /** Plugin modules or package folders to load, relative to the recipe file (see `loadPlugin`). */
  plugins?: string[];
  stages: RecipeStage[];
}

/**
 * Read a YAML or JSON recipe. Stages are written as `- name` or `- name: { options }`:
 *
 *   name: deep-compression
 *   stages:
 *     - prune.magnitude: { sparsity: 0.9 }
 *     - finetune: { epochs: 2 }
 */
export function parseRecipe(text: string, source = 'recipe'): Recipe {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new OptionsError(`${source}: not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  // A YAML alias can make the document contain itself, which no later step could walk.
  const shape = treeProblem(doc);
  if (shape) throw new OptionsError(`${source}: the recipe ${shape}`);
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as Recipe).stages)) {
    throw new OptionsError(`${source}: a recipe needs a 'stages' list`);
  }
  const raw = doc as { name?: string; description?: string; plugins?: unknown; stages: unknown[] };
  const recipe: Recipe = { name: raw.name, description: raw.description, stages: raw.stages.map((s, i) => parseStage(s, `${source}: stage ${i + 1}`)) };
  if (raw.plugins !== undefined) {
    if (!Array.isArray(raw.plugins) || !raw.plugins.every((p) => typeof p === 'string' && p !== '')) {
      throw new OptionsError(`${source}: 'plugins' must be a list of paths to plugin modules or package folders`);
    }
    recipe.plugins = raw.plugins as string[];
  }
  return recipe;
}

function parseStage(s: unknown, where: string): RecipeStage {
  if (typeof s === 'string') return { plugin: s, options: {} };
  if (typeof s === 'object' && s !== null && !Array.isArray(s)) {
    const keys = Object.keys(s);
    if (keys.length === 1) {
      const options = (s as Record<string, unknown>)[keys[0]] ?? {};
      if (typeof options !== 'object' || Array.isArray(options)) throw new OptionsError(`${where} (${keys[0]}): options must be a mapping`);
      return { plugin: keys[0], options: options as Record<string, unknown> };
    }
  }
  throw new OptionsError(`${where}: write a stage as '- plugin.name' or '- plugin.name: { options }'`);
}

/** Validate every stage against its plugin's schema and build the pipeline; errors name the stage, plugin and field. */
export function buildPipeline(recipe: Recipe, registry: Registry, source = 'recipe'): Pipeline {
  const stages = recipe.stages.map((s, i) => {
    const where = `${source}: stage ${i + 1} (${s.plugin})`;
    return registry.get(s.plugin, `${source}: stage ${i + 1}`).fromOptions(s.options, where);
  });
  return pipeline(stages);
}

/** JSON Schema of recipes over the registry's plugins, for editor completion. */
export function recipeJsonSchema(registry: Registry): Record<string, unknown> {
  const stage = registry.list().map((f) => ({
    type: 'object',
    description: f.description,
    properties: { [f.pluginName]: stripTypebox(f.schema) },
    required: [f.pluginName],
    additionalProperties: false,
  }));
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'condense recipe',
    type: 'object',
    properties: {
      name: { type: 'string' },
      description: { type: 'string' },
      plugins: { type: 'array', items: { type: 'string' }, description: 'plugin modules or package folders to load, relative to the recipe' },
      stages: { type: 'array', items: { anyOf: [...stage, { type: 'string', enum: registry.names() }] } },
    },
    required: ['stages'],
  };
}

/** TypeBox schemas are JSON Schema already; drop its symbol keys via a JSON round trip. */
function stripTypebox(schema: TObject): unknown {
  return JSON.parse(JSON.stringify(schema));
}
