import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import '../exec/gradients.js';
import { createOptimizer, learningRateAt, type OptimizerConfig } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Run ours and a tf.train optimizer on the same quadratic for a few steps. */
function compare(ours: OptimizerConfig, theirs: tf.Optimizer, lr: number) {
  const target = tf.tensor1d([1, -2, 3]);
  const a = tf.tidy(() => tf.variable(tf.tensor1d([0.5, 0.1, -0.3])));
  const b = tf.tidy(() => tf.variable(tf.tensor1d([0.5, 0.1, -0.3])));
  const opt = createOptimizer(ours);
  for (let i = 0; i < 5; i++) {
    tf.tidy(() => {
      const ga = tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.sub(w, target))))(a);
      opt.step('a', a, ga, lr);
    });
    theirs.minimize(() => tf.sum(tf.square(tf.sub(b, target))) as tf.Scalar, false, [b]);
  }
  const [x, y] = [a.dataSync(), b.dataSync()];
  // tf.train.adam keeps beta^t in float32 tensors; we compute it in float64: agree to ~1e-5.
  x.forEach((v, i) => expect(v).toBeCloseTo(y[i], 4));
  expect(Array.from(x)).not.toEqual([0.5, 0.1, -0.3].map(Math.fround));
  opt.dispose();
  theirs.dispose();
  tf.dispose([target, a, b]);
}

describe('optimizers', () => {
  it('Adam matches tf.train.adam', () => compare('adam', tf.train.adam(0.1, 0.9, 0.999, 1e-7), 0.1));
  it('SGD with momentum matches tf.train.momentum', () => compare({ type: 'sgd', momentum: 0.9 }, tf.train.momentum(0.05, 0.9), 0.05));
  it('Nesterov SGD matches tf.train.momentum(nesterov)', () =>
    compare({ type: 'sgd', momentum: 0.5, nesterov: true }, tf.train.momentum(0.05, 0.5, true), 0.05));
  it('plain SGD matches tf.train.sgd', () => compare({ type: 'sgd', momentum: 0 }, tf.train.sgd(0.1), 0.1));

  it('decoupled decay shrinks by lr * decay; maskState zeroes momentum; dispose frees state', () => {
    const before = tf.memory().numTensors;
    const opt = createOptimizer({ type: 'sgd', momentum: 0.9 });
    const v = tf.tidy(() => tf.variable(tf.tensor1d([2, 4])));
    tf.tidy(() => opt.step('v', v, tf.zeros([2]), 0.1, 0.5));
    expect(Array.from(v.dataSync())).toEqual([1.9, 3.8].map(Math.fround));
    tf.tidy(() => opt.step('v', v, tf.tensor1d([1, 1]), 0.1));
    const mask = tf.tensor1d([0, 1]);
    opt.maskState('v', mask);
    const w = Array.from(v.dataSync());
    tf.tidy(() => opt.step('v', v, tf.zeros([2]), 0.1));
    // position 0: momentum cleared, no move; position 1: momentum 1 * 0.9 moves it by 0.09
    expect(v.dataSync()[0]).toBe(w[0]);
    expect(v.dataSync()[1]).toBeCloseTo(w[1] - 0.09, 6);
    opt.dispose();
    tf.dispose([v, mask]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects an unknown optimizer', () => {
    expect(() => createOptimizer({ type: 'rmsprop' } as unknown as OptimizerConfig)).toThrow(/unknown type 'rmsprop'/);
  });
});

describe('learning-rate schedules', () => {
  const at = (step: number, epoch: number) => ({ step, epoch, stepsPerEpoch: 10, totalSteps: 100, base: 0.1 });
  it('constant, step, cosine, exponential, function', () => {
    expect(learningRateAt({ type: 'constant' }, at(50, 5))).toBe(0.1);
    expect(learningRateAt(undefined, at(50, 5))).toBe(0.1);
    expect(learningRateAt({ type: 'step', every: 3, gamma: 0.5 }, at(20, 2))).toBeCloseTo(0.1, 10);
    expect(learningRateAt({ type: 'step', every: 3, gamma: 0.5 }, at(30, 3))).toBeCloseTo(0.05, 10);
    expect(learningRateAt({ type: 'step', every: 3 }, at(60, 6))).toBeCloseTo(0.001, 10);
    expect(learningRateAt({ type: 'cosine' }, at(0, 0))).toBeCloseTo(0.1, 10);
    expect(learningRateAt({ type: 'cosine' }, at(50, 5))).toBeCloseTo(0.05, 10);
    expect(learningRateAt({ type: 'cosine', minLearningRate: 0.01 }, at(100, 10))).toBeCloseTo(0.01, 10);
    expect(learningRateAt({ type: 'exponential', gamma: 0.5 }, at(20, 2))).toBeCloseTo(0.025, 10);
    expect(learningRateAt({ type: 'exponential', gamma: 0.5 }, at(5, 0))).toBeCloseTo(0.1 * Math.SQRT1_2, 10);
    expect(learningRateAt(({ step, base }) => base / (1 + step), at(9, 0))).toBeCloseTo(0.01, 10);
  });
});
