import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { apgStep, groupShrink, softThreshold } from './prox.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('softThreshold', () => {
  it('yields exact zeros within the threshold and shrinks the rest by it', () => {
    const out = tf.tidy(() => values(softThreshold(tf.tensor1d([-0.3, -0.1, 0, 0.05, 0.1, 0.25]), 0.1)));
    // Exact zeros (-0 included: -0 === 0).
    for (const i of [1, 2, 3, 4]) expect(Math.abs(out[i])).toBe(0);
    expect(out[0]).toBeCloseTo(-0.2, 6);
    expect(out[5]).toBeCloseTo(0.15, 6);
  });

  it('rejects a negative threshold', () => {
    expect(() => softThreshold(tf.scalar(1), -1)).toThrow(/threshold must be >= 0/);
  });
});

describe('apgStep (SSS eq. 11)', () => {
  /** Minimise 0.5 (s - a)^2 + gamma |s| by APG: the gradient of the smooth part is s - a. */
  function run(a: number, s0: number, steps: number, o: { nonNegative: boolean; gamma: number }) {
    let s: tf.Tensor = tf.tensor1d([s0]);
    let v: tf.Tensor = tf.tensor1d([0]);
    const trace: { s: number; v: number }[] = [];
    for (let i = 0; i < steps; i++) {
      const r = tf.tidy(() => apgStep(s, tf.sub(s, a), v, { learningRate: 0.5, momentum: 0.5, ...o }));
      tf.dispose([s, v]);
      [s, v] = [r.s, r.v];
      trace.push({ s: s.dataSync()[0], v: v.dataSync()[0] });
    }
    tf.dispose([s, v]);
    return trace;
  }

  it('matches the hand-computed sequence towards an interior optimum (a = 1, gamma = 0.2: s* = 0.8)', () => {
    // z = s - 0.5 g; z = S_0.1(z); v = z - s + 0.5 v; s = z + 0.5 v
    // 1: g = -1, z = 0.5 -> 0.4, v = 0.4, s = 0.6
    // 2: g = -0.4, z = 0.8 -> 0.7, v = 0.3, s = 0.85
    // 3: g = -0.15, z = 0.925 -> 0.825, v = 0.125, s = 0.8875
    const t = run(1, 0, 3, { nonNegative: true, gamma: 0.2 });
    const expected = [
      { s: 0.6, v: 0.4 },
      { s: 0.85, v: 0.3 },
      { s: 0.8875, v: 0.125 },
    ];
    t.forEach((x, i) => {
      expect(x.s).toBeCloseTo(expected[i].s, 6);
      expect(x.v).toBeCloseTo(expected[i].v, 6);
    });
  });

  it('reaches exactly 0 when the penalty dominates (a = 0.2, gamma = 0.4) and stays there', () => {
    // 1: g = 0.8, z = 0.6 -> 0.4, v = -0.6, s = 0.1
    // 2: g = -0.1, z = 0.15 -> 0 (within 0.2), v = -0.4, s = max(0, -0.2) = 0
    // 3: g = -0.2, z = 0.1 -> 0, v = -0.2, s = max(0, -0.1) = 0
    const t = run(0.2, 1, 5, { nonNegative: true, gamma: 0.4 });
    expect(t[0].s).toBeCloseTo(0.1, 6);
    expect(t[0].v).toBeCloseTo(-0.6, 6);
    expect(t[1].v).toBeCloseTo(-0.4, 6);
    expect(t[2].v).toBeCloseTo(-0.2, 6);
    for (const x of t.slice(1)) expect(x.s).toBe(0);
  });

  it('keeps the sign without the non-negativity clamp (batchNorm gammas)', () => {
    // a = -1, gamma = 0.2 from 0: z = -0.5 -> -0.4, v = -0.4, s = -0.6
    expect(run(-1, 0, 1, { nonNegative: false, gamma: 0.2 })[0].s).toBeCloseTo(-0.6, 6);
    expect(run(-1, 0, 1, { nonNegative: true, gamma: 0.2 })[0].s).toBe(0);
  });
});

describe('groupShrink', () => {
  it('zeroes whole groups whose norm is within the threshold and shrinks the others in norm', () => {
    // Kernel [2, 3]: columns are groups; column 1 is small, column 2 already zero.
    const kernel = tf.tensor2d([
      [3, 0.01, 0],
      [4, -0.01, 0],
    ]);
    const bias = tf.tensor1d([0, 0.01, 0]);
    const { k, b } = tf.tidy(() => {
      const r = groupShrink(kernel, [bias], 0.1);
      return { k: values(r.kernel), b: values(r.extra[0]) };
    });
    const t = 0.1 * Math.sqrt(3);
    const f = 1 - t / 5;
    expect(k[0]).toBeCloseTo(3 * f, 5);
    expect(k[3]).toBeCloseTo(4 * f, 5);
    for (const x of [k[1], k[4], b[1], k[2], k[5], b[2]]) expect(Math.abs(x)).toBe(0);
    tf.dispose([kernel, bias]);
  });
});
