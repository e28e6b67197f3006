import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { definePlugin } from './plugin.js';
import { buildPipeline, parseRecipe, recipeJsonSchema } from './recipe.js';
import { createRegistry, Registry } from './registry.js';
import { OptionsError } from './options.js';

const scale = definePlugin({
  name: 'test.scale',
  description: 'multiply kernels',
  schema: Type.Object(
    { factor: Type.Number({ exclusiveMinimum: 0, default: 2 }), layers: Type.Optional(Type.Array(Type.String())) },
    { additionalProperties: false },
  ),
  create: () => ({ contract: {} }),
});

function registry(): Registry {
  return createRegistry().register(scale);
}

describe('recipes', () => {
  it('reads YAML and JSON, with and without options', () => {
    const y = parseRecipe('name: r\nstages:\n  - test.scale\n  - test.scale: { factor: 3 }\n  - finetune: { epochs: 2 }');
    expect(y.stages).toEqual([
      { plugin: 'test.scale', options: {} },
      { plugin: 'test.scale', options: { factor: 3 } },
      { plugin: 'finetune', options: { epochs: 2 } },
    ]);
    const j = parseRecipe(JSON.stringify({ stages: [{ 'test.scale': { factor: 4 } }] }));
    expect(j.stages[0].options).toEqual({ factor: 4 });
  });

  it('applies schema defaults', () => {
    const p = buildPipeline(parseRecipe('stages:\n  - test.scale\n  - finetune'), registry());
    expect(p.stages[0].options).toEqual({ factor: 2 });
    expect(p.stages[1].options).toMatchObject({ epochs: 1, batchSize: 128, optimizer: 'adam' });
  });

  it('names the stage index, plugin and field of a bad option', () => {
    const run = () => buildPipeline(parseRecipe('stages:\n  - finetune\n  - test.scale: { factor: -1 }', 'r.yaml'), registry(), 'r.yaml');
    expect(run).toThrow(OptionsError);
    expect(run).toThrow(/r\.yaml: stage 2 \(test\.scale\): invalid options\n\s+factor: /);
    expect(() => buildPipeline(parseRecipe('stages:\n  - test.scale: { factr: 1 }'), registry())).toThrow(/stage 1 \(test\.scale\)/);
  });

  it('names an unknown plugin with near matches', () => {
    expect(() => buildPipeline(parseRecipe('stages:\n  - test.scal'), registry())).toThrow(
      /stage 1: unknown plugin 'test.scal' \(did you mean 'test.scale'\?\)/,
    );
  });

  it('rejects malformed recipes clearly', () => {
    expect(() => parseRecipe('stages: [', 'x.yaml')).toThrow(/x\.yaml: not valid YAML/);
    expect(() => parseRecipe('name: r')).toThrow(/needs a 'stages' list/);
    expect(() => parseRecipe('stages:\n  - { a: 1, b: 2 }')).toThrow(/stage 1: write a stage as/);
  });

  it('exports a JSON Schema covering every plugin', () => {
    const schema = recipeJsonSchema(registry()) as { properties: { stages: { items: { anyOf: { properties?: Record<string, unknown> }[] } } } };
    const names = schema.properties.stages.items.anyOf.flatMap((s) => Object.keys(s.properties ?? {}));
    expect(names).toEqual(['evaluate', 'finetune', 'test.scale']);
    expect(JSON.stringify(schema)).toContain('"exclusiveMinimum":0');
  });
});
