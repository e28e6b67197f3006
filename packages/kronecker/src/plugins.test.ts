import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPipeline, createRegistry, finetune, parseRecipe, pipeline } from '@condense/core';
import { GraphBuilder, cost, lenet300100, lenet5, runReference } from '@condense/ir';
import { tfjsRuntime } from '@condense/tfjs';
import { kroneckerFactorize, kroneckerMaterialize, register } from './index.js';
import { factorizeGraph, planLayers } from './plugins.js';
import { kronSum } from './nkp.js';
import { chooseShapes } from './shapes.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A small MLP on 8x8 images: 64 -> 48 -> 24 -> 10. */
const mlp = () =>
  new GraphBuilder('mlp', [8, 8, 1], 2)
    .flatten({ name: 'flatten' })
    .dense(48, { name: 'fc1', activation: 'relu' })
    .dense(24, { name: 'fc2', activation: 'relu' })
    .dense(10, { name: 'fc3', activation: 'softmax' })
    .build();

function values(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  });
}

describe('kronecker.factorize', () => {
  it('factorizes LeNet-300-100 fc1 and fc2 (not the classifier) and reports each layer', async () => {
    // Kernels with a decaying Kronecker spectrum (as trained ones have; random ones are flat and slow to factor).
    const model = lenet300100();
    for (const name of ['fc1/kernel', 'fc2/kernel']) {
      const k = model.params.get(name)!;
      const s = chooseShapes(k.shape);
      const na = s.a[0] * s.a[1];
      const nb = s.b[0] * s.b[1];
      k.data = kronSum(
        values(10 * na, 1).map((v, i) => (v - 0.5) * 0.5 ** Math.floor(i / na)),
        values(10 * nb, 2).map((v) => v - 0.5),
        s.a,
        s.b,
        10,
      );
    }
    const r = await pipeline([kroneckerFactorize({ rank: 4 })]).run(model);
    const g = r.graph;
    expect(g.nodes.map((n) => `${n.name}:${n.op}`)).toEqual(['input:input', 'flatten:flatten', 'fc1:kronDense', 'fc2:kronDense', 'fc3:dense']);
    const layers = r.stages[0].details!.layers as {
      layer: string;
      a: number[];
      b: number[];
      factorParams: number;
      relativeError: number;
      tailRelativeError: number;
    }[];
    expect(layers.map((l) => l.layer)).toEqual(['fc1', 'fc2']);
    expect(layers[0].factorParams).toBe(4 * 980);
    for (const l of layers) {
      expect(l.relativeError).toBeGreaterThan(0);
      expect(l.relativeError).toBeLessThan(1);
      expect(l.relativeError).toBeCloseTo(l.tailRelativeError, 4);
    }
    expect(cost(g).totals.params).toBe(266_610 - 235_200 - 30_000 + layers[0].factorParams + layers[1].factorParams);
  });

  it('derives ranks from a target ratio, per layer where given', () => {
    const g = mlp();
    // fc1 [64, 48]: the fewest values per term is 8x6 + 8x8 = 112 -> rank floor(3072 / (4 * 112)) = 6.
    const reports = factorizeGraph(g, { ratio: 4, rank: { fc2: 2 }, output: true, exclude: ['fc3'] });
    expect(reports.map((r) => [r.layer, r.rank])).toEqual([
      ['fc1', 6],
      ['fc2', 2],
    ]);
    expect(reports[0].ratio).toBeGreaterThanOrEqual(4);
  });

  it('factorizes LeNet-5 conv layers (GKPD) and keeps the function at full rank', () => {
    const g = lenet5();
    const x = values(2 * 784, 3);
    const before = runReference(g, x, 2);
    const reports = factorizeGraph(g, { include: ['conv2'], shapes: { conv2: { a: [5, 1, 4, 5], b: [1, 5, 5, 10] } }, rank: 4 });
    expect(reports[0].maxRank).toBe(100);
    expect(g.nodes.find((n) => n.name === 'conv2')!.op).toBe('kronConv2d');
    // Rank 4 of 100 loses something; the reported error is what was measured.
    expect(reports[0].relativeError).toBeGreaterThan(0.01);
    expect(reports[0].relativeError).toBeCloseTo(reports[0].tailRelativeError, 4);
    const full = lenet5();
    factorizeGraph(full, { include: ['conv1'], shapes: { conv1: { a: [5, 1, 1, 4], b: [1, 5, 1, 5] } }, rank: 20 });
    const after = runReference(full, x, 2);
    after.forEach((v, i) => expect(v).toBeCloseTo(before[i], 5));
    expect(reports[0].macsAfter).toBeLessThan(reports[0].macsBefore);
  });

  it('gives clear errors for factor shapes that do not divide the layer, and other bad options', () => {
    expect(() => factorizeGraph(lenet300100(), { rank: 2, shapes: { fc1: { a: [28, 15], b: [27, 20] } } })).toThrow(
      /layer 'fc1': .*do not divide the kernel \[784, 300\]: on axis 0, 28 x 27 = 756, not 784/,
    );
    expect(() => factorizeGraph(lenet300100(), { rank: 2, shapes: { fc1: { a: [28, 15, 1], b: [28, 20] } } })).toThrow(/layer 'fc1'.*rank 2/);
    expect(() => factorizeGraph(lenet300100(), { rank: 500 })).toThrow(/layer 'fc1'.*(no Kronecker factorization allowing rank 500|rank must be)/);
    expect(() => factorizeGraph(lenet300100(), { rank: 2, shapes: { fc9: { a: [1, 1], b: [1, 1] } } })).toThrow(
      /kronecker\.factorize: shapes key pattern 'fc9' matches no layer, param or op type \(candidates: fc1 \(dense\), fc2 \(dense\)\)/,
    );
    expect(() => factorizeGraph(lenet300100(), { rank: 2, include: ['conv*'] })).toThrow(
      /kronecker\.factorize: include pattern 'conv\*' matches no layer, param or op type \(candidates: fc1 \(dense\), fc2 \(dense\), fc3 \(dense\)\)/,
    );
    // Op types name layers too; the most specific key wins (fc2 by name over every dense layer by type).
    expect(planLayers(lenet300100(), { ops: ['dense'], output: false, tolerance: 0.05, rank: { dense: 2, fc2: 3 } }).get('fc2')?.rank).toBe(3);
    expect(() => factorizeGraph(lenet300100(), { ratio: 100000 })).toThrow(/layer 'fc1': ratio 100000 is out of reach/);
    expect(() => kroneckerFactorize({})).toThrow(/give rank or ratio/);
    expect(() => kroneckerFactorize({ rank: 0 })).toThrow(/rank/);
    const g = lenet300100();
    const before = structuredClone(g.nodes);
    expect(() => factorizeGraph(g, { rank: { fc1: 2, fc2: 1000 } })).toThrow(/layer 'fc2'/);
    expect(g.nodes).toEqual(before); // planned before anything changed
  });

  it('runs from a recipe, fine-tunes, and materializes back to dense', async () => {
    const registry = createRegistry();
    register(registry);
    const recipe = parseRecipe('stages:\n  - kronecker.factorize: { rank: 2 }\n  - finetune: { epochs: 1 }\n  - kronecker.materialize: {}');
    const n = 256;
    const train = { images: values(n * 64, 5), labels: Uint8Array.from({ length: n }, (_, i) => i % 10), count: n, shape: [n, 8, 8, 1] };
    const r = await buildPipeline(recipe, registry).run(mlp(), { data: { train }, runtime: tfjsRuntime(), evaluateEachStage: false });
    expect(r.stages.map((s) => s.name)).toEqual(['kronecker.factorize', 'finetune', 'kronecker.materialize']);
    expect(r.graph.nodes.every((node) => node.op !== 'kronDense')).toBe(true);
    expect(r.graph.params.get('fc1/kernel')!.shape).toEqual([64, 48]);
    expect(r.snapshots[1].params).toBeLessThan(r.snapshots[0].params / 4);
  });

  it('refuses to factorize a kernel that carries a mask, and materialize after a codebook', () => {
    const g = lenet300100();
    g.params.get('fc1/kernel')!.mask = new Uint8Array(784 * 300).fill(1);
    expect(() => factorizeGraph(g, { rank: 2 })).toThrow(/layer 'fc1': kernel 'fc1\/kernel' carries mask/);
    // Said at check time, before any stage runs, when the input model carries it.
    expect(() => pipeline([{ name: 'first', options: {}, contract: {} }, kroneckerFactorize({ rank: 2 })]).check({}, g)).toThrow(
      /^stage 2 \(kronecker.factorize\) cannot run on this model: layer 'fc1': kernel 'fc1\/kernel' carries mask/,
    );
    // A weight read from a uint8 manifest carries no annotation: nothing to refuse.
    const fromUint8 = lenet300100();
    const k = fromUint8.params.get('fc1/kernel')!;
    k.stored = {
      entry: { name: k.name, shape: k.shape, dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.01, min: -1.28 } },
      bytes: new Uint8Array(0),
    };
    expect(() => kroneckerFactorize({ rank: 2 }).check?.(fromUint8)).not.toThrow();
    const p = pipeline([kroneckerFactorize({ rank: 2 }), { name: 'fake.kmeans', options: {}, contract: { provides: ['codebook'] } }, kroneckerMaterialize()]);
    expect(() => p.check()).toThrow(/kronecker.materialize.*codebook/);
    expect(finetune).toBeDefined();
  });
});
