import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, buildPipeline, LayerPass, parseRecipe, pipeline, referenceRuntime } from '@condense/core';
import { channelGroups, cloneGraph, cost, groupOf, GraphBuilder, inferShapes, rng, validate, type Graph, type Param } from '@condense/ir';
import { compile, selectBackend, tfjsRuntime, toArtifacts } from '@condense/tfjs';
import { contributionGrams, contributionSamples, type GroupSource } from './contrib.js';
import { selfTarget } from './math.js';
import { pruneChannels } from './prune.js';
import { imageInputs, PASS_BATCH, type CalibrationSet, type PassFactory } from './sampling.js';
import { register, thinet, thinetL1, thinetRandom } from './plugins.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

function images(count: number, example: number[], seed = 1, classes = 10): CalibrationSet & { labels: Uint8Array; shape: number[] } {
  const size = example.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  return {
    images: Float32Array.from({ length: count * size }, r),
    labels: Uint8Array.from({ length: count }, (_, i) => i % classes),
    count,
    shape: [count, ...example],
  };
}

function predict(graph: Graph, data: CalibrationSet, tap?: string): Float32Array {
  const m = compile(graph);
  const x = tf.tensor(data.images, data.shape as number[]);
  const r = m.predict(x, tap ? { taps: [tap] } : {});
  const out = (tap ? r.taps[tap] : r.output).dataSync() as Float32Array;
  tf.dispose([x, r.output, r.logits, ...Object.values(r.taps)]);
  m.dispose();
  return out;
}

const p = (g: Graph, name: string) => g.params.get(name) as Param;

/** Layer passes through TF.js, as a pipeline's runtime opens them. */
const pass: PassFactory = (g, x, o) => new LayerPass(tfjsRuntime().forward!, g, x, { batchSize: PASS_BATCH, ...o });
const withData = (calibration: CalibrationSet) => ({ calibration, pass });
/** Where a group's contributions are sampled: a pass on `g` (batches of `batchSize`) and, optionally, one on a reference. */
const sourceOf = (g: Graph, data: CalibrationSet, batchSize: number, reference?: Graph): GroupSource => {
  const open = (x: Graph) => ({ graph: x, pass: new LayerPass(tfjsRuntime().forward!, x, imageInputs(data), { batchSize }) });
  return { ...open(g), ...(reference ? { reference: open(reference) } : {}) };
};

/** Zero the output channels `cs` of a producer's kernel (last axis) and bias. */
function zeroOutputs(g: Graph, node: string, cs: number[]) {
  const k = p(g, `${node}/kernel`);
  const out = k.shape.at(-1) as number;
  for (let e = 0; e < k.data.length; e++) if (cs.includes(e % out)) k.data[e] = 0;
  const b = g.params.get(`${node}/bias`);
  if (b) for (const c of cs) b.data[c] = 0;
}

function fillRandom(param: Param, seed: number, lo: number, hi: number) {
  const r = rng(seed);
  for (let i = 0; i < param.data.length; i++) param.data[i] = lo + (hi - lo) * r();
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return m / Math.max(scale, 1e-12);
}

describe('contributions', () => {
  for (const conv of [
    { padding: 'same' as const, strides: 2 },
    { padding: 'valid' as const, dilation: 2 },
    { padding: 'same' as const, strides: [2, 1] as [number, number], kernel: [1, 3] as [number, number] },
  ]) {
    it(`sum to the next layer's output at the sampled locations (conv ${JSON.stringify(conv)}, then dense through flatten)`, async () => {
      const g = new GraphBuilder('c', [7, 7, 2], 3)
        .conv2d(4, 3, { name: 'a', padding: 'same', activation: 'relu' })
        .conv2d(3, conv.kernel ?? 3, { name: 'b', bias: false, ...conv })
        .flatten({ name: 'flat' })
        .dense(5, { name: 'out', bias: false })
        .build();
      const data = images(6, [7, 7, 2]);
      for (const [group, next] of [
        ['a', 'b'],
        ['b', 'out'],
      ]) {
        const y = predict(g, data, next);
        const dims = (inferShapes(g).get(next) as number[]).slice(1); // [H', W', K] or [K]
        const C = groupOf(g, group).size;
        const [s] = await contributionSamples(groupOf(g, group), sourceOf(g, data, 4), { samplesPerImage: 5, seed: 2 });
        expect(s.samples).toBe(30);
        for (let t = 0; t < s.samples; t++) {
          let sum = 0;
          for (let c = 0; c < C; c++) sum += s.x[t * C + c];
          const at = dims.length === 3 ? ((s.n[t] * dims[0] + s.i[t]) * dims[1] + s.j[t]) * dims[2] + s.k[t] : s.n[t] * dims[0] + s.k[t];
          expect(sum).toBeCloseTo(y[at], 4);
        }
      }
    });
  }
});

describe('sampling', () => {
  it('does not depend on how the pass batches the images, with several next layers', async () => {
    const g = residualNet();
    const data = images(10, [8, 8, 3]);
    const [a, b] = [
      await contributionSamples(groupOf(g, 'c1'), sourceOf(g, data, 3), { samplesPerImage: 4, seed: 5 }),
      await contributionSamples(groupOf(g, 'c1'), sourceOf(g, data, 10), { samplesPerImage: 4, seed: 5 }),
    ];
    expect(a.map((c) => c.consumer)).toEqual(['c2', 'c3']);
    for (const t of [0, 1]) {
      expect(a[t].k).toEqual(b[t].k);
      expect(a[t].i).toEqual(b[t].i);
      expect(Array.from(a[t].x).every((v, i) => Math.abs(v - b[t].x[i]) < 1e-6)).toBe(true);
    }
  });
});

describe('cost', () => {
  it('one forward pass of the reference for the whole run, at most two of the model being pruned', async () => {
    const g = new GraphBuilder('v', [12, 12, 1], 3)
      .conv2d(8, 3, { name: 'c1', padding: 'same', bias: false })
      .batchNorm({ name: 'bn1' })
      .activation('relu', { name: 'r1' })
      .conv2d(8, 3, { name: 'c2', padding: 'same', activation: 'relu' })
      .maxPool2d(2, { name: 'pool' })
      .conv2d(8, 3, { name: 'c3', padding: 'same', activation: 'relu' })
      .flatten({ name: 'flat' })
      .dense(10, { name: 'out' })
      .build();
    const counts = { frozen: new Map<string, number>(), live: new Map<string, number>() };
    const rt = referenceRuntime();
    const counting: PassFactory = (graph, x, o) =>
      new LayerPass(
        async (gg, req) => {
          const m = counts[o?.frozen ? 'frozen' : 'live'];
          for (const n of req.nodes) m.set(n, (m.get(n) ?? 0) + 1);
          return rt.forward!(gg, req);
        },
        graph,
        x,
        { batchSize: 5, ...o },
      );
    await pruneChannels(g, { ratio: 0.5, imagesPerClass: 1 }, { calibration: images(10, [12, 12, 1]), pass: counting });
    // 10 images in batches of 5: every node of the reference twice (once per batch), none of the pruned model's more than 4 times.
    expect([...counts.frozen.values()].every((n) => n === 2)).toBe(true);
    expect([...counts.frozen.keys()]).toEqual(expect.arrayContaining(['c1', 'r1', 'c2', 'pool', 'c3', 'flat']));
    expect(Math.max(...counts.live.values())).toBeLessThanOrEqual(4);

    // An inception-style block: a group's next layers sit past a concat, so its look-ahead computes
    // branches whose own groups come next (their inputs stay available).
    const b = new GraphBuilder('inc', [10, 10, 2], 4);
    b.conv2d(6, 3, { name: 'stem', padding: 'same', activation: 'relu' });
    const a1 = b.conv2d(4, 1, { name: 'a1', activation: 'relu' }, 'stem').current;
    const a2 = b.conv2d(4, 1, { name: 'a2', activation: 'relu' }, 'stem').conv2d(6, 3, { name: 'a3', padding: 'same', activation: 'relu' }).current;
    b.concat([a1, a2], { name: 'mix' }).conv2d(8, 1, { name: 'next', activation: 'relu' }).flatten({ name: 'f' }).dense(3, { name: 'out' });
    const inc = b.build();
    counts.frozen.clear();
    const r = await pruneChannels(inc, { ratio: 0.5, imagesPerClass: 1 }, { calibration: images(10, [10, 10, 2]), pass: counting });
    expect(r.layers.map((l) => l.layer)).toEqual(['stem', 'a1', 'a2', 'a3', 'next']);
    expect([...counts.frozen.values()].every((n) => n === 2)).toBe(true);
  });
});

describe('reference response', () => {
  it('is sampled at the same locations: a reference whose next layer is doubled gives h = 2 G 1 and |t|^2 = 4 |y|^2', async () => {
    const g = new GraphBuilder('r', [7, 7, 2], 5)
      .conv2d(4, 3, { name: 'a', padding: 'same', activation: 'relu' })
      .conv2d(3, 3, { name: 'b', padding: 'same', strides: 2 })
      .flatten({ name: 'flat' })
      .dense(2, { name: 'out' })
      .build();
    const reference = cloneGraph(g);
    const k = p(reference, 'b/kernel');
    for (let e = 0; e < k.data.length; e++) k.data[e] *= 2;
    const data = images(6, [7, 7, 2]);
    const [c] = await contributionGrams(groupOf(g, 'a'), sourceOf(g, data, 64, reference), { samplesPerImage: 5, seed: 3 });
    const self = selfTarget(c.gram, 4);
    const t = c.target as { h: Float64Array; tt: number };
    self.h.forEach((v, i) => expect(t.h[i]).toBeCloseTo(2 * v, 3));
    expect(t.tt / (4 * self.tt)).toBeCloseTo(1, 5);
  });
});

/**
 * conv c1 -> batchNorm -> relu -> (conv c2 3x3, conv c3 1x1) -> add -> maxPool -> flatten -> dense out.
 * c2 and c3 are coupled by the add.
 */
function residualNet(seed = 5): Graph {
  const b = new GraphBuilder('res', [8, 8, 3], seed);
  b.conv2d(8, 3, { name: 'c1', padding: 'same', bias: false }).batchNorm({ name: 'bn1' }).activation('relu', { name: 'r1' });
  b.conv2d(8, 3, { name: 'c2', padding: 'same' }, 'r1');
  b.conv2d(8, 1, { name: 'c3', padding: 'same' }, 'r1');
  b.addValues(['c2', 'c3'], { name: 'sum' }).maxPool2d(2, { name: 'pool' }).flatten({ name: 'flat' }).dense(10, { name: 'out', activation: 'softmax' });
  const g = b.build();
  // Batch-norm statistics that are not the identity, so slicing them matters.
  fillRandom(p(g, 'bn1/gamma'), 1, 0.5, 1.5);
  fillRandom(p(g, 'bn1/beta'), 2, -0.2, 0.2);
  fillRandom(p(g, 'bn1/movingMean'), 3, -0.2, 0.2);
  fillRandom(p(g, 'bn1/movingVariance'), 4, 0.5, 2);
  for (const n of ['c2', 'c3']) fillRandom(p(g, `${n}/bias`), 6, -0.1, 0.1);
  return g;
}

/** Make channels {1, 4} of c1 and {0, 5} of the c2+c3 group exactly zero where the next layers read them. */
function zeroSomeChannels(g: Graph) {
  zeroOutputs(g, 'c1', [1, 4]);
  for (const c of [1, 4]) {
    p(g, 'bn1/beta').data[c] = 0;
    p(g, 'bn1/movingMean').data[c] = 0;
  }
  zeroOutputs(g, 'c2', [0, 5]);
  zeroOutputs(g, 'c3', [0, 5]);
}

describe('removal', () => {
  for (const method of ['thinet', 'l1'] as const) {
    it(`${method}: removing zero channels through batchNorm, add and flatten leaves the outputs unchanged`, async () => {
      const g = residualNet();
      zeroSomeChannels(g);
      const data = images(20, [8, 8, 3]);
      const before = predict(g, data);
      const macs = cost(g).totals.macs;
      const report = await pruneChannels(g, { importance: method, layers: { c1: 0.25, c2: 0.25 }, imagesPerClass: 2 }, withData(data));
      validate(g);
      expect(report.layers.map((l) => [l.layer, [...l.removed].sort()])).toEqual([
        ['c1', [1, 4]],
        ['c2+c3', [0, 5]],
      ]);
      expect(p(g, 'bn1/gamma').shape).toEqual([6]);
      expect(p(g, 'c2/kernel').shape).toEqual([3, 3, 6, 6]);
      expect(p(g, 'c3/kernel').shape).toEqual([1, 1, 6, 6]);
      expect(p(g, 'out/kernel').shape).toEqual([4 * 4 * 6, 10]);
      expect(cost(g).totals.macs).toBeLessThan(macs);
      expect(maxRelDiff(before, predict(g, data))).toBeLessThan(1e-4);
      for (const l of report.layers) expect(l.reconstructionError).toBeLessThan(1e-6);
    });
  }

  it('thinet removes the channels the next layer ignores, where the L1 norm keeps them', async () => {
    const make = () => {
      const g = new GraphBuilder('ign', [6, 6, 2], 9)
        .conv2d(6, 3, { name: 'a', padding: 'same', activation: 'relu' })
        .conv2d(4, 3, { name: 'b', padding: 'same', activation: 'relu' })
        .flatten({ name: 'flat' })
        .dense(3, { name: 'out' })
        .build();
      const a = p(g, 'a/kernel');
      for (let e = 0; e < a.data.length; e++) if (e % 6 < 3) a.data[e] *= 10; // the largest filters...
      const b = p(g, 'b/kernel');
      for (let e = 0; e < b.data.length; e++) if (Math.floor(e / 4) % 6 < 3) b.data[e] = 0; // ...which b ignores
      return g;
    };
    const data = images(10, [6, 6, 2]);
    const [gt, gl] = [make(), make()];
    const before = predict(gt, data);
    const rt = await pruneChannels(gt, { importance: 'thinet', layers: { a: 0.5 } }, withData(data));
    const rl = await pruneChannels(gl, { importance: 'l1', layers: { a: 0.5 } }, withData(data));
    expect([...rt.layers[0].removed].sort()).toEqual([0, 1, 2]);
    expect(rt.layers[0].reconstructionError).toBeLessThan(1e-9);
    expect(maxRelDiff(before, predict(gt, data))).toBeLessThan(1e-4);
    expect([...rl.layers[0].removed].sort()).toEqual([3, 4, 5]);
    expect(rl.layers[0].reconstructionError).toBeGreaterThan(0.5);
  });

  it('least squares lowers the reconstruction error and is folded into the next layer', async () => {
    const g = residualNet(7);
    const data = images(20, [8, 8, 3], 4);
    const o = { layers: { c1: 0.5 }, imagesPerClass: 2, target: 'current', biasCorrection: false } as const;
    const r = await pruneChannels(g, o, withData(data));
    const [row] = r.layers;
    expect(row.channelsAfter).toBe(4);
    expect(row.reconstructionErrorLS).toBeLessThan(row.reconstructionError as number);
    expect(row.consumers.map((c) => c.consumer).sort()).toEqual(['c2', 'c3']);
    const plain = residualNet(7);
    await pruneChannels(plain, { ...o, leastSquares: false }, withData(data));
    expect(Array.from(p(plain, 'c2/kernel').data)).not.toEqual(Array.from(p(g, 'c2/kernel').data));
  });

  for (const [method, bn] of [
    ['thinet', false],
    ['l1', false],
    ['thinet', true],
  ] as const) {
    it(`${method}: bias correction absorbs a removed constant channel exactly${bn ? ' (into the batch norm after a bias-free layer)' : ''}`, async () => {
      // Channel 2 of 'a' is the constant relu(0.5) (zero kernel, bias 0.5): the smallest filter,
      // and b reads it through small weights, so both criteria remove it. b's 'valid' windows
      // never see padding, so what it contributed to b is a constant per output channel.
      const make = () => {
        const builder = new GraphBuilder('const', [6, 6, 2], 4)
          .conv2d(4, 3, { name: 'a', padding: 'same', activation: 'relu' })
          .conv2d(3, 3, { name: 'b', padding: 'valid', bias: !bn });
        if (bn) builder.batchNorm({ name: 'bn' });
        const g = builder.flatten({ name: 'flat' }).dense(2, { name: 'out' }).build();
        zeroOutputs(g, 'a', [2]);
        p(g, 'a/bias').data[2] = 0.5;
        const b = p(g, 'b/kernel');
        for (let e = 0; e < b.data.length; e++) if (Math.floor(e / 3) % 4 === 2) b.data[e] *= 0.01;
        return g;
      };
      const data = images(10, [6, 6, 2]);
      const tap = bn ? 'bn' : 'b';
      const before = predict(make(), data, tap);
      const errorAfter = async (biasCorrection: boolean) => {
        const g = make();
        const r = await pruneChannels(g, { importance: method, layers: { a: 0.25 }, biasCorrection, leastSquares: false, target: 'current' }, withData(data));
        expect(r.layers[0].removed).toEqual([2]);
        expect(r.layers[0].consumers[0].note).toBeUndefined();
        return maxRelDiff(before, predict(g, data, tap));
      };
      expect(await errorAfter(false)).toBeGreaterThan(1e-4);
      expect(await errorAfter(true)).toBeLessThan(1e-5);
    });
  }

  it('random is seeded; coupled groups can be skipped with a note', async () => {
    const removed = async (seed: number) => (await pruneChannels(residualNet(), { importance: 'random', ratio: 0.5, seed }, {})).layers.map((l) => l.removed);
    expect(await removed(3)).toEqual(await removed(3));
    expect(await removed(3)).not.toEqual(await removed(4));
    const g = residualNet();
    const r = await pruneChannels(g, { importance: 'l1', ratio: 0.5, coupled: 'skip' }, {});
    expect(r.layers.map((l) => l.layer)).toEqual(['c1']);
    expect(r.skipped[0]).toMatchObject({ layer: 'c2+c3' });
    expect(r.skipped[0].reason).toMatch(/coupled/);
    expect(channelGroups(g).find((x) => x.id === 'c2+c3')?.size).toBe(8);
  });

  it('fine-tunes between layers (not after the last) and at the end', async () => {
    const calls: number[] = [];
    const env = { ...withData(images(10, [8, 8, 3])), finetune: async (_g: Graph, o: { epochs: number }) => void calls.push(o.epochs) };
    const f = { learningRate: 1e-3, batchSize: 8 };
    await pruneChannels(residualNet(), { importance: 'thinet', ratio: 0.5, finetuneBetween: { epochs: 1, ...f }, finetune: { epochs: 2, ...f } }, env);
    expect(calls).toEqual([1, 2]);
    await expect(pruneChannels(residualNet(), { importance: 'l1', ratio: 0.5, finetune: { epochs: 1, ...f } }, {})).rejects.toThrow(/no training data/);
  });
});

describe('errors', () => {
  it('rejects a ratio outside (0, 1), naming the field', async () => {
    expect(() => thinet({ ratio: 1.5 })).toThrow(/ratio/);
    expect(() => thinet({ ratio: 0 })).toThrow(/ratio/);
    expect(() => thinetL1({ layers: { c1: 1 } })).toThrow(/layers\.c1/);
    await expect(pruneChannels(residualNet(), { importance: 'random', ratio: 1 })).rejects.toThrow(
      /^thinet: invalid options\n\s+ratio: Expected number to be less than 1/,
    );
    await expect(pruneChannels(residualNet(), { importance: 'random', layers: { c1: -0.5 } }, {}, 'mine')).rejects.toThrow(
      /^mine: invalid options\n\s+layers\.c1: Expected number to be greater than 0/,
    );
  });

  it('rejects a layer that does not exist or cannot be pruned', async () => {
    const data = { calibration: images(10, [8, 8, 3]) };
    const runtime = tfjsRuntime();
    const candidates = 'candidates: c1 \\(conv2d\\), c2 \\(conv2d\\), c3 \\(conv2d\\), out \\(dense\\)';
    await expect(pipeline([thinet({ layers: { conv9: 0.5 } })]).run(residualNet(), { data, runtime })).rejects.toThrow(
      new RegExp(`thinet: layers key pattern 'conv9' matches no layer, param or op type \\(${candidates}\\)`),
    );
    await expect(pipeline([thinet({ layers: { out: 0.5 } })]).run(residualNet(), { data, runtime })).rejects.toThrow(
      /thinet: layers: layer 'out' cannot be pruned: .*graph output 'out'/,
    );
    await expect(pipeline([thinet({ layers: { pool: 0.5 } })]).run(residualNet(), { data, runtime })).rejects.toThrow(
      /layers key pattern 'pool' matches no layer/,
    );
    await expect(pipeline([thinet({ exclude: ['c9'] })]).run(residualNet(), { data, runtime })).rejects.toThrow(
      /thinet: exclude pattern 'c9' matches no layer/,
    );
    expect(() => pipeline([thinet({ ratio: 0.5 })]).check({})).toThrow(/calibration/);
  });
});

describe('plugins', () => {
  it('run from a recipe, prune every conv layer but never the output, and fine-tune', async () => {
    const g = new GraphBuilder('vggish', [8, 8, 1], 2)
      .conv2d(8, 3, { name: 'conv1', padding: 'same', activation: 'relu' })
      .conv2d(8, 3, { name: 'conv2', padding: 'same', activation: 'relu' })
      .maxPool2d(2, { name: 'pool' })
      .flatten({ name: 'flat' })
      .dense(16, { name: 'fc1', activation: 'relu' })
      .dense(10, { name: 'fc2', activation: 'softmax' })
      .build();
    const registry = createRegistry();
    register(registry);
    expect(registry.names()).toEqual(expect.arrayContaining(['thinet', 'thinet.l1norm', 'thinet.random']));
    const recipe = parseRecipe('stages:\n  - thinet: { ratio: 0.5, ops: [conv2d, dense], imagesPerClass: 3 }\n  - finetune: { epochs: 1, batchSize: 16 }');
    const train = images(40, [8, 8, 1], 8);
    const result = await buildPipeline(recipe, registry).run(g, { data: { train }, runtime: tfjsRuntime() });
    const out = result.graph;
    expect(p(out, 'conv1/kernel').shape).toEqual([3, 3, 1, 4]);
    expect(p(out, 'conv2/kernel').shape).toEqual([3, 3, 4, 4]);
    expect(p(out, 'fc1/kernel').shape).toEqual([4 * 4 * 4, 8]);
    expect(p(out, 'fc2/kernel').shape).toEqual([8, 10]);
    const details = result.stages[0].details as { layers: { layer: string; channelsBefore: number; channelsAfter: number; reconstructionErrorLS: number }[] };
    expect(details.layers.map((l) => [l.layer, l.channelsBefore, l.channelsAfter])).toEqual([
      ['conv1', 8, 4],
      ['conv2', 8, 4],
      ['fc1', 16, 8],
    ]);
    for (const l of details.layers) expect(l.reconstructionErrorLS).toBeGreaterThanOrEqual(0);
    // The report's rows: the next layers' output errors, removal alone -> least squares.
    const rows = result.stages[0].details!.reconstruction as { layer: string; errorBefore: number; errorAfter: number }[];
    expect(rows.map((x) => x.layer)).toEqual(['conv2', 'fc1', 'fc2']);
    for (const x of rows) expect(x.errorAfter).toBeLessThanOrEqual(x.errorBefore);
    expect(result.stages[0].notes[0]).toMatch(/^conv1: 8 -> 4 channels, reconstruction error [\d.e-]+ \(after least squares [\d.e-]+\)$/);
    expect(result.snapshots[1].params).toBeLessThan(result.snapshots[0].params);
    // Really smaller on disk: the exported weights shrink with the params.
    const bytes = (x: Graph) => (toArtifacts(x).artifacts.weightData as ArrayBuffer).byteLength;
    expect(bytes(out)).toBeLessThan(bytes(g) * 0.6);
  });

  it('importance swaps the ranking; the deprecated aliases are thinet with another importance, and say so', async () => {
    const g = residualNet();
    const viaOption = await pipeline([thinet({ importance: 'l1', ratio: 0.5, exclude: ['c3'] })]).run(g);
    const viaAlias = await pipeline([thinetL1({ ratio: 0.5, exclude: ['c3'] })]).run(g);
    const removed = (r: typeof viaOption) =>
      (r.stages[0].details as { layers: { layer: string; removed: number[] }[] }).layers.map((l) => [l.layer, l.removed]);
    expect(removed(viaOption)).toEqual(removed(viaAlias));
    expect(removed(viaOption).map(([l]) => l)).toEqual(['c1']);
    expect(viaOption.stages[0].notes).toContain('skipped c2+c3: protected by exclude');
    expect(viaAlias.stages[0].notes[0]).toMatch(/thinet\.l1norm is deprecated: use prune\.l1Filter/);
    expect(thinet({ importance: 'l1' }).contract.requires).toEqual([]);
    expect(thinet({ importance: 'l1', leastSquares: true }).contract.requires).toEqual(['calibration']);
  });

  it('baselines run without calibration data and declare their contracts', async () => {
    const r = await pipeline([thinetL1({ ratio: 0.5 }), thinetRandom({ ratio: 0.25 })]).run(residualNet());
    expect(p(r.graph, 'c1/kernel').shape.at(-1)).toBe(3);
    expect(thinet().contract).toEqual({ requires: ['calibration'], provides: ['structure'], conflicts: ['codebook', 'encoded'], runtime: ['forward'] });
    expect(thinetL1().contract.runtime).toBeUndefined();
    expect(thinetL1({ finetune: { epochs: 1, learningRate: 1e-3, batchSize: 8 } }).contract.requires).toEqual(['labels']);
  });
});
