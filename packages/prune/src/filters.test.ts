import { describe, expect, it } from 'vitest';
import { buildPipeline, createRegistry, parseRecipe, pipeline } from '@condense/core';
import { cost, GraphBuilder, validate, type Graph, type Param } from '@condense/ir';
import { l1Filter, randomFilter } from './filters.js';
import { register } from './plugins.js';

function cnn(): Graph {
  return new GraphBuilder('cnn', [8, 8, 1], 4)
    .conv2d(8, 3, { name: 'conv1', padding: 'same', activation: 'relu' })
    .conv2d(12, 3, { name: 'conv2', padding: 'same', activation: 'relu' })
    .maxPool2d(2, { name: 'pool' })
    .flatten({ name: 'flat' })
    .dense(16, { name: 'fc1', activation: 'relu' })
    .dense(10, { name: 'fc2', activation: 'softmax' })
    .build();
}

const kernel = (g: Graph, n: string) => g.params.get(`${n}/kernel`) as Param;

describe('prune.l1Filter', () => {
  it('removes the filters with the smallest L1 norm, for real, from every conv layer', async () => {
    const g = cnn();
    const k = kernel(g, 'conv1');
    for (let e = 0; e < k.data.length; e++) if (e % 8 >= 5) k.data[e] *= 1e-3; // filters 5, 6, 7 are the smallest
    const r = await pipeline([l1Filter({ ratio: 0.375 })]).run(g);
    const out = r.graph;
    validate(out);
    const details = r.stages[0].details as { layers: { layer: string; removed: number[] }[] };
    expect(details.layers.map((l) => l.layer)).toEqual(['conv1', 'conv2']);
    expect([...details.layers[0].removed].sort()).toEqual([5, 6, 7]);
    expect(kernel(out, 'conv2').shape).toEqual([3, 3, 5, 7]); // 12 x 0.375 = 4.5 -> 5 removed
    expect(kernel(out, 'fc1').shape).toEqual([4 * 4 * 7, 16]);
    expect(cost(out).totals.macs).toBeLessThan(cost(g).totals.macs / 2);
    expect(r.stages[0].notes[0]).toBe('conv1: 8 -> 5 channels');
  });

  it('takes exclude (protected layers), roundTo, dense layers through ops, and a global ranking', async () => {
    const run = async (o: Parameters<typeof l1Filter>[0]) => (await pipeline([l1Filter(o)]).run(cnn())).graph;
    const protectedConv1 = await run({ ratio: 0.5, exclude: ['conv1'] });
    expect([kernel(protectedConv1, 'conv1').shape[3], kernel(protectedConv1, 'conv2').shape[3]]).toEqual([8, 6]);
    const rounded = await run({ ratio: 0.3, roundTo: 4, ops: ['conv2d', 'dense'] });
    expect([kernel(rounded, 'conv1').shape[3], kernel(rounded, 'conv2').shape[3], kernel(rounded, 'fc1').shape[1]]).toEqual([8, 8, 12]); // kept 6 -> 8, 8, 11 -> 12
    const global = await run({ ratio: 0.5, scope: 'global', maxRatio: 0.75 });
    expect(kernel(global, 'conv1').shape[3] + kernel(global, 'conv2').shape[3]).toBe(10);
    await expect(run({ layers: { conv7: 0.5 } })).rejects.toThrow(/prune\.l1Filter: layers key pattern 'conv7' matches no layer/);
  });
});

describe('prune.randomFilter', () => {
  it('is seeded and runs from a recipe', async () => {
    const registry = createRegistry();
    register(registry);
    expect(registry.names()).toEqual(expect.arrayContaining(['prune.l1Filter', 'prune.randomFilter']));
    const removed = async (seed: number) => {
      const r = await buildPipeline(parseRecipe(`stages:\n  - prune.randomFilter: { ratio: 0.5, seed: ${seed} }`), registry).run(cnn());
      return (r.stages[0].details as { layers: { removed: number[] }[] }).layers.map((l) => l.removed);
    };
    expect(await removed(2)).toEqual(await removed(2));
    expect(await removed(2)).not.toEqual(await removed(3));
    expect(randomFilter().contract).toEqual({ provides: ['structure'], conflicts: ['codebook', 'encoded'] });
  });
});
