import { describe, expect, it } from 'vitest';
import { buildPipeline, createRegistry, parseRecipe, pipeline } from '@condense/core';
import { cost, validate, vggSmall, type Graph, type Param } from '@condense/ir';
import { l1Filter, randomFilter } from './filters.js';
import { register } from './plugins.js';

/** conv1 32, conv2 32, pool, conv3 64, conv4 64, pool, fc1 256, fc2 10. */
const cnn = () => vggSmall(4);

const kernel = (g: Graph, n: string) => g.params.get(`${n}/kernel`) as Param;

/** Scale the output filters `which` of a layer's kernel. */
function scaleFilters(g: Graph, layer: string, which: (c: number) => boolean, f: number) {
  const k = kernel(g, layer);
  const n = k.shape.at(-1) as number;
  for (let e = 0; e < k.data.length; e++) if (which(e % n)) k.data[e] *= f;
}

describe('prune.l1Filter', () => {
  it('removes the filters with the smallest L1 norm, for real, from every conv layer', async () => {
    const g = cnn();
    scaleFilters(g, 'conv1', (c) => c >= 28, 1e-3);
    const r = await pipeline([l1Filter({ ratio: 0.125 })]).run(g);
    const out = r.graph;
    validate(out);
    const details = r.stages[0].details as { layers: { layer: string; removed: number[] }[] };
    expect(details.layers.map((l) => l.layer)).toEqual(['conv1', 'conv2', 'conv3', 'conv4']);
    expect([...details.layers[0].removed].sort()).toEqual([28, 29, 30, 31]);
    expect(kernel(out, 'conv2').shape).toEqual([3, 3, 28, 28]);
    expect(kernel(out, 'fc1').shape).toEqual([7 * 7 * 56, 256]);
    expect(cost(out).totals.macs).toBeLessThan(0.8 * cost(g).totals.macs);
    expect(r.stages[0].notes[0]).toBe('conv1: 32 -> 28 channels');
  });

  it('takes exclude (protected layers), roundTo and dense layers through ops', async () => {
    const run = async (o: Parameters<typeof l1Filter>[0], g = cnn()) => (await pipeline([l1Filter(o)]).run(g)).graph;
    const widths = (g: Graph, layers = ['conv1', 'conv2', 'conv3', 'conv4', 'fc1']) => layers.map((l) => kernel(g, l).shape.at(-1));
    expect(widths(await run({ ratio: 0.5, exclude: ['conv1'] }), ['conv1', 'conv2'])).toEqual([32, 16]);
    // 30% removed, kept counts rounded up to multiples of 12: 22 -> 24, 45 -> 48, 179 -> 180.
    expect(widths(await run({ ratio: 0.3, roundTo: 12, ops: ['conv2d', 'dense'] }))).toEqual([24, 24, 48, 48, 180]);
    await expect(run({ layers: { conv7: 0.5 } })).rejects.toThrow(/prune\.l1Filter: layers key pattern 'conv7' matches no layer/);
  });

  it("global scope: one ranking of norms divided by each layer's mean, at most maxRatio of any layer", async () => {
    const run = async (g: Graph, o: Parameters<typeof l1Filter>[0]) => (await pipeline([l1Filter({ ratio: 0.5, scope: 'global', ...o })]).run(g)).graph;
    const widths = (g: Graph) => ['conv1', 'conv2', 'conv3', 'conv4'].map((l) => kernel(g, l).shape[3]);
    const plain = widths(await run(cnn(), {}));
    expect(plain.reduce((a, b) => a + b, 0)).toBe(96);
    // A whole layer scaled down is no weaker after normalisation...
    const quiet = cnn();
    scaleFilters(quiet, 'conv1', () => true, 1e-3);
    expect(widths(await run(quiet, {}))).toEqual(plain);
    // ...but 28 filters far below the layer's others go first, up to maxRatio.
    const skewed = () => {
      const g = cnn();
      scaleFilters(g, 'conv1', (c) => c < 28, 1e-3);
      return g;
    };
    expect(widths(await run(skewed(), {}))[0]).toBe(4);
    expect(widths(await run(skewed(), { maxRatio: 0.75 }))[0]).toBe(8);
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
