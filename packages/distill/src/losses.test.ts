import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@condense/tfjs'; // registers the gradients of the builtin kernels
import { beforeAll, describe, expect, it } from 'vitest';
import { hintLoss, kdLoss, normalizeSpatial, nstLoss, softTargetLoss } from './losses.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const softmax = (z: number[], T: number) => {
  const e = z.map((v) => Math.exp(v / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('KD loss', () => {
  const student = [
    [1.0, -0.5, 2.0],
    [0.2, 0.3, -1.0],
  ];
  const teacher = [
    [3.0, 0.0, 1.0],
    [-1.0, 2.0, 0.5],
  ];

  it('equals a hand computation of alpha T^2 KL(teacher_T || student_T)', () => {
    const T = 3;
    const alpha = 0.7;
    let kl = 0;
    for (let n = 0; n < 2; n++) {
      const p = softmax(teacher[n], T);
      const q = softmax(student[n], T);
      kl += p.reduce((a, pi, i) => a + pi * Math.log(pi / q[i]), 0);
    }
    kl /= 2;
    const s = tf.tensor2d(student);
    const t = tf.tensor2d(teacher);
    expect(softTargetLoss(s, t, T).dataSync()[0]).toBeCloseTo(kl, 6);
    expect(kdLoss(s, t, { temperature: T, alpha }).dataSync()[0]).toBeCloseTo(alpha * T * T * kl, 5);
    // Matching the teacher costs nothing.
    expect(softTargetLoss(t, t, T).dataSync()[0]).toBeCloseTo(0, 6);
  });

  it('T^2 keeps the gradient size: at high T it tends to (z - v) / (classes * batch)', () => {
    // Zero-mean logits, as in Hinton et al. eq. 4.
    const z = tf.tensor2d([
      [0.5, -0.2, -0.3],
      [-1.0, 0.4, 0.6],
    ]);
    const v = tf.tensor2d([
      [1.0, 0.5, -1.5],
      [0.3, -0.6, 0.3],
    ]);
    const expected = tf.div(tf.sub(z, v), 3 * 2).arraySync() as number[][];
    for (const T of [20, 100]) {
      const g = tf
        .grad((s: tf.Tensor) => kdLoss(s, v, { temperature: T, alpha: 1 }))(z)
        .arraySync() as number[][];
      const tol = T === 100 ? 0.005 : 0.03;
      g.flat().forEach((gi, i) => expect(Math.abs(gi - expected.flat()[i])).toBeLessThan(tol * 0.5));
    }
    // Without the T^2 the gradient would shrink by T^2.
    const raw = tf.max(tf.abs(tf.grad((s: tf.Tensor) => softTargetLoss(s, v, 100))(z))).dataSync()[0];
    expect(raw).toBeLessThan(1e-4);
  });
});

describe('hint loss', () => {
  it('is the mean squared difference', () => {
    const a = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const b = tf.tensor2d([
      [1, 0],
      [0, 4],
    ]);
    expect(hintLoss(a, b).dataSync()[0]).toBeCloseTo((4 + 9) / 4, 6);
  });
});

describe('NST loss', () => {
  const features = () =>
    tf.tensor4d(
      Float32Array.from({ length: 2 * 3 * 3 * 4 }, (_, i) => Math.sin(i * 1.7) + 1.1),
      [2, 3, 3, 4],
    );

  it('normalises every channel spatially', () => {
    const n = normalizeSpatial(features());
    expect(n.shape).toEqual([2, 9, 4]);
    const norms = tf.sqrt(tf.sum(tf.square(n), 1)).dataSync();
    for (const v of norms) expect(v).toBeCloseTo(1, 5);
  });

  it('is zero for identical normalised features (any per-channel scale)', () => {
    const f = features();
    expect(nstLoss(f, f).dataSync()[0]).toBeCloseTo(0, 6);
    const scaled = tf.mul(f, tf.tensor1d([2, 0.5, 3, 10]));
    expect(nstLoss(scaled, f).dataSync()[0]).toBeCloseTo(0, 6);
  });

  it('equals a hand computation of the squared MMD with (x.y)^2 and allows different channel counts', () => {
    // One example, 2x1 spatial; teacher channels (1,0) and (0,1), student channel (1,1)/sqrt2.
    const t = tf.tensor4d([1, 0, 0, 1], [1, 2, 1, 2]);
    const s = tf.tensor4d([5, 5], [1, 2, 1, 1]);
    // k_tt: [[1,0],[0,1]] -> mean 0.5; k_ss: 1; k_ts: (1/sqrt2)^2 = 0.5 each -> mean 0.5.
    expect(nstLoss(s, t).dataSync()[0]).toBeCloseTo(0.5 + 1 - 2 * 0.5, 6);
    const other = tf.tensor4d([1, 2, 0.5, -1], [1, 2, 1, 2]);
    expect(nstLoss(other, t).dataSync()[0]).toBeGreaterThan(0.01);
  });

  it('rejects vectors and different spatial sizes', () => {
    expect(() => nstLoss(tf.zeros([2, 4]), tf.zeros([2, 4]))).toThrow(/feature maps/);
    expect(() => nstLoss(tf.zeros([1, 2, 2, 3]), tf.zeros([1, 3, 3, 3]))).toThrow(/spatial size/);
  });
});
