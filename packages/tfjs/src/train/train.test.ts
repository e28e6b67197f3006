import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { cloneGraph, GraphBuilder, lenet300100, rng, setCodebook, setMask, type Graph } from '@condense/ir';
import { compile } from '../exec/index.js';
import { evaluate, predict, train, type TrainEvent, type TrainingContribution } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Separable synthetic data: one random prototype per class plus noise, values in [0, 1]. */
function synthetic(count: number, example: number[], classes: number, seed = 1) {
  const size = example.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const protos = Array.from({ length: classes }, () => Float32Array.from({ length: size }, () => r()));
  const x = new Float32Array(count * size);
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    y[i] = i % classes;
    for (let j = 0; j < size; j++) x[i * size + j] = Math.min(1, Math.max(0, protos[y[i]][j] + (r() - 0.5) * 0.4));
  }
  return { x, y, count, shape: [count, ...example] };
}

/** input [8] -> fc1 16 relu -> drop -> fc2 4 softmax. */
function small(seed = 3, dropout = 0): Graph {
  const b = new GraphBuilder('small', [8], seed).dense(16, { name: 'fc1', activation: 'relu' });
  if (dropout) b.dropout(dropout, { name: 'drop' });
  return b.dense(4, { name: 'fc2', activation: 'softmax' }).build();
}

const data8 = synthetic(64, [8], 4, 5);
const arr = (g: Graph, name: string) => Array.from(g.params.get(name)!.data);

describe('train', () => {
  it('LeNet-300-100 learns a small separable problem', async () => {
    const g = lenet300100(1);
    // Kept small: the CPU backend runs LeNet-300-100 at only a few hundred samples/s.
    const data = synthetic(60, [28, 28, 1], 10, 2);
    const before = await evaluate(g, data);
    const s = await train(g, data, { epochs: 3, batchSize: 20, learningRate: 3e-3, seed: 1 });
    const after = await evaluate(g, data);
    expect(after.accuracy).toBeGreaterThan(0.9);
    expect(after.accuracy).toBeGreaterThan(before.accuracy + 0.3);
    expect(after.loss).toBeLessThan(before.loss);
    expect(s.history).toHaveLength(3);
    expect(s.history[2].loss).toBeLessThan(s.history[0].loss);
    expect(s.steps).toBe(3 * 3);
    expect(s.samplesPerSec).toBeGreaterThan(0);
  });

  it('masked weights stay exactly zero (Adam, decoupled decay)', async () => {
    const g = small();
    const k = g.params.get('fc1/kernel')!;
    const mask = Uint8Array.from({ length: k.data.length }, (_, i) => (i % 3 === 0 ? 0 : 1));
    setMask(k, mask);
    const before = Array.from(k.data);
    const model = compile(g);
    await train(model, data8, { epochs: 4, batchSize: 16, learningRate: 0.01, weightDecay: 1e-3, weightDecayMode: 'decoupled' });
    const v = model.variables.get('fc1/kernel')!.dataSync();
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] === 0) {
        expect(k.data[i]).toBe(0);
        expect(v[i]).toBe(0);
      }
    }
    expect(Array.from(k.data).filter((x, i) => mask[i] === 1 && x !== before[i]).length).toBeGreaterThan(mask.length / 2);
    model.dispose();
  });

  it("the centroid gradient is the sum of its unmasked members' gradients", async () => {
    const b = new GraphBuilder('cb', [3]);
    const kernel = new Float32Array(6);
    b.add('dense', ['input'], { activation: 'softmax' }, { kernel: [[3, 2], kernel], bias: [[2], new Float32Array([0.1, -0.1])] }, 'fc');
    const g = b.build();
    const p = g.params.get('fc/kernel')!;
    const indices = Uint16Array.from([0, 1, 0, 1, 1, 0]);
    setMask(p, Uint8Array.from([1, 1, 0, 1, 1, 1]));
    setCodebook(p, { centroids: new Float32Array([0.5, -0.25]), indices, bits: 1 });
    const data = { x: Float32Array.from([1, 0, 2, 0, 1, -1, 0.5, 0.5, 0.5, -1, 2, 0]), y: Uint8Array.from([0, 1, 1, 0]), count: 4, shape: [3] };

    // Reference: dL/dW on the whole batch with the current (shared, masked) weights.
    const w0 = Array.from(p.data);
    const gw = tf.tidy(() => {
      const x = tf.tensor2d(data.x, [4, 3]);
      const labels = tf.oneHot(tf.tensor1d(Array.from(data.y), 'int32'), 2);
      const bias = tf.tensor1d([0.1, -0.1]);
      const f = (w: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, tf.add(tf.matMul(x, w as tf.Tensor2D), bias));
      return Array.from(
        tf
          .grad(f)(tf.tensor2d(w0, [3, 2]))
          .dataSync(),
      );
    });
    const expected = [0.5, -0.25].map((c, k) => c - gw.reduce((acc, gi, i) => acc + (indices[i] === k && i !== 2 ? gi : 0), 0));

    await train(g, data, { epochs: 1, batchSize: 4, shuffle: false, optimizer: { type: 'sgd', momentum: 0 }, learningRate: 1 });
    const c = p.codebook!.centroids;
    expect(c[0]).toBeCloseTo(expected[0], 5);
    expect(c[1]).toBeCloseTo(expected[1], 5);
    p.data.forEach((v, i) => expect(v).toBe(i === 2 ? 0 : c[indices[i]]));
    // the masked member's own gradient did not count
    expect(gw[2]).not.toBeCloseTo(0, 3);
  });

  it('codebook sharing survives many Adam steps exactly; the centroids move', async () => {
    const g = small();
    const p = g.params.get('fc1/kernel')!;
    const n = p.data.length;
    const indices = Uint16Array.from({ length: n }, (_, i) => i % 4);
    setCodebook(p, { centroids: new Float32Array([-0.3, -0.1, 0.1, 0.3]), indices, bits: 2 });
    const model = compile(g);
    await train(model, data8, { epochs: 3, batchSize: 16, learningRate: 0.01, weightDecay: 1e-4 });
    const c = p.codebook!.centroids;
    expect(Array.from(c)).not.toEqual([-0.3, -0.1, 0.1, 0.3].map(Math.fround));
    const v = model.variables.get('fc1/kernel')!.dataSync();
    for (let i = 0; i < n; i++) {
      expect(p.data[i]).toBe(c[indices[i]]);
      expect(v[i]).toBe(c[indices[i]]);
    }
    model.dispose();
  });

  it('frozen params do not move', async () => {
    const g = small();
    g.params.get('fc1/kernel')!.frozen = true;
    const [k0, b0] = [arr(g, 'fc1/kernel'), arr(g, 'fc2/kernel')];
    await train(g, data8, { epochs: 2, batchSize: 16, learningRate: 0.01, weightDecay: 0.1 });
    expect(arr(g, 'fc1/kernel')).toEqual(k0);
    expect(arr(g, 'fc2/kernel')).not.toEqual(b0);
  });

  it('is deterministic under a seed (shuffle and dropout)', async () => {
    const base = small(3, 0.5);
    const runs = await Promise.all(
      [1, 1, 2].map(async (seed) => {
        const g = cloneGraph(base);
        await train(g, data8, { epochs: 2, batchSize: 8, learningRate: 0.01, seed });
        return [...arr(g, 'fc1/kernel'), ...arr(g, 'fc2/kernel')];
      }),
    );
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]).not.toEqual(runs[2]);
  });

  it('augments image batches: deterministic under a seed, different from training without; refuses non-image inputs', async () => {
    const base = new GraphBuilder('img', [6, 6, 1], 4).flatten().dense(4, { name: 'fc', activation: 'softmax' }).build();
    const data = synthetic(32, [6, 6, 1], 4, 6);
    const run = async (augment?: { shift?: number; flip?: boolean }) => {
      const g = cloneGraph(base);
      await train(g, data, { epochs: 2, batchSize: 8, learningRate: 0.01, seed: 1, augment });
      return arr(g, 'fc/kernel');
    };
    const [a, b, plain] = [await run({ shift: 2, flip: true }), await run({ shift: 2, flip: true }), await run()];
    expect(a).toEqual(b);
    expect(a).not.toEqual(plain);
    expect(await run({ shift: 0 })).toEqual(plain);
    await expect(train(cloneGraph(small()), data8, { augment: { shift: 1 } })).rejects.toThrow(/augment needs image inputs/);
  });

  it('applies weight decay to kernels only: l2 and decoupled shrink by (1 - lr * decay) per step', async () => {
    const zeroGrads: TrainingContribution = {
      name: 'zero',
      transformGradients: (grads) => new Map([...grads].map(([k, g]) => [k, tf.zerosLike(g)])),
    };
    for (const [mode, optimizer] of [
      ['l2', { type: 'sgd', momentum: 0 }],
      ['decoupled', 'adam'],
    ] as const) {
      const g = small();
      const [k0, bias0] = [arr(g, 'fc1/kernel'), arr(g, 'fc1/bias')];
      const s = await train(g, data8, {
        epochs: 1,
        batchSize: 16,
        learningRate: 0.1,
        weightDecay: 0.5,
        weightDecayMode: mode,
        optimizer,
        contributions: [zeroGrads],
      });
      const factor = (1 - 0.1 * 0.5) ** s.steps;
      arr(g, 'fc1/kernel').forEach((v, i) => expect(v).toBeCloseTo(k0[i] * factor, 5));
      expect(arr(g, 'fc1/bias')).toEqual(bias0);
    }
  });

  it("applies a contribution's loss, transformGradients, afterStep, taps, variables, begin and end", async () => {
    const g = small();
    const calls = { begin: 0, end: 0, after: 0, transform: 0 };
    let tapShape: number[] = [];
    let keys: string[] = [];
    const v = tf.tidy(() => tf.variable(tf.scalar(0), true, 'test/hintScale'));
    const contribution: TrainingContribution = {
      name: 'test',
      taps: ['fc1'],
      variables: () => new Map([['hint/scale', v]]),
      loss: (ctx) => {
        tapShape = ctx.taps.fc1.shape;
        expect(ctx.batchIndices.length).toBe(ctx.x.shape[0]);
        return tf.add(tf.square(tf.sub(ctx.variables.get('hint/scale')!, 3)), 5) as tf.Scalar;
      },
      transformGradients: (grads) => {
        calls.transform++;
        keys = [...grads.keys()].sort();
        const out = new Map(grads);
        out.set('fc2/bias', tf.zerosLike(grads.get('fc2/bias')!));
        return out;
      },
      afterStep: (ctx) => {
        calls.after++;
        if (ctx.step === 1) {
          // gradual pruning: a new mask from afterStep takes effect at once
          const p = ctx.graph.params.get('fc1/kernel')!;
          setMask(
            p,
            Uint8Array.from({ length: p.data.length }, (_, i) => (i < 40 ? 0 : 1)),
          );
        }
        if (ctx.step === 3) {
          // ... and so does one edited in place
          ctx.graph.params.get('fc1/kernel')!.mask![40] = 0;
        }
      },
      begin: () => calls.begin++,
      end: () => calls.end++,
    };
    const bias0 = arr(g, 'fc2/bias');
    const model = compile(g);
    const s = await train(model, data8, { epochs: 2, batchSize: 16, learningRate: 0.1, contributions: [contribution] });
    expect(calls).toEqual({ begin: 1, end: 1, after: s.steps, transform: s.steps });
    expect(tapShape).toEqual([16, 16]);
    expect(keys).toEqual(['fc1/bias', 'fc1/kernel', 'fc2/bias', 'fc2/kernel', 'hint/scale']);
    expect(arr(g, 'fc2/bias')).toEqual(bias0);
    expect(v.dataSync()[0]).toBeGreaterThan(0.5);
    expect(s.finalLoss).toBeGreaterThan(5);
    const k = model.variables.get('fc1/kernel')!.dataSync();
    // (the variable may hold -0 where w * 0 was negative; Param.data holds +0)
    for (let i = 0; i <= 40; i++) expect(k[i] === 0).toBe(true);
    arr(g, 'fc1/kernel')
      .slice(0, 41)
      .forEach((x) => expect(x).toBe(0));
    model.dispose();
    v.dispose();
  });

  it('emits events in order, validates, and stops on abort', async () => {
    const events: TrainEvent[] = [];
    const validation = synthetic(20, [8], 4, 9);
    const s = await train(small(), data8, { epochs: 2, batchSize: 16, logEvery: 2, validation, onEvent: (e) => events.push(e) });
    expect(events.map((e) => e.type)).toEqual(['epochStart', 'step', 'step', 'epochEnd', 'epochStart', 'step', 'step', 'epochEnd', 'end']);
    expect(events[3].valAccuracy).toBeGreaterThanOrEqual(0);
    expect(events[3].loss).toBeGreaterThan(0);
    expect(s.validation?.accuracy).toBe(s.history[1].valAccuracy);
    expect(s.aborted).toBe(false);

    const controller = new AbortController();
    const g = small();
    const k0 = arr(g, 'fc1/kernel');
    const aborted = await train(g, data8, {
      epochs: 5,
      batchSize: 8,
      logEvery: 1,
      signal: controller.signal,
      onEvent: (e) => e.type === 'step' && e.step === 3 && controller.abort(),
    });
    expect(aborted.aborted).toBe(true);
    expect(aborted.steps).toBe(3);
    expect(aborted.epochs).toBe(1);
    expect(arr(g, 'fc1/kernel')).not.toEqual(k0);
  });

  it('updates batchNorm moving statistics in training', async () => {
    const g = new GraphBuilder('bn', [4, 4, 1], 2)
      .conv2d(3, 3, { name: 'conv', bias: false })
      .batchNorm({ name: 'bn' })
      .activation('relu')
      .flatten()
      .dense(4, { name: 'out', activation: 'softmax' })
      .build();
    const data = synthetic(32, [4, 4, 1], 4, 3);
    await train(g, data, { epochs: 2, batchSize: 8 });
    expect(arr(g, 'bn/movingMean').some((x) => x !== 0)).toBe(true);
    expect(arr(g, 'bn/gamma').some((x) => x !== 1)).toBe(true);
  });

  it('rejects bad data with a clear message', async () => {
    await expect(train(small(), { ...data8, y: Uint8Array.from(data8.y, () => 7) })).rejects.toThrow(
      /train: train data: label 7 at example 0 is out of range for 4 classes/,
    );
    await expect(train(small(), { ...data8, shape: [64, 9] })).rejects.toThrow(/train data: images: 512 values do not fill the shape \[64, 9\]/);
  });

  it("microBatch: chunks with accumulated gradients give the whole batch's step, with a contribution loss, and leak nothing", async () => {
    const l1: TrainingContribution = { name: 'l1', loss: (ctx) => tf.mul(1e-2, tf.sum(tf.abs(ctx.variables.get('fc1/kernel')!))) as tf.Scalar };
    const run = async (microBatch?: number) => {
      const g = small();
      const s = await train(g, data8, { epochs: 2, batchSize: 24, learningRate: 0.01, seed: 4, contributions: [l1], ...(microBatch ? { microBatch } : {}) });
      return { g, s };
    };
    const whole = await run();
    const start = tf.memory().numTensors;
    const split = await run(7); // 24 = 7 + 7 + 7 + 3, and the last batch of 16 = 7 + 7 + 2
    expect(tf.memory().numTensors).toBe(start);
    for (const name of ['fc1/kernel', 'fc1/bias', 'fc2/kernel']) {
      const [a, b] = [arr(whole.g, name), arr(split.g, name)];
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-5);
    }
    expect(split.s.history[1].loss).toBeCloseTo(whole.s.history[1].loss, 5);
    expect(split.s.history[1].accuracy).toBe(whole.s.history[1].accuracy);
    // and the step really moved the weights
    expect(Math.max(...arr(split.g, 'fc1/kernel').map((v, i) => Math.abs(v - arr(small(), 'fc1/kernel')[i])))).toBeGreaterThan(1e-3);
    await expect(train(small(), data8, { microBatch: 0 })).rejects.toThrow(/microBatch must be a positive integer, got 0/);
  });

  it('leaks no tensors (train, evaluate, predict)', async () => {
    const g = small(3, 0.2);
    setMask(
      g.params.get('fc1/kernel')!,
      Uint8Array.from({ length: 128 }, (_, i) => i % 2),
    );
    setCodebook(g.params.get('fc2/kernel')!, { centroids: new Float32Array([-0.2, 0.2]), indices: Uint16Array.from({ length: 64 }, (_, i) => i % 2), bits: 1 });
    const model = compile(g);
    const start = tf.memory().numTensors;
    const hint: TrainingContribution = { name: 'l1', taps: ['fc1'], loss: (ctx) => tf.mul(1e-3, tf.mean(tf.abs(ctx.taps.fc1))) as tf.Scalar };
    await train(model, data8, { epochs: 3, batchSize: 16, contributions: [hint], validation: data8, optimizer: { type: 'sgd', momentum: 0.9 } });
    await evaluate(model, data8, { batchSize: 10 });
    predict(model, data8.x, 10).dispose();
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
    const before = tf.memory().numTensors;
    await train(small(), data8, { epochs: 2, batchSize: 16 });
    await evaluate(small(), data8);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('evaluate and predict', () => {
  const identity = () => new GraphBuilder('id', [3]).activation('softmax', { name: 'sm' }).build();
  const data = { x: Float32Array.from([3, 2, 1, 1, 3, 2, 1, 2, 3, 3, 1, 2]), y: Uint8Array.from([0, 2, 2, 1]), count: 4, shape: [3] };

  it('computes accuracy, top-k accuracy and mean cross-entropy', async () => {
    const r = await evaluate(identity(), data, { batchSize: 3, topK: 2 });
    expect(r.count).toBe(4);
    expect(r.accuracy).toBe(0.5); // rows 0 and 2
    expect(r.topKAccuracy).toBe(0.75); // row 1: label 2 is second; row 3: label 1 is last
    const ce = (row: number[], label: number) => Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) - row[label];
    const want = (ce([3, 2, 1], 0) + ce([1, 3, 2], 2) + ce([1, 2, 3], 2) + ce([3, 1, 2], 1)) / 4;
    expect(r.loss).toBeCloseTo(want, 5);
    expect(r.k).toBe(2);
  });

  it('accepts the images/labels spelling of @condense/datasets', async () => {
    const r = await evaluate(identity(), { images: data.x, labels: data.y, count: 4, shape: [4, 3] });
    expect(r.accuracy).toBe(0.5);
  });

  it('predicts in batches, equal to one call', () => {
    const g = small();
    const model = compile(g);
    const all = predict(model, data8.x, 7);
    const x = tf.tensor2d(data8.x, [64, 8]);
    const one = model.predict(x);
    expect(all.shape).toEqual([64, 4]);
    const [a, b] = [all.dataSync(), one.output.dataSync()];
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 6));
    const fromTensor = predict(model, x, 10);
    expect(fromTensor.shape).toEqual([64, 4]);
    tf.dispose([all, x, one.output, one.logits!, fromTensor]);
    model.dispose();
  });
});
