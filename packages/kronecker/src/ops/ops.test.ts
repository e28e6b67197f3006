import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { cost, createGraph, param, runReference, setCodebook, setMask, validate, weightParams, type Graph } from '@condense/ir';
import { compile, train } from '@condense/tfjs';
import { kronSum } from '../nkp.js';
import './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function values(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** input -> one Kronecker node. */
function oneNode(op: 'kronDense' | 'kronConv2d', inputShape: number[], a: number[], b: number[], attrs: Record<string, unknown> = {}, bias = true): Graph {
  const g = createGraph('t');
  g.nodes.push({ name: 'x', op: 'input', inputs: [], attrs: { shape: inputShape }, params: {} });
  g.inputs.push('x');
  const out = a.slice(1).at(-1)! * b.slice(1).at(-1)!;
  g.params.set('k/a', param('k/a', a, values(size(a), 3)));
  g.params.set('k/b', param('k/b', b, values(size(b), 4)));
  if (bias) g.params.set('k/bias', param('k/bias', [out], values(out, 5)));
  g.nodes.push({ name: 'k', op, inputs: ['x'], attrs, params: { a: 'k/a', b: 'k/b', ...(bias ? { bias: 'k/bias' } : {}) } });
  g.outputs.push('k');
  validate(g);
  return g;
}

function run(g: Graph, x: tf.Tensor): Float32Array {
  const m = compile(g);
  const r = m.predict(x);
  const out = r.output.dataSync() as Float32Array;
  tf.dispose([r.output, ...r.outputs, r.logits]);
  m.dispose();
  return out;
}

const close = (x: ArrayLike<number>, y: ArrayLike<number>, tol: number) => {
  expect(x.length).toBe(y.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  expect(worst).toBeLessThan(tol);
};

describe('kronDense', () => {
  // Both contraction orders: [3,4] (x) [5,2] contracts B first, [5,2] (x) [3,4] A first.
  for (const [a, b] of [
    [
      [3, 4],
      [5, 2],
    ],
    [
      [5, 2],
      [3, 4],
    ],
  ]) {
    it(`computes x W without forming W: [${a}] (x) [${b}], rank 3`, () => {
      const g = oneNode('kronDense', [15], [3, ...a], [3, ...b], { activation: 'relu' });
      const w = kronSum(g.params.get('k/a')!.data, g.params.get('k/b')!.data, a, b, 3);
      const bias = g.params.get('k/bias')!.data;
      const x = values(7 * 15, 9);
      const want = new Float32Array(7 * 8);
      for (let r = 0; r < 7; r++)
        for (let j = 0; j < 8; j++) {
          let s = bias[j];
          for (let i = 0; i < 15; i++) s += x[r * 15 + i] * w[i * 8 + j];
          want[r * 8 + j] = Math.max(0, s);
        }
      close(run(g, tf.tensor(x, [7, 15])), want, 1e-5);
      close(runReference(g, x, 7), want, 1e-6);
    });
  }

  it('counts the MACs of the factored computation, and its factors are weights', () => {
    const g = oneNode('kronDense', [784], [4, 28, 15], [4, 28, 20]);
    expect(cost(g).layers.find((l) => l.node === 'k')!.macs).toBe(4 * Math.min(784 * 15 + 28 * 300, 784 * 20 + 28 * 300));
    expect(
      weightParams(g)
        .map((u) => u.role)
        .sort(),
    ).toEqual(['a', 'b']);
  });

  it('applies to the last axis of a rank-3 input', () => {
    const g = oneNode('kronDense', [2, 6], [1, 2, 2], [1, 3, 2], {}, false);
    const w = kronSum(g.params.get('k/a')!.data, g.params.get('k/b')!.data, [2, 2], [3, 2], 1);
    const x = values(3 * 2 * 6, 2);
    const got = run(g, tf.tensor(x, [3, 2, 6]));
    for (let r = 0; r < 6; r++)
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let i = 0; i < 6; i++) s += x[r * 6 + i] * w[i * 4 + j];
        expect(got[r * 4 + j]).toBeCloseTo(s, 5);
      }
  });

  it('reports factors that do not fit the input, naming the node', () => {
    const g = oneNode('kronDense', [15], [1, 3, 4], [1, 5, 2]);
    g.nodes[0].attrs.shape = [16];
    expect(() => validate(g)).toThrow(/node 'k'.*do not divide the input's 16 features|node 'k'.*16/);
    const h = oneNode('kronDense', [15], [2, 3, 4], [2, 5, 2]);
    h.params.get('k/b')!.shape = [3, 5, 2];
    h.params.get('k/b')!.data = new Float32Array(30);
    expect(() => validate(h)).toThrow(/node 'k'/);
  });

  it('trains its factors, honouring a mask on one of them', async () => {
    const g = oneNode('kronDense', [12], [2, 3, 2], [2, 4, 2], { activation: 'softmax' });
    const a = g.params.get('k/a')!;
    setMask(
      a,
      Uint8Array.from(a.data, (_, i) => (i % 3 === 0 ? 0 : 1)),
    );
    const x = values(64 * 12, 21);
    const y = Int32Array.from({ length: 64 }, (_, i) => (x[i * 12] > 0 ? 1 : 0) + (x[i * 12 + 5] > 0 ? 2 : 0));
    const before = g.params.get('k/b')!.data.slice();
    const s = await train(g, { x, y, count: 64, shape: [12] }, { epochs: 15, batchSize: 16, learningRate: 0.05 });
    expect(s.history.at(-1)!.loss).toBeLessThan(s.history[0].loss);
    expect(
      Array.from(a.data)
        .filter((_, i) => i % 3 === 0)
        .every((v) => v === 0),
    ).toBe(true);
    expect(g.params.get('k/b')!.data).not.toEqual(before);
  });

  it('trains shared factor values (a codebook on a factor, as k-means weight sharing leaves it)', async () => {
    const g = oneNode('kronDense', [12], [2, 3, 2], [2, 4, 2], { activation: 'softmax' });
    const b = g.params.get('k/b')!;
    setCodebook(b, { centroids: Float32Array.of(-0.3, 0.1, 0.4), indices: Uint16Array.from(b.data, (_, i) => i % 3), bits: 2 });
    const x = values(64 * 12, 22);
    const y = Int32Array.from({ length: 64 }, (_, i) => (x[i * 12 + 1] > 0 ? 1 : 0));
    await train(g, { x, y, count: 64, shape: [12] }, { epochs: 5, batchSize: 16, learningRate: 0.05 });
    const { centroids, indices } = b.codebook!;
    expect(Array.from(centroids)).not.toEqual([-0.3, 0.1, 0.4].map(Math.fround));
    b.data.forEach((v, i) => expect(v).toBe(centroids[indices[i]]));
  });
});

describe('kronConv2d', () => {
  const cases: { name: string; a: number[]; b: number[]; attrs: Record<string, unknown> }[] = [
    { name: 'A 1x1 (channel mix), valid', a: [2, 1, 1, 2, 3], b: [2, 3, 3, 3, 2], attrs: {} },
    { name: 'A 1x1, same, stride 2', a: [2, 1, 1, 2, 3], b: [2, 3, 3, 3, 2], attrs: { padding: 'same', strides: 2 } },
    { name: 'separable split, same', a: [3, 3, 1, 3, 2], b: [3, 1, 3, 2, 3], attrs: { padding: 'same', activation: 'relu' } },
    { name: 'both spatial (dilated A), stride 2', a: [2, 2, 2, 1, 3], b: [2, 2, 2, 6, 2], attrs: { strides: 2 } },
    { name: 'both spatial, same, stride [2, 1]', a: [1, 2, 2, 2, 3], b: [1, 2, 2, 3, 2], attrs: { padding: 'same', strides: [2, 1] } },
    { name: 'B 1x1, A spatial', a: [2, 3, 3, 2, 2], b: [2, 1, 1, 3, 3], attrs: {} },
  ];
  for (const c of cases) {
    it(`equals conv2d with the materialized kernel: ${c.name}`, () => {
      const g = oneNode('kronConv2d', [9, 8, 6], c.a, c.b, c.attrs);
      const sa = c.a.slice(1);
      const sb = c.b.slice(1);
      const kshape = sa.map((d, t) => d * sb[t]) as [number, number, number, number];
      const k = kronSum(g.params.get('k/a')!.data, g.params.get('k/b')!.data, sa, sb, c.a[0]);
      const x = tf.tensor(values(2 * 9 * 8 * 6, 13), [2, 9, 8, 6]) as tf.Tensor4D;
      const want = tf.tidy(() => {
        const y = tf.add(
          tf.conv2d(x, tf.tensor(k, kshape) as tf.Tensor4D, (c.attrs.strides as number | [number, number]) ?? 1, (c.attrs.padding as 'same') ?? 'valid'),
          tf.tensor(g.params.get('k/bias')!.data),
        );
        return c.attrs.activation === 'relu' ? tf.relu(y) : y;
      });
      const got = run(g, x);
      close(got, want.dataSync(), 1e-5);
      close(runReference(g, x.dataSync() as Float32Array, 2), want.dataSync(), 1e-5);
      expect(compile(g).outputShape).toEqual(want.shape.slice(1));
      tf.dispose([x, want]);
    });
  }

  it('counts the MACs it runs', () => {
    // A 1x1 path: B's 3x3 conv on each of 2 input groups (3 channels each), then the (r c1) -> f1 mix.
    const g = oneNode('kronConv2d', [9, 8, 6], [2, 1, 1, 2, 3], [2, 3, 3, 3, 2]);
    const positions = 7 * 6;
    expect(cost(g).layers.find((l) => l.node === 'k')!.macs).toBe(2 * (positions * 2 * 9 * 3 * 2 + positions * 2 * 2 * 3));
  });

  it('rejects a dilation it cannot run', () => {
    expect(() => oneNode('kronConv2d', [9, 8, 6], [2, 1, 1, 2, 3], [2, 3, 3, 3, 2], { dilation: 2 })).toThrow(/node 'k': kronConv2d supports dilation 1 only/);
  });
});
