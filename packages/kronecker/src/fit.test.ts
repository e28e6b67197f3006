import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '@condense/core';
import { GraphBuilder, cloneGraph, runReference } from '@condense/ir';
import { fitToReference } from './fit.js';
import { kroneckerFactorize } from './plugins.js';
import { factorizeGraph } from './plugins.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Smooth 8x8 "images": a few random low-frequency patterns, so that inputs are correlated like real ones. */
function images(n: number, seed = 1): Float32Array {
  let s = seed;
  const r = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  const out = new Float32Array(n * 64);
  for (let i = 0; i < n; i++) {
    const [a, b, c] = [r(), r(), r()];
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++) out[i * 64 + y * 8 + x] = a * Math.sin(y / 2) + b * Math.cos(x / 3) + c * Math.sin((x + y) / 4) + 0.05 * r();
  }
  return out;
}

const mlp = () =>
  new GraphBuilder('mlp', [8, 8, 1], 4)
    .flatten({ name: 'flatten' })
    .dense(48, { name: 'fc1', activation: 'relu' })
    .dense(24, { name: 'fc2', activation: 'relu' })
    .dense(10, { name: 'fc3' })
    .build();

const distance = (x: Float32Array, y: Float32Array) => Math.sqrt(x.reduce((s, v, i) => s + (v - y[i]) ** 2, 0) / y.reduce((s, v) => s + v * v, 0));

describe('fitToReference', () => {
  it('brings each factorized layer, and the model, closer to the original on the data', async () => {
    const original = mlp();
    const nkpOnly = cloneGraph(original);
    factorizeGraph(nkpOnly, { rank: 2 });
    const fitted = cloneGraph(nkpOnly);
    const data = { images: images(256), count: 256, shape: [256, 8, 8, 1] };
    const reports = await fitToReference(fitted, original, ['fc1', 'fc2'], data, { epochs: 4, learningRate: 0.02, batchSize: 64 });
    expect(reports.map((r) => r.layer)).toEqual(['fc1', 'fc2']);
    for (const r of reports) expect(r.outputErrorAfter).toBeLessThan(r.outputErrorBefore * 0.8);
    const x = images(64, 9);
    const want = runReference(original, x, 64);
    expect(distance(runReference(fitted, x, 64), want)).toBeLessThan(distance(runReference(nkpOnly, x, 64), want) * 0.8);
  });

  it('runs as part of kronecker.factorize, with the stage input as the target', async () => {
    const train = { images: images(256, 3), labels: new Uint8Array(256), count: 256, shape: [256, 8, 8, 1] };
    const r = await pipeline([kroneckerFactorize({ rank: 2, fit: { epochs: 2, learningRate: 0.01 } })]).run(mlp(), {
      data: { train },
      evaluateEachStage: false,
    });
    const fit = r.stages[0].details!.fit as { layer: string; outputErrorBefore: number; outputErrorAfter: number }[];
    expect(fit.map((f) => f.layer)).toEqual(['fc1', 'fc2']);
    expect(fit[0].outputErrorAfter).toBeLessThan(fit[0].outputErrorBefore);
    expect(() => pipeline([kroneckerFactorize({ rank: 2, fit: { epochs: 1 } })]).check()).toThrow(/calibration data/);
  });
});
