import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, rng, type Graph } from '@condense/ir';
import { compile, crossEntropy, train, type TrainEvent } from '@condense/tfjs';
import { hintContribution, kdContribution, nstContribution } from './contributions.js';
import { kdLoss } from './losses.js';
import { teacherFor } from '@condense/tfjs';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Separable synthetic 4x4x1 images, 3 classes. */
function synthetic(count: number, seed = 1) {
  const r = rng(seed);
  const protos = Array.from({ length: 3 }, () => Float32Array.from({ length: 16 }, () => r()));
  const x = new Float32Array(count * 16);
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    y[i] = i % 3;
    for (let j = 0; j < 16; j++) x[i * 16 + j] = protos[y[i]][j] + (r() - 0.5) * 0.6;
  }
  return { x, y, count, shape: [count, 4, 4, 1] };
}

/** conv 'feat' (channels) 4x4, flatten, dense 3 softmax. */
function net(name: string, channels: number, seed: number): Graph {
  return new GraphBuilder(name, [4, 4, 1], seed)
    .conv2d(channels, 3, { name: 'feat', padding: 'same', activation: 'relu' })
    .flatten({ name: 'flat' })
    .dense(3, { name: 'out', activation: 'softmax' })
    .build();
}

const data = synthetic(48);
const values = (g: Graph) => [...g.params.values()].map((p) => Array.from(p.data));

describe('distill.kd contribution', () => {
  it('the trainer loss is alpha T^2 soft + (1 - alpha) hard', async () => {
    const teacher = net('teacher', 6, 1);
    const student = net('student', 2, 2);
    const [T, alpha] = [3, 0.8];
    // Hand computation on the initial weights, for the one batch of the first step.
    const s = compile(student);
    const t = compile(teacher);
    const x = tf.tensor(data.x, [48, 4, 4, 1]);
    const y = tf.tensor1d(Array.from(data.y), 'int32');
    const rs = s.predict(x);
    const rt = t.predict(x);
    const hard = crossEntropy(rs, y, 3).dataSync()[0];
    const soft = kdLoss(rs.logits!, rt.logits!, { temperature: T, alpha }).dataSync()[0];
    s.dispose();
    t.dispose();
    const events: TrainEvent[] = [];
    const kd = kdContribution(teacher, { temperature: T, alpha });
    expect(kd.taskLossWeight).toBeCloseTo(0.2);
    await train(student, data, { epochs: 1, batchSize: 48, logEvery: 1, contributions: [kd], onEvent: (e) => events.push(e) });
    const first = events.find((e) => e.type === 'step')!;
    expect(first.loss).toBeCloseTo(soft + (1 - alpha) * hard, 4);
  });

  it('gradients do not reach the teacher', async () => {
    const teacher = net('teacher', 4, 1);
    const before = values(teacher);
    const student = net('student', 2, 2);
    await train(student, data, { epochs: 2, batchSize: 16, learningRate: 0.05, contributions: [kdContribution(teacher, { temperature: 4, alpha: 1 })] });
    expect(values(teacher)).toEqual(before);
    // Even differentiating explicitly through the teacher gives nothing back.
    const shared = teacherFor(teacher);
    const model = shared.acquire();
    try {
      const x = tf.tensor(data.x.slice(0, 32), [2, 4, 4, 1]);
      const g = tf.grad((v: tf.Tensor) => tf.sum(shared.run(v).logits))(x);
      expect(tf.max(tf.abs(g)).dataSync()[0]).toBe(0);
      for (const v of model.variables.values()) expect(v.trainable).toBe(false);
    } finally {
      shared.release();
    }
  });

  it('the student learns from the teacher alone (alpha = 1) and moves towards it', async () => {
    const teacher = net('teacher', 6, 1);
    await train(teacher, data, { epochs: 15, batchSize: 16, learningRate: 0.02, seed: 1 });
    const student = net('student', 2, 5);
    const gap = (g: Graph) => {
      const [a, b] = [compile(g), compile(teacher)];
      const x = tf.tensor(data.x, [48, 4, 4, 1]);
      const v = kdLoss(a.predict(x).logits!, b.predict(x).logits!, { temperature: 1, alpha: 1 }).dataSync()[0];
      a.dispose();
      b.dispose();
      return v;
    };
    const before = gap(student);
    await train(student, data, { epochs: 10, batchSize: 16, learningRate: 0.02, contributions: [kdContribution(teacher, { temperature: 2, alpha: 1 })] });
    expect(gap(student)).toBeLessThan(before * 0.5);
  });

  it('caches teacher logits: later epochs do not run the teacher, and the weights are the same as without the cache', async () => {
    const teacher = net('teacher', 4, 1);
    const [a, b] = [net('student', 2, 2), net('student', 2, 2)];
    const cached = kdContribution(teacher, { temperature: 2, alpha: 0.5 });
    const plain = kdContribution(teacher, { temperature: 2, alpha: 0.5, cache: false });
    await train(a, data, { epochs: 3, batchSize: 16, seed: 3, contributions: [cached] });
    await train(b, data, { epochs: 3, batchSize: 16, seed: 3, contributions: [plain] });
    expect(cached.stats()).toEqual({ teacherExamples: 48, cachedExamples: 96 });
    expect(plain.stats()).toEqual({ teacherExamples: 144, cachedExamples: 0 });
    values(a).forEach((v, i) => v.forEach((w, j) => expect(w).toBeCloseTo(values(b)[i][j], 5)));
  });

  it('the cache notices a different dataset at the same indices and a changed teacher', async () => {
    const teacher = net('teacher', 4, 1);
    const kd = kdContribution(teacher, { temperature: 2, alpha: 0.5 });
    const student = net('student', 2, 2);
    await train(student, data, { epochs: 2, batchSize: 16, contributions: [kd] });
    expect(kd.stats()).toEqual({ teacherExamples: 48, cachedExamples: 48 });
    await train(student, data, { epochs: 1, batchSize: 16, contributions: [kd] });
    expect(kd.stats()).toEqual({ teacherExamples: 48, cachedExamples: 96 }); // same data, same teacher: all cached
    await train(student, synthetic(48, 9), { epochs: 1, batchSize: 16, contributions: [kd] });
    expect(kd.stats().teacherExamples).toBe(96);
    teacher.params.get('out/bias')!.data[0] += 1;
    await train(student, synthetic(48, 9), { epochs: 1, batchSize: 16, contributions: [kd] });
    expect(kd.stats().teacherExamples).toBe(144);
  });

  it('runs the teacher only on the rows a batch misses, with the same result as no cache', async () => {
    const teacher = net('teacher', 4, 1);
    const half = { x: data.x.slice(0, 24 * 16), y: data.y.slice(0, 24), count: 24, shape: [24, 4, 4, 1] };
    const kd = kdContribution(teacher, { temperature: 2, alpha: 0.5 });
    await train(net('student', 2, 2), half, { epochs: 1, batchSize: 16, contributions: [kd] });
    const [a, b] = [net('student', 2, 2), net('student', 2, 2)];
    const again = kdContribution(teacher, { temperature: 2, alpha: 0.5 });
    await train(a, data, { epochs: 1, batchSize: 16, seed: 4, contributions: [again] });
    expect(again.stats()).toEqual({ teacherExamples: 24, cachedExamples: 24 });
    await train(b, data, { epochs: 1, batchSize: 16, seed: 4, contributions: [kdContribution(teacher, { temperature: 2, alpha: 0.5, cache: false })] });
    values(a).forEach((v, i) => v.forEach((w, j) => expect(w).toBeCloseTo(values(b)[i][j], 5)));
  });

  it('rejects bad options and a teacher that does not fit the student, naming them', async () => {
    const teacher = net('teacher', 4, 1);
    expect(() => kdContribution(teacher, { temperature: 0, alpha: 0.5 })).toThrow(/temperature/);
    expect(() => kdContribution(teacher, { temperature: 2, alpha: 1.5 })).toThrow(/alpha/);
    const wide = new GraphBuilder('five', [4, 4, 1], 1).flatten().dense(5, { activation: 'softmax' }).build();
    await expect(train(net('student', 2, 2), data, { contributions: [kdContribution(wide, { temperature: 2, alpha: 0.5 })] })).rejects.toThrow(
      /distill.kd: the teacher 'five' has 5 outputs, the student 'student' 3/,
    );
    const other = new GraphBuilder('big-input', [8, 8, 1], 1).flatten().dense(3, { activation: 'softmax' }).build();
    await expect(train(net('student', 2, 2), data, { contributions: [kdContribution(other, { temperature: 2, alpha: 0.5 })] })).rejects.toThrow(
      /takes inputs \[8, 8, 1\]/,
    );
  });
});

describe('distill.hint contribution', () => {
  it('adds a 1x1 adapter [Cs, Ct] when the channel counts differ, trains it and drops it', async () => {
    const teacher = net('teacher', 6, 1);
    const student = net('student', 2, 2);
    const paramsBefore = [...student.params.keys()];
    const hint = hintContribution(teacher, student, { teacherTap: 'feat', studentTap: 'feat', weight: 1 });
    expect(hint.adapterShape()).toEqual({ kernel: [2, 6], bias: [6] });
    const vars = hint.variables!();
    expect([...vars.values()].map((v) => v.shape)).toEqual([[2, 6], [6]]);
    const k0 = Array.from(vars.values())[0].dataSync().slice();
    const losses: number[] = [];
    await train(student, data, {
      epochs: 6,
      batchSize: 16,
      learningRate: 0.02,
      contributions: [hint],
      onEvent: (e) => e.type === 'epochEnd' && losses.push(e.loss!),
    });
    expect(losses.at(-1)).toBeLessThan(losses[0]);
    // Trained, then disposed: the adapter never enters the graph.
    const k = [...vars.values()][0];
    expect(k.isDisposed).toBe(true);
    expect(k0.some((v) => v !== 0)).toBe(true);
    expect([...student.params.keys()]).toEqual(paramsBefore);
  });

  it('compares directly when the counts agree, unless asked; a linear adapter on vectors', () => {
    const teacher = net('teacher', 2, 1);
    const student = net('student', 2, 2);
    expect(hintContribution(teacher, student, { teacherTap: 'feat', studentTap: 'feat', weight: 1 }).adapterShape()).toBeUndefined();
    expect(hintContribution(teacher, student, { teacherTap: 'feat', studentTap: 'feat', weight: 1, adapter: 'always' }).adapterShape()).toEqual({
      kernel: [2, 2],
      bias: [2],
    });
    const wide = net('wide', 4, 3);
    expect(hintContribution(wide, student, { teacherTap: 'flat', studentTap: 'flat', weight: 1 }).adapterShape()).toEqual({ kernel: [32, 64], bias: [64] });
    expect(() => hintContribution(wide, student, { teacherTap: 'feat', studentTap: 'feat', weight: 1, adapter: 'none' })).toThrow(
      /adapter 'none' needs equal channel counts/,
    );
    expect(() => hintContribution(wide, student, { teacherTap: 'feat', studentTap: 'flat', weight: 1 })).toThrow(/must agree on every axis but channels/);
  });

  it('names a tap that does not exist in the teacher or the student', () => {
    const teacher = net('teacher', 4, 1);
    const student = net('student', 2, 2);
    expect(() => hintContribution(teacher, student, { teacherTap: 'conv9', studentTap: 'feat', weight: 1 })).toThrow(
      /distill.hint: teacherTap: 'conv9' is not a node of the teacher 'teacher' \(nodes: input, feat, flat, out\)/,
    );
    expect(() => hintContribution(teacher, student, { teacherTap: 'feat', studentTap: 'nope', weight: 1 })).toThrow(
      /distill.hint: studentTap 'nope' is not a node of the student 'student'/,
    );
  });
});

describe('distill.nst contribution', () => {
  it('pulls the student feature maps towards the teacher selectivity', async () => {
    const teacher = net('teacher', 6, 1);
    await train(teacher, data, { epochs: 10, batchSize: 16, learningRate: 0.02 });
    const student = net('student', 3, 7);
    const nst = nstContribution(teacher, student, { teacherTap: 'feat', studentTap: 'feat', weight: 25 });
    const losses: number[] = [];
    await train(student, data, {
      epochs: 6,
      batchSize: 16,
      learningRate: 0.02,
      contributions: [nst],
      onEvent: (e) => e.type === 'epochEnd' && losses.push(e.loss!),
    });
    expect(losses.at(-1)).toBeLessThan(losses[0]);
  });

  it('names missing taps and refuses vectors', () => {
    const teacher = net('teacher', 4, 1);
    const student = net('student', 2, 2);
    expect(() => nstContribution(teacher, student, { teacherTap: 'missing', studentTap: 'feat', weight: 1 })).toThrow(
      /teacherTap: 'missing' is not a node of the teacher/,
    );
    expect(() => nstContribution(teacher, student, { teacherTap: 'feat', studentTap: 'missing', weight: 1 })).toThrow(
      /studentTap 'missing' is not a node of the student/,
    );
    expect(() => nstContribution(teacher, student, { teacherTap: 'flat', studentTap: 'flat', weight: 1 })).toThrow(/NST needs feature maps/);
  });

  it('shares one teacher pass per step between KD and NST', async () => {
    const teacher = net('teacher', 4, 1);
    const student = net('student', 2, 2);
    const shared = teacherFor(teacher);
    const passes = shared.passes;
    const kd = kdContribution(teacher, { temperature: 2, alpha: 0.5, cache: false });
    const nst = nstContribution(teacher, student, { teacherTap: 'feat', studentTap: 'feat', weight: 1 });
    await train(student, data, { epochs: 1, batchSize: 16, contributions: [kd, nst] });
    expect(kd.stats().teacherExamples).toBe(48);
    expect(shared.passes - passes).toBe(3); // 3 steps, one teacher pass each
  });
});

describe('resources', () => {
  it('leaks no tensors: teacher, cache probe and adapter are disposed at the end', async () => {
    const teacher = net('teacher', 4, 1);
    const student = net('student', 2, 2);
    const contributions = () => [
      kdContribution(teacher, { temperature: 2, alpha: 0.5 }),
      hintContribution(teacher, student, { teacherTap: 'feat', studentTap: 'feat', weight: 1 }),
      nstContribution(teacher, student, { teacherTap: 'feat', studentTap: 'feat', weight: 1 }),
    ];
    await train(student, data, { epochs: 1, batchSize: 16, contributions: contributions() });
    const before = tf.memory().numTensors;
    await train(student, data, { epochs: 2, batchSize: 16, contributions: contributions() });
    expect(tf.memory().numTensors).toBe(before);
  });
});
