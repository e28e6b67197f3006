import { describe, expect, it } from 'vitest';
import { GraphBuilder, referenceValues, rng, runReference, type Graph } from '@condense/ir';
import { dataSource } from '../data/source.js';
import { referenceRuntime } from '../testing.js';
import type { Forward, NodeValue } from './forward.js';
import { batchInputs, LayerPass, splitInputs, type ModelInputs } from './pass.js';

/** A small residual CNN: a branch that joins later, so values stay live across several layers. */
function model(): Graph {
  const b = new GraphBuilder('res', [6, 6, 2], 3);
  b.conv2d(4, 3, { name: 'c1', padding: 'same', activation: 'relu' });
  const skip = b.current;
  b.conv2d(4, 3, { name: 'c2', padding: 'same', activation: 'relu' }).conv2d(4, 1, { name: 'c3' });
  b.addValues([skip, b.current], { name: 'add' });
  return b.maxPool2d(2, { name: 'pool' }).flatten({ name: 'flat' }).dense(3, { name: 'fc' }).build();
}

const COUNT = 10;
const images = Float32Array.from({ length: COUNT * 72 }, rng(4));
const examples: ModelInputs = { count: COUNT, inputs: [{ values: images, shape: [COUNT, 6, 6, 2] }] };

/** The reference runtime's forward, recording every node it computes. */
function counting(): { forward: Forward; computed: string[]; calls: number } {
  const r = referenceRuntime();
  const out = { computed: [] as string[], calls: 0, forward: (async () => new Map()) as Forward };
  out.forward = (graph, request) => {
    out.calls++;
    out.computed.push(...request.nodes);
    return (r.forward as Forward)(graph, request);
  };
  return out;
}

/** Every batch of one value, concatenated. */
async function collect(pass: LayerPass, name: string): Promise<{ values: number[]; batches: number[] }> {
  const values: number[] = [];
  const batches: number[] = [];
  for await (const b of pass.values([name])) {
    const v = b.get(name) as NodeValue;
    values.push(...v.values);
    batches.push(v.shape[0]);
  }
  return { values, batches };
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).every((v, i) => Math.abs(v - b[i]) < 1e-5 * (1 + Math.abs(b[i])));

describe('LayerPass', () => {
  it('streams each layer input, batch by batch, equal to a whole forward pass, computing every node once', async () => {
    const g = model();
    const whole = referenceValues(g, images, COUNT);
    const rt = counting();
    const pass = new LayerPass(rt.forward, g, examples, { batchSize: 4 });
    expect(pass.batches).toBe(3);
    for (const layer of ['c1', 'c2', 'c3', 'fc']) {
      await pass.advance(layer);
      const input = g.nodes.find((n) => n.name === layer)!.inputs[0];
      const callsBefore = rt.calls;
      const got = await collect(pass, input);
      expect(rt.calls, `${layer}: its input is on the frontier`).toBe(callsBefore);
      expect(got.batches).toEqual([4, 4, 2]);
      expect(close(got.values, whole.get(input)!.data), layer).toBe(true);
    }
    // Every node before fc computed exactly once per batch; nothing twice.
    const nodes = g.nodes.filter((n) => n.op !== 'input' && n.name !== 'fc').map((n) => n.name);
    expect([...rt.computed].sort()).toEqual(nodes.flatMap((n) => [n, n, n]).sort());
    expect(pass.stats().computed).toBe(nodes.length);
  });

  it('sequential: a layer changed before the pass reaches it changes what follows; one changed after does not', async () => {
    const g = model();
    const pass = new LayerPass(referenceRuntime().forward as Forward, g, examples);
    await pass.advance('c2');
    g.params.get('c2/kernel')!.data.fill(0); // not computed yet: counts
    await pass.advance('c3');
    const c3in = await collect(pass, 'c2');
    expect(c3in.values.every((v) => v === 0)).toBe(true); // relu(0 + 0 bias)
    g.params.get('c1/kernel')!.data.fill(1); // computed already: the frontier keeps its values
    await pass.advance('fc');
    const fresh = referenceValues(g, images, COUNT).get('flat')!.data;
    expect(close((await collect(pass, 'flat')).values, fresh)).toBe(false);
  });

  it('frees what nothing ahead reads, keeps what a later join reads, and refuses to go back', async () => {
    const g = model();
    const pass = new LayerPass(referenceRuntime().forward as Forward, g, examples, { batchSize: 5 });
    await pass.advance('c3');
    // c1 feeds the add (not computed yet): kept. The graph input: freed.
    expect((await collect(pass, 'c1')).values).toHaveLength(COUNT * 6 * 6 * 4);
    await expect(collect(pass, 'input')).rejects.toThrow(/layer pass over 'res': value 'input' was computed and freed/);
    const held = pass.stats().bytes;
    expect(held).toBe(2 * COUNT * 6 * 6 * 4 * 4); // c1 and c2, float32
    await pass.advance('fc');
    expect(pass.stats().bytes).toBe(COUNT * 3 * 3 * 4 * 4); // flat only
    expect(pass.stats().peakBytes).toBeGreaterThanOrEqual(held);
    await expect(pass.advance('c2')).rejects.toThrow(/node 'c2' is behind the frontier \(the pass only moves forward; open a new pass\)/);
    await expect(pass.advance('nope')).rejects.toThrow(/no node 'nope'/);
    pass.dispose();
    await expect(pass.advance('fc')).rejects.toThrow(/the pass was disposed/);
  });

  it('values past the frontier are computed for the call only (a look ahead)', async () => {
    const g = model();
    const rt = counting();
    const pass = new LayerPass(rt.forward, g, examples, { batchSize: 10 });
    await pass.advance('c2');
    const ahead = await collect(pass, 'add');
    expect(close(ahead.values, referenceValues(g, images, COUNT).get('add')!.data)).toBe(true);
    expect(pass.computed('c2')).toBe(false);
    expect(rt.computed).toEqual(['c1', 'c2', 'c3', 'add']);
    // Both at once: one from the frontier, one ahead.
    for await (const b of pass.values(['c1', 'pool']))
      expect([b.get('c1')!.shape, b.get('pool')!.shape]).toEqual([
        [10, 6, 6, 4],
        [10, 3, 3, 4],
      ]);
  });

  it('frozen: what a look-ahead computes is kept, never computed twice, and advance may name a computed node', async () => {
    const g = model();
    const rt = counting();
    const pass = new LayerPass(rt.forward, g, examples, { batchSize: 5, frozen: true });
    await pass.advance('c2');
    expect(close((await collect(pass, 'add')).values, referenceValues(g, images, COUNT).get('add')!.data)).toBe(true);
    expect(pass.computed('add')).toBe(true);
    await pass.advance('c3'); // behind what the look-ahead computed: nothing to do
    await pass.advance('fc');
    expect(close((await collect(pass, 'flat')).values, referenceValues(g, images, COUNT).get('flat')!.data)).toBe(true);
    // c1, c2, c3, add once (the look-ahead), then pool and flat once: two batches each.
    expect([...rt.computed].sort()).toEqual(['add', 'c1', 'c2', 'c3', 'flat', 'pool'].flatMap((n) => [n, n]).sort());
    // A later look-ahead may ask for what an earlier one computed past the frontier.
    const ahead = new LayerPass(referenceRuntime().forward as Forward, g, examples, { batchSize: 5, frozen: true });
    await ahead.advance('c2');
    await collect(ahead, 'add');
    await ahead.advance('c3');
    expect(close((await collect(ahead, 'c3')).values, referenceValues(g, images, COUNT).get('c3')!.data)).toBe(true);
    await ahead.advance('pool'); // c3 is behind the frontier now, and nothing ahead reads it
    await expect(collect(ahead, 'c3')).rejects.toThrow(/value 'c3' was computed and freed/);
    // retain: only the values a later look-ahead may ask for stay.
    const picky = new LayerPass(referenceRuntime().forward as Forward, g, examples, { batchSize: 5, frozen: true, retain: (v) => v === 'c3' });
    await picky.advance('c2');
    await collect(picky, 'add');
    expect((await collect(picky, 'c3')).values).toHaveLength(COUNT * 6 * 6 * 4);
    await expect(collect(picky, 'c2')).rejects.toThrow(/value 'c2' was computed and freed/);
    // A caller that stops early leaves nothing half-done.
    const fresh = new LayerPass(referenceRuntime().forward as Forward, g, examples, { batchSize: 5, frozen: true });
    for await (const _ of fresh.values(['c3'])) break;
    expect(fresh.computed('c3')).toBe(false);
    expect((await collect(fresh, 'c3')).batches).toEqual([5, 5]);
  });

  it('splitInputs takes the first examples of a split as views; bad examples are refused by name', () => {
    const split = { images, labels: new Uint8Array(COUNT), count: COUNT, shape: [COUNT, 6, 6, 2] };
    const x = splitInputs(split, 4);
    expect(x.count).toBe(4);
    expect(x.inputs[0].shape).toEqual([4, 6, 6, 2]);
    expect(x.inputs[0].values.buffer).toBe(images.buffer);
    expect(splitInputs({ ...split, shape: [6, 6, 2] }).inputs[0].shape).toEqual([COUNT, 6, 6, 2]);
    const f = referenceRuntime().forward as Forward;
    expect(() => new LayerPass(f, model(), { count: 3, inputs: [{ values: new Float32Array(5), shape: [3, 6, 6, 2] }] })).toThrow(
      /input 'input' has 5 values of shape \[3, 6, 6, 2\], expected 3 examples/,
    );
    expect(() => new LayerPass(f, model(), { count: 1, inputs: [] })).toThrow(/graph 'res' takes 1 input\(s\), the examples have 0/);
    expect(() => new LayerPass(f, model(), examples, { batchSize: 0 })).toThrow(/batchSize must be a positive integer, got 0/);
  });
  it('batchInputs: float32 inputs as views, integer ones as float32 copies', () => {
    const ints = Int32Array.of(1, 2, 3);
    const x = batchInputs({
      count: 3,
      indices: Int32Array.of(0, 1, 2),
      inputs: [
        { values: images, shape: [COUNT, 72], dtype: 'float32' },
        { values: ints, shape: [3, 1], dtype: 'int32' },
      ],
    });
    expect(x.inputs[0].values).toBe(images);
    expect(x.inputs[1].values).toEqual(Float32Array.of(1, 2, 3));
  });

  it("the reference runtime predicts the graph's outputs on the first examples, as the interpreter computes them", async () => {
    const g = model();
    const data = dataSource({ inputs: { values: images, shape: [COUNT, 6, 6, 2], dtype: 'float32' } }, 'images');
    const [out] = await referenceRuntime().predict(g, data, { limit: 4 });
    expect(out.shape).toEqual([4, 3]);
    expect(out.values).toEqual(runReference(g, images.subarray(0, 4 * 72), 4));
  });
});
