import { treeProblem } from '@condense/files/json';
import { parse } from 'yaml';
import { Type, type Static, type TObject } from '@sinclair/typebox';
import type { TaskSpec } from './data/task.js';
import { OptionsError, parseOptions } from './options.js';
import { pipeline, type Pipeline } from './pipeline.js';
import type { Registry } from './registry.js';

export interface RecipeStage {
  plugin: string;
  options: Record<string, unknown>;
}

/** The data a recipe names (paths relative to the recipe file), as the CLI's --data, --val, --test and preprocessing flags. */
export const RecipeDataSchema = Type.Object(
  {
    train: Type.Optional(
      Type.String({ minLength: 1, description: 'training data: an image folder (a subfolder per class gives labels), .npy / .npz, .csv or IDX' }),
    ),
    val: Type.Optional(Type.String({ minLength: 1, description: 'validation data, same forms' })),
    test: Type.Optional(Type.String({ minLength: 1, description: 'test data, same forms: every snapshot is evaluated on it' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'read the first N examples of each set' })),
    calibration: Type.Optional(Type.Integer({ minimum: 1, description: 'examples calibration-only stages read' })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, description: 'examples per batch in every fine-tune and evaluation' })),
    inputRange: Type.Optional(
      Type.Union([Type.Literal('0,1'), Type.Literal('-1,1'), Type.Literal('0,255')], { description: 'what pixel values 0..255 map to' }),
    ),
    mean: Type.Optional(Type.Array(Type.Number(), { description: 'per-channel mean subtracted after the range' })),
    std: Type.Optional(Type.Array(Type.Number(), { description: 'per-channel std divided by after the mean' })),
  },
  { additionalProperties: false },
);
export type RecipeData = Static<typeof RecipeDataSchema>;

export interface Recipe {
  name?: string;
  description?: string;
  /** Plugin modules or package folders to load, relative to the recipe file (see `loadPlugin`). */
  plugins?: string[];
  /** The data the recipe runs on; CLI flags override it. */
  data?: RecipeData;
  /** Losses and metrics per output (names as in TaskSpec); default from the model. */
  task?: TaskSpec;
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
  const raw = doc as { name?: string; description?: string; plugins?: unknown; data?: unknown; task?: unknown; stages: unknown[] };
  const data = raw.data === undefined ? undefined : parseOptions(RecipeDataSchema, raw.data, `${source}: data`);
  if (raw.task !== undefined && (typeof raw.task !== 'object' || raw.task === null || Array.isArray(raw.task)))
    throw new OptionsError(`${source}: task must be a mapping (loss, lossWeights, metrics)`);
  const recipe: Recipe = {
    name: raw.name,
    description: raw.description,
    ...(data ? { data } : {}),
    ...(raw.task ? { task: raw.task as TaskSpec } : {}),
    stages: raw.stages.map((s, i) => parseStage(s, `${source}: stage ${i + 1}`)),
  };
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
      data: stripTypebox(RecipeDataSchema),
      task: { type: 'object', description: 'loss (per output: a name, a list or a mapping by output name), lossWeights, metrics' },
      stages: { type: 'array', items: { anyOf: [...stage, { type: 'string', enum: registry.names() }] } },
    },
    required: ['stages'],
  };
}

/** TypeBox schemas are JSON Schema already; drop its symbol keys via a JSON round trip. */
function stripTypebox(schema: TObject): unknown {
  return JSON.parse(JSON.stringify(schema));
}
