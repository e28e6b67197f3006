import { describe, expect, it } from 'vitest';
import { createRegistry, parseRecipe, buildPipeline } from '@condense/core';
import { lenet300100 } from '@condense/ir';
import { kronecker, register } from './index.js';

describe('kronecker.example', () => {
  it('scales every kernel', async () => {
    const graph = lenet300100();
    const before = graph.params.get('fc1/kernel')!.data[0];
    const result = await kronecker({ scale: 2 }).apply!(graph, {} as never);
    expect(graph.params.get('fc1/kernel')!.data[0]).toBeCloseTo(before * 2);
    expect(result && result.notes).toEqual(['scaled kernels by 2']);
  });

  it('rejects a non-positive scale, naming the field', () => {
    expect(() => kronecker({ scale: 0 })).toThrow(/scale/);
  });

  it('runs from a recipe', async () => {
    const registry = createRegistry();
    register(registry);
    const run = buildPipeline(parseRecipe('stages:\n  - kronecker.example: { scale: 3 }'), registry);
    const result = await run.run(lenet300100());
    expect(result.stages[0].notes).toEqual(['scaled kernels by 3']);
  });
});
