import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildPipeline, parseRecipe } from '@condense/core';
import { cost, lenet300100 } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { selfLabelled } from './fixtures/self-labelled.js';
import { budget } from './plugin.js';
import { pluginRegistry } from './recipe-trial.js';

const built = existsSync(join(import.meta.dirname, '..', 'dist', 'thread.js'));

describe('search.budget', () => {
  it('rejects a bad target when the recipe is read, naming the stage', () => {
    expect(() => budget.fromOptions({ target: 'size=20' }, 'recipe.yaml: stage 1 (search.budget)')).toThrow(
      "search.budget: target: 'size=20': no unit for size",
    );
    expect(() => budget.fromOptions({ target: 'size=2x', methods: ['magic'] }, 'recipe.yaml: stage 1')).toThrow(/recipe.yaml: stage 1: invalid options/);
  });

  it.skipIf(!built)('as a recipe stage: searches on two worker threads, applies the chosen stages and reports the recipe', async () => {
    const graph = lenet300100(5);
    // The input as its file stores it (float32 for a model built in memory): what `10x` is relative to.
    const before = cost(graph).totals.float32Bytes;
    const recipe = parseRecipe(`
stages:
  - search.budget:
      target: size=10x
      levels: { prune: [0.5, 0.8, 0.9], bits: [5] }
      validation: 200
      samples: 200
      steps: 1
      workers: 2
`);
    const result = await buildPipeline(recipe, await pluginRegistry()).run(graph, { data: { train: selfLabelled(graph, 400, 4) } });
    const stage = result.stages[0];
    const chosen = stage.details?.chosenRecipe as { stages: { plugin: string }[] };
    expect(chosen.stages.map((s) => s.plugin).every((p) => ['prune.magnitude', 'quantize.kmeans'].includes(p))).toBe(true);
    expect(result.snapshots[1].bytes).toBeLessThanOrEqual(before / 10);
    expect(stage.notes.at(-1)).toBe('trials ran on 2 worker threads');
    expect(result.snapshots[0].bytes).toBe(before);
    expect(stage.notes[0]).toMatch(/^target size=10x: 1.07 MB -> at most 106.6 kB; \d+ trials in/);
    expect((stage.details?.sensitivity as unknown[] | undefined)?.length).toBe(3);
  });
});
