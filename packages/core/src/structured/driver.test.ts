import { describe, expect, it } from 'vitest';
import { channelGroups, GraphBuilder, runReference, validate, type ChannelGroup, type Graph, type Param } from '@condense/ir';
import { planGroups, pruneGroups, pruneGroupsSync, SkipGroup, type RemovalStep } from './driver.js';
import { filterL1Norms, l1FilterImportance, randomImportance, type Importance } from './importance.js';

/** conv a -> conv b -> (conv c, conv d) -> add -> flatten -> dense fc -> dense out; c and d are coupled by the add. */
function net(seed = 3): Graph {
  const b = new GraphBuilder('net', [6, 6, 2], seed);
  b.conv2d(8, 3, { name: 'a', padding: 'same', activation: 'relu' }).conv2d(10, 3, { name: 'b', padding: 'same', activation: 'relu' });
  b.conv2d(6, 1, { name: 'c' }, 'b');
  b.conv2d(6, 1, { name: 'd' }, 'b');
  b.addValues(['c', 'd'], { name: 'sum' }).flatten({ name: 'flat' }).dense(12, { name: 'fc', activation: 'relu' }).dense(3, { name: 'out' });
  return b.build();
}

const p = (g: Graph, name: string) => g.params.get(name) as Param;
const outChannels = (g: Graph, node: string) => p(g, `${node}/kernel`).shape.at(-1);

/** Scale output channel c of a producer's kernel by f(c). */
function scaleFilters(g: Graph, node: string, f: (c: number) => number) {
  const k = p(g, `${node}/kernel`);
  const n = k.shape.at(-1) as number;
  for (let e = 0; e < k.data.length; e++) k.data[e] *= f(e % n);
}

describe('planGroups', () => {
  it('selects by ops, include, layers; exclude protects a whole group; unprunable and coupled groups are reported', () => {
    const g = net();
    const plan = (o: Parameters<typeof planGroups>[1]) => planGroups(g, o, 'test');
    expect(plan({ ops: ['conv2d'] }).plan.map((e) => [e.layer, e.ratio])).toEqual([
      ['a', 0.5],
      ['b', 0.5],
      ['c+d', 0.5],
    ]);
    expect(plan({ ratio: 0.25, ops: ['conv2d'], include: ['b', 'c'] }).plan.map((e) => e.layer)).toEqual(['b', 'c+d']);
    expect(plan({ layers: { a: 0.3, fc: 0.6 } }).plan.map((e) => [e.layer, e.ratio])).toEqual([
      ['a', 0.3],
      ['fc', 0.6],
    ]);
    const guarded = plan({ ratio: 0.5, ops: ['conv2d'], exclude: ['d'], layers: { c: 0.25 } });
    expect(guarded.plan.map((e) => e.layer)).toEqual(['a', 'b']);
    expect(guarded.skipped).toEqual([{ layer: 'c+d', reason: 'protected by exclude' }]);
    expect(plan({ ops: ['conv2d'], coupled: 'skip' }).skipped[0].reason).toMatch(/coupled/);
    // All of them: the output layer is skipped with its reason...
    expect(plan({}).skipped).toEqual([{ layer: 'out', reason: expect.stringMatching(/graph output 'out'/) }]);
    // ...but naming it exactly is an error; a typo lists the candidates.
    expect(() => plan({ layers: { out: 0.5 } })).toThrow(/test: layers: layer 'out' cannot be pruned: .*graph output/);
    expect(() => plan({ layers: { conv9: 0.5 } })).toThrow(
      /layers key pattern 'conv9' matches no layer.*candidates: a \(conv2d\), b \(conv2d\), c \(conv2d\), d \(conv2d\), fc \(dense\), out \(dense\)/,
    );
    expect(() => plan({ ratio: 1 })).toThrow(/test: ratio must be a number in \(0, 1\)/);
    expect(() => plan({ scope: 'global', layers: { a: 0.5 } })).toThrow(/scope 'global' takes one ratio/);
  });
});

describe('pruneGroups', () => {
  it('removes the lowest-scored channels of each group for real, the function of what is left intact', async () => {
    const g = net();
    scaleFilters(g, 'a', (c) => (c % 2 ? 0.01 : 1)); // the odd filters of 'a' are the smallest
    const report = await pruneGroups(g, l1FilterImportance, { ops: ['conv2d'], ratio: 0.5 });
    validate(g);
    expect(report.layers.map((l) => [l.layer, l.channelsBefore, l.channelsAfter])).toEqual([
      ['a', 8, 4],
      ['b', 10, 5],
      ['c+d', 6, 3],
    ]);
    expect([...report.layers[0].removed].sort()).toEqual([1, 3, 5, 7]);
    expect(p(g, 'b/kernel').shape).toEqual([3, 3, 4, 5]);
    expect(p(g, 'fc/kernel').shape).toEqual([6 * 6 * 3, 12]);
    expect(runReference(g, new Float32Array(72).fill(0.5), 1)).toHaveLength(3);
  });

  it('scores each group on the graph as pruned so far (groups recomputed after every removal)', async () => {
    const g = net();
    const seen: { id: string; fresh: boolean }[] = [];
    const check: Importance = (graph, group) => {
      seen.push({ id: group.id, fresh: group.slices.every((s) => graph.params.get(s.param)?.shape[s.axis] === s.dim) });
      return filterL1Norms(graph, group);
    };
    await pruneGroups(g, check, { ops: ['conv2d'], ratio: 0.5 });
    expect(seen).toEqual([
      { id: 'a', fresh: true },
      { id: 'b', fresh: true },
      { id: 'c+d', fresh: true },
    ]);
    expect(p(g, 'b/kernel').shape).toEqual([3, 3, 4, 5]);
  });

  it('roundTo keeps channel counts multiples of N; maxRatio caps a group', async () => {
    const g = net();
    await pruneGroups(g, l1FilterImportance, { layers: { a: 0.6, b: 0.3, fc: 0.9 }, roundTo: 4, maxRatio: 0.75 });
    // a: 8 - round(4.8) = 3 kept -> 4; b: 10 - 3 = 7 kept -> 8; fc: 12 - 11 = 1 kept, capped at 12 - 9 = 3 -> 4.
    expect([outChannels(g, 'a'), outChannels(g, 'b'), outChannels(g, 'fc')]).toEqual([4, 8, 4]);
  });

  it("global scope ranks every group's normalised scores together", async () => {
    const g = net();
    scaleFilters(g, 'a', (c) => (c < 6 ? 1e-3 : 1)); // six filters of 'a' stand far below the rest
    const r = await pruneGroups(g, l1FilterImportance, { ops: ['conv2d'], ratio: 0.25, scope: 'global' });
    const byLayer = Object.fromEntries(r.layers.map((l) => [l.layer, l.channelsBefore - l.channelsAfter]));
    expect(byLayer.a).toBe(6);
    expect(Object.values(byLayer).reduce((x, y) => x + y, 0)).toBe(Math.round(0.25 * (8 + 10 + 6)));
    const capped = net();
    scaleFilters(capped, 'a', (c) => (c < 6 ? 1e-3 : 1));
    const rc = await pruneGroups(capped, l1FilterImportance, { ops: ['conv2d'], ratio: 0.25, scope: 'global', maxRatio: 0.5 });
    expect(rc.layers.find((l) => l.layer === 'a')?.channelsAfter).toBe(4);
  });

  it('threshold removes every channel at or below it, and a group keeps one', () => {
    const g = net();
    const zeroOdd: Importance = (_graph, group) => Float64Array.from({ length: group.size }, (_, c) => (group.id === 'b' ? 0 : c % 2));
    const r = pruneGroupsSync(g, zeroOdd, { threshold: 0 });
    expect(r.layers.map((l) => [l.layer, l.channelsAfter])).toEqual([
      ['a', 4],
      ['b', 1],
      ['c+d', 3],
      ['fc', 6],
    ]);
    expect(r.skipped.map((s) => s.layer)).toEqual(['out']);
  });

  it('hooks see each removal before and after; SkipGroup leaves a group as it was', async () => {
    const g = net();
    const before: string[] = [];
    const after: string[] = [];
    const compensate = (s: RemovalStep) => {
      if (s.group.id === 'b') throw new SkipGroup('b is special');
      before.push(`${s.group.id} ${s.removed.length}+${s.kept.length} ${outChannels(s.graph, s.group.producers[0])}`);
    };
    const r = await pruneGroups(
      g,
      l1FilterImportance,
      { ops: ['conv2d'], ratio: 0.5 },
      { compensate, afterRemove: async (s) => void after.push(`${s.group.id} ${outChannels(s.graph, s.group.producers[0])} ${s.index}/${s.total}`) },
    );
    expect(before).toEqual(['a 4+4 8', 'c+d 3+3 6']);
    expect(after).toEqual(['a 4 0/3', 'c+d 3 2/3']);
    expect(r.skipped).toEqual([{ layer: 'b', reason: 'b is special' }]);
    expect(outChannels(g, 'b')).toBe(10);
  });

  it('random is seeded per group; a bad importance is an error naming the group', async () => {
    const removed = async (seed: number) => (await pruneGroups(net(), randomImportance, { ops: ['conv2d'], seed })).layers.map((l) => l.removed);
    expect(await removed(3)).toEqual(await removed(3));
    expect(await removed(3)).not.toEqual(await removed(4));
    const short: Importance = (_g, group: ChannelGroup) => new Float64Array(group.size - 1);
    await expect(pruneGroups(net(), short, {}, {}, 'test')).rejects.toThrow(/test: the importance gave 7 scores for group 'a' of 8 channels/);
    const later: Importance = async (graph, group) => filterL1Norms(graph, group);
    expect(() => pruneGroupsSync(net(), later, {}, {}, 'test')).toThrow(/returned a promise/);
    expect(channelGroups(net()).length).toBe(5);
  });
});
