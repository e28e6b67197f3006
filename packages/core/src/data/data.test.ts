import { describe, expect, it } from 'vitest';
import { GraphBuilder, rng, shuffle } from '@condense/ir';
import { agreement } from './agreement.js';
import { batches, collect, hasTargets, modelSpec, type Batch, type ModelSpec } from './batches.js';
import { dataSource } from './source.js';
import { taskFromTrainingConfig } from './task.js';

/** input [3] -> dense 2 softmax. */
const spec: ModelSpec = modelSpec(new GraphBuilder('m', [3]).dense(2, { name: 'out', activation: 'softmax' }).build());
const twoInputs: ModelSpec = {
  inputs: [
    { name: 'image', shape: [2, 2, 1], dtype: 'float32' },
    { name: 'tokens', shape: [4], dtype: 'int32' },
  ],
  outputs: [
    { name: 'cls', shape: [3], dtype: 'float32', activation: 'softmax' },
    { name: 'box', shape: [2], dtype: 'float32', activation: 'linear' },
  ],
};

/** n examples of [3]: example i holds i, i, i; label i % 2. */
const arrays = (n: number) => ({
  inputs: { values: Float32Array.from({ length: 3 * n }, (_, k) => Math.floor(k / 3)), shape: [n, 3] },
  targets: { values: Int32Array.from({ length: n }, (_, i) => i % 2), shape: [n] },
});
const firsts = (b: Batch) => Array.from({ length: b.count }, (_, i) => b.inputs[0].values[i * 3]);
async function all(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('dataSource', () => {
  it('reads arrays, a Split, tensors and nested arrays; knows the count and whether there are targets', async () => {
    const a = dataSource(arrays(5));
    expect([a.count, a.hasTargets, a.repeatable]).toEqual([5, true, true]);
    const split = dataSource({ images: new Float32Array(12), labels: new Uint8Array(4), count: 4, shape: [4, 3] });
    expect(split.count).toBe(4);
    const tensorLike = { shape: [2, 3], dtype: 'float32', dataSync: () => Float32Array.of(1, 2, 3, 4, 5, 6) };
    const t = dataSource({ inputs: tensorLike });
    expect([t.count, t.hasTargets]).toEqual([2, false]);
    const nested = await collect(
      dataSource({
        inputs: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      }),
      spec,
    );
    expect(Array.from(nested!.inputs[0].values)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('names the data and the problem', () => {
    expect(() => dataSource({ inputs: { values: new Float32Array(5), shape: [2, 3] } }, 'train (x.npy)')).toThrow(
      /^train \(x.npy\): inputs: 5 values do not fill the shape \[2, 3\]$/,
    );
    expect(() => dataSource({ inputs: { values: new Float32Array(6), shape: [2, 3] }, targets: { values: new Int32Array(3), shape: [3] } }, 'd')).toThrow(
      /d: every input, target and weight needs 2 examples/,
    );
    expect(() => dataSource(42 as never, 'd')).toThrow(/d: expected arrays, a tf.data.Dataset or an iterable of batches/);
  });
});

describe('batches', () => {
  it('shuffles a memory source by the same permutation the trainer always drew, reading the random stream as before', async () => {
    const r1 = rng(7);
    const got = (await all(batches(dataSource(arrays(10)), spec, { batchSize: 4, random: r1 }))).flatMap(firsts);
    const want = Array.from(
      shuffle(
        Int32Array.from({ length: 10 }, (_, i) => i),
        rng(7),
      ),
    );
    expect(got).toEqual(want);
    const b = await all(batches(dataSource(arrays(10)), spec, { batchSize: 4 }));
    expect(b.map((x) => x.count)).toEqual([4, 4, 2]);
    expect(Array.from(b[2].indices)).toEqual([8, 9]);
    expect(Array.from(b[0].targets![0].values)).toEqual([0, 1, 0, 1]);
  });

  it('streams an async generator through a seeded shuffle buffer: every example once, deterministic, not in data order', async () => {
    async function* gen() {
      for (let c = 0; c < 10; c++) {
        const n = 7; // chunks that do not line up with the batch size
        yield { inputs: { values: Float32Array.from({ length: 3 * n }, (_, k) => c * n + Math.floor(k / 3)), shape: [n, 3] } };
      }
    }
    const source = dataSource(gen, 'stream');
    expect(source.count).toBeUndefined();
    const pass = async (seed: number) => (await all(batches(source, spec, { batchSize: 16, random: rng(seed), shuffleBuffer: 20 }))).flatMap(firsts);
    const a = await pass(3);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 70 }, (_, i) => i));
    expect(await pass(3)).toEqual(a);
    expect(a).not.toEqual(Array.from({ length: 70 }, (_, i) => i));
    // A buffer of 20 holds what has been read: no example comes out 20 or more places ahead of its turn.
    a.forEach((v, i) => expect(v - i).toBeLessThan(20));
    const ordered = (await all(batches(source, spec, { batchSize: 16, limit: 20 }))).flatMap(firsts);
    expect(ordered).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('gives a single example its batch axis; a one-shot iterator reads once', async () => {
    const one = [
      { inputs: [1, 2, 3], targets: { values: Int32Array.of(1), shape: [] } },
      { inputs: [4, 5, 6], targets: { values: Int32Array.of(0), shape: [] } },
    ];
    const [b] = await all(batches(dataSource(one), spec, { batchSize: 8 }));
    expect(b.inputs[0].shape).toEqual([2, 3]);
    expect(Array.from(b.targets![0].values)).toEqual([1, 0]);
    const it = one[Symbol.iterator]();
    const once = dataSource({ [Symbol.iterator]: () => it } as Iterable<(typeof one)[number]>);
    await all(batches(once, spec, { batchSize: 8 }));
    await expect(all(batches(once, spec, { batchSize: 8 }))).rejects.toThrow(/a one-shot iterator can be read once/);
  });

  it('binds named inputs of any dtype and several targets to the model order', async () => {
    const n = 3;
    const source = dataSource({
      inputs: {
        tokens: { values: Int32Array.from({ length: 4 * n }, (_, i) => i), shape: [n, 4] },
        image: { values: new Float32Array(4 * n).fill(0.5), shape: [n, 2, 2, 1] },
      },
      targets: { box: { values: new Float32Array(2 * n), shape: [n, 2] }, cls: { values: Uint8Array.of(0, 2, 1), shape: [n] } },
      weights: { values: Float32Array.of(1, 2, 3), shape: [n] },
    });
    const b = (await collect(source, twoInputs))!;
    expect(b.inputs.map((t) => [t.dtype, t.shape])).toEqual([
      ['float32', [3, 2, 2, 1]],
      ['int32', [3, 4]],
    ]);
    expect(b.inputs[1].values).toBeInstanceOf(Int32Array);
    expect(b.targets!.map((t) => t.shape)).toEqual([[3], [3, 2]]);
    expect(Array.from(b.weights!)).toEqual([1, 2, 3]);
  });

  it('rejects a shape, a dtype or a name that does not fit, naming the data and the examples', async () => {
    const wrong = dataSource({ inputs: { values: new Float32Array(8), shape: [2, 4] } }, 'train (data.csv)');
    await expect(collect(wrong, spec)).rejects.toThrow(/^train \(data.csv\): input 'input' has example shape \[4\], the model takes \[3\] \(examples 0..1\)$/);
    const floats = dataSource(
      { inputs: { image: { values: new Float32Array(8), shape: [2, 2, 2, 1] }, tokens: { values: Float32Array.of(1, 2, 3, 4, 5, 6.5, 7, 8), shape: [2, 4] } } },
      'd',
    );
    await expect(collect(floats, twoInputs)).rejects.toThrow(/d: input 'tokens' is int32, got 6.5 at example 1/);
    const unnamed = dataSource(
      { inputs: { img: { values: new Float32Array(4), shape: [1, 2, 2, 1] }, tokens: { values: new Int32Array(4), shape: [1, 4] } } },
      'd',
    );
    await expect(collect(unnamed, twoInputs)).rejects.toThrow(/d: no input named 'image' \(the model's inputs: image, tokens; given: img, tokens\)/);
  });

  it('finds out whether a stream has targets from its first chunk', async () => {
    expect(
      await hasTargets(
        dataSource(function* () {
          yield { xs: [[1, 2, 3]], ys: [[1]] };
        }),
      ),
    ).toBe(true);
    expect(
      await hasTargets(
        dataSource(function* () {
          yield [[1, 2, 3]];
        }),
      ),
    ).toBe(false);
  });
});

describe('agreement', () => {
  it('top-1 agreement over rows of every classification output, max and mean absolute difference', () => {
    const ref = [{ values: Float32Array.of(0.9, 0.1, 0.2, 0.8), shape: [2, 2], dtype: 'float32' as const }];
    const got = [{ values: Float32Array.of(0.6, 0.4, 0.7, 0.3), shape: [2, 2], dtype: 'float32' as const }];
    const a = agreement(ref, got);
    expect(a.examples).toBe(2);
    expect(a.top1).toBe(0.5);
    expect(a.maxAbsDiff).toBeCloseTo(0.5);
    expect(a.meanAbsDiff).toBeCloseTo((0.3 + 0.3 + 0.5 + 0.5) / 4);
    expect(
      agreement([{ values: Float32Array.of(1, 2), shape: [2, 1], dtype: 'float32' }], [{ values: Float32Array.of(1, 2), shape: [2, 1], dtype: 'float32' }])
        .top1,
    ).toBeUndefined();
  });
});

describe('taskFromTrainingConfig', () => {
  it('reads Keras losses, metrics and loss weights, per output by name or list', () => {
    expect(taskFromTrainingConfig({ loss: 'sparse_categorical_crossentropy', metrics: [['accuracy']] }, ['out'])).toEqual({
      loss: ['sparseCategoricalCrossentropy'],
      metrics: ['accuracy'],
    });
    expect(
      taskFromTrainingConfig(
        {
          loss: { cls: { class_name: 'CategoricalCrossentropy', config: { from_logits: true } }, box: 'mae' },
          loss_weights: [1, 0.5],
          metrics: { cls: ['acc'], box: ['mse'] },
        },
        ['cls', 'box'],
      ),
    ).toEqual({
      loss: [{ type: 'categoricalCrossentropy', fromLogits: true }, 'meanAbsoluteError'],
      lossWeights: [1, 0.5],
      metrics: { cls: ['accuracy'], box: ['meanSquaredError'] },
    });
    expect(taskFromTrainingConfig({ loss: 'my_custom_loss' }, ['out'])).toBeUndefined();
    expect(taskFromTrainingConfig(undefined, ['out'])).toBeUndefined();
  });
});
