/**
 * The TF.js kernels of the Keras-application op families, on the CPU and WASM backends: the
 * forward pass against @condense/ir's float64 reference interpreter, and the training-mode
 * gradient (of every param, and through the op's input from a trainable layer before it)
 * against central finite differences of the reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gaussian, GraphBuilder, referenceValues, rng, sizeOf, type Attrs, type Graph } from '@condense/ir';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backend/backend.js';
import { compile } from './index.js';

type Params = Record<string, [number[]]>;

interface Case {
  name: string;
  /** Per-example input shape. */
  input: number[];
  /** A trainable layer before the op (so the gradient must flow through the op's input). */
  pre?: (b: GraphBuilder) => void;
  op: string;
  attrs?: Attrs;
  params?: Params;
  /** Integer inputs in [0, vocab) (an embedding's ids). */
  vocab?: number;
  /** A second graph input: a 0/1 mask of this per-example shape. */
  mask?: number[];
  /** Extra nodes reading the op's input, merged with it (for merges: the second operand). */
  second?: (b: GraphBuilder, from: string) => string;
}

const conv1x1 = (c: number) => (b: GraphBuilder) => void b.conv2d(c, 1, { name: 'pre', activation: 'tanh' });
const seq1x1 = (c: number) => (b: GraphBuilder) => void b.add('conv1d', [b.current], { activation: 'tanh' }, { kernel: [[1, c, c]], bias: [[c]] }, 'pre');
const dense = (c: number) => (b: GraphBuilder) => void b.dense(c, { name: 'pre', activation: 'tanh' });
const gate = (b: GraphBuilder, from: string) => b.add('globalAvgPool2d', [from], { keepDims: true }, {}, 'gap');
const lstm = (c: number, u: number): Params => ({ kernel: [[c, 4 * u]], recurrentKernel: [[u, 4 * u]], bias: [[4 * u]] });
const gru = (c: number, u: number, after = false): Params => ({ kernel: [[c, 3 * u]], recurrentKernel: [[u, 3 * u]], bias: [after ? [2, 3 * u] : [3 * u]] });

const CASES: Case[] = [
  {
    name: 'grouped conv2d',
    input: [4, 4, 4],
    pre: conv1x1(4),
    op: 'conv2d',
    attrs: { groups: 2, padding: 'same', activation: 'tanh' },
    params: { kernel: [[3, 3, 2, 6]], bias: [[6]] },
  },
  {
    name: 'dilated conv2d with bias',
    input: [6, 5, 2],
    pre: conv1x1(2),
    op: 'conv2d',
    attrs: { dilation: [2, 1], padding: 'same' },
    params: { kernel: [[3, 2, 2, 3]], bias: [[3]] },
  },
  {
    name: 'dilated conv2d without bias',
    input: [5, 5, 2],
    pre: conv1x1(2),
    op: 'conv2d',
    attrs: { dilation: 2, activation: 'gelu' },
    params: { kernel: [[2, 2, 2, 3]] },
  },
  {
    name: 'dilated depthwiseConv2d, multiplier 2',
    input: [5, 5, 2],
    pre: conv1x1(2),
    op: 'depthwiseConv2d',
    attrs: { dilation: 2, depthMultiplier: 2, padding: 'same' },
    params: { kernel: [[3, 3, 2, 2]], bias: [[4]] },
  },
  {
    name: "conv1d 'causal', dilation 2",
    input: [7, 3],
    pre: seq1x1(3),
    op: 'conv1d',
    attrs: { padding: 'causal', dilation: 2, activation: 'swish' },
    params: { kernel: [[3, 3, 4]], bias: [[4]] },
  },
  {
    name: "conv1d 'same', stride 2, 2 groups",
    input: [7, 4],
    pre: seq1x1(4),
    op: 'conv1d',
    attrs: { padding: 'same', strides: 2, groups: 2 },
    params: { kernel: [[3, 2, 2]], bias: [[2]] },
  },
  {
    name: "conv2dTranspose 'same', stride 2",
    input: [3, 2, 2],
    pre: conv1x1(2),
    op: 'conv2dTranspose',
    attrs: { strides: [2, 2], padding: 'same', activation: 'tanh' },
    params: { kernel: [[3, 3, 3, 2]], bias: [[3]] },
  },
  { name: "conv2dTranspose 'valid'", input: [2, 3, 2], pre: conv1x1(2), op: 'conv2dTranspose', attrs: { strides: [1, 2] }, params: { kernel: [[3, 2, 2, 2]] } },
  { name: "maxPool1d 'same'", input: [7, 2], pre: seq1x1(2), op: 'maxPool1d', attrs: { poolSize: 3, strides: 2, padding: 'same' } },
  { name: 'avgPool1d', input: [7, 2], pre: seq1x1(2), op: 'avgPool1d', attrs: { poolSize: 2 } },
  { name: 'globalMaxPool2d keepDims', input: [3, 3, 2], pre: conv1x1(2), op: 'globalMaxPool2d', attrs: { keepDims: true } },
  { name: 'globalMaxPool1d', input: [5, 2], pre: seq1x1(2), op: 'globalMaxPool1d' },
  { name: 'globalAvgPool1d keepDims', input: [5, 2], pre: seq1x1(2), op: 'globalAvgPool1d', attrs: { keepDims: true } },
  { name: 'upSampling2d', input: [2, 3, 2], pre: conv1x1(2), op: 'upSampling2d', attrs: { size: [2, 3] } },
  {
    name: 'cropping2d',
    input: [4, 5, 2],
    pre: conv1x1(2),
    op: 'cropping2d',
    attrs: {
      cropping: [
        [1, 0],
        [2, 1],
      ],
    },
  },
  { name: 'permute', input: [2, 3, 2], pre: conv1x1(2), op: 'permute', attrs: { dims: [3, 1, 2] } },
  { name: 'repeatVector', input: [3], pre: dense(3), op: 'repeatVector', attrs: { n: 2 } },
  { name: 'multiply (a squeeze-and-excitation gate)', input: [3, 3, 2], pre: conv1x1(2), op: 'multiply', second: gate },
  { name: 'subtract', input: [3, 3, 2], pre: conv1x1(2), op: 'subtract', second: gate },
  { name: 'average', input: [3, 3, 2], pre: conv1x1(2), op: 'average', second: gate },
  { name: 'maximum', input: [3, 3, 2], pre: conv1x1(2), op: 'maximum', second: gate },
  { name: 'minimum', input: [3, 3, 2], pre: conv1x1(2), op: 'minimum', second: gate },
  { name: 'layerNorm', input: [4, 3], pre: seq1x1(3), op: 'layerNorm', attrs: { epsilon: 1e-3 }, params: { gamma: [[3]], beta: [[3]] } },
  { name: 'rescaling', input: [3, 3, 2], pre: conv1x1(2), op: 'rescaling', attrs: { scale: 1 / 127.5, offset: -1 } },
  { name: 'rescaling per channel', input: [3, 3, 2], pre: conv1x1(2), op: 'rescaling', attrs: { scale: [2, -1], offset: [0, 3] } },
  {
    name: 'prelu, shared along the spatial axes',
    input: [3, 3, 2],
    pre: conv1x1(2),
    op: 'prelu',
    attrs: { sharedAxes: [1, 2] },
    params: { alpha: [[1, 1, 2]] },
  },
  { name: 'prelu', input: [4, 2], pre: seq1x1(2), op: 'prelu', params: { alpha: [[4, 2]] } },
  { name: 'hardSwish', input: [6], pre: dense(6), op: 'activation', attrs: { fn: 'hardSwish' } },
  { name: 'hardSigmoid6', input: [6], pre: dense(6), op: 'activation', attrs: { fn: 'hardSigmoid6' } },
  { name: 'embedding', input: [5], vocab: 7, op: 'embedding', params: { embeddings: [[7, 3]] } },
  { name: 'lstm, returnSequences', input: [4, 3], pre: seq1x1(3), op: 'lstm', attrs: { returnSequences: true }, params: lstm(3, 2) },
  {
    name: 'lstm backward, aligned, masked',
    input: [4, 3],
    pre: seq1x1(3),
    mask: [4],
    op: 'lstm',
    attrs: { returnSequences: true, goBackwards: true, alignOutputs: true, zeroMaskedOutputs: true },
    params: lstm(3, 2),
  },
  { name: 'gru (reset before), masked', input: [4, 2], pre: seq1x1(2), mask: [4], op: 'gru', params: gru(2, 3) },
  { name: 'gru (reset after)', input: [4, 2], pre: seq1x1(2), op: 'gru', attrs: { resetAfter: true, returnSequences: true }, params: gru(2, 3, true) },
  {
    name: 'simpleRnn backward, masked',
    input: [5, 2],
    pre: seq1x1(2),
    mask: [5],
    op: 'simpleRnn',
    attrs: { goBackwards: true, activation: 'relu' },
    params: { kernel: [[2, 3]], recurrentKernel: [[3, 3]], bias: [[3]] },
  },
];

const BATCH = 2;

/** The case's graph with seeded random params (gaussian, 0.5 scale). */
function graphOf(c: Case, seed: number): Graph {
  const b = new GraphBuilder(c.name, c.input, seed);
  if (c.mask) {
    b.add('input', [], { shape: c.mask }, {}, 'mask');
    b.graph.inputs.push('mask');
    b.current = 'input';
  }
  c.pre?.(b);
  const x = b.current;
  const inputs = [x, ...(c.second ? [c.second(b, x)] : []), ...(c.mask ? ['mask'] : [])];
  b.add(c.op, inputs, c.attrs ?? {}, c.params ?? {}, 'op');
  const g = b.build(['op']);
  const next = gaussian(rng(seed + 1));
  for (const p of g.params.values()) p.data = Float32Array.from(p.data, () => 0.5 * next());
  return g;
}

function inputsOf(c: Case, seed: number): Float32Array[] {
  const r = rng(seed);
  const x = Float32Array.from({ length: BATCH * sizeOf(c.input) }, () => (c.vocab ? Math.floor(r() * c.vocab) : r() * 4 - 2));
  if (!c.mask) return [x];
  const steps = c.mask[0];
  // Padding at the end of the first example and in the middle of the second.
  const m = Float32Array.from({ length: BATCH * steps }, (_, i) => (i === steps - 1 || i === steps + 1 ? 0 : 1));
  return [x, m];
}

/** Loss = sum(output * w), in float64 through the reference interpreter. */
function referenceLoss(g: Graph, xs: Float32Array[], w: Float64Array): number {
  const y = referenceValues(g, xs, BATCH).get('op')!.data;
  return y.reduce((a, v, i) => a + v * w[i], 0);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Central differences of the reference loss at a few positions of each param, against TF.js's gradient. */
function checkGradients(c: Case, g: Graph, xs: Float32Array[], w: Float64Array, grads: Map<string, Float32Array>) {
  const r = rng(5);
  for (const [name, p] of g.params) {
    const got = grads.get(name);
    expect(got, `${c.name}: gradient of ${name}`).toBeDefined();
    const picks = Array.from({ length: Math.min(6, p.data.length) }, () => Math.floor(r() * p.data.length));
    const fd = picks.map((i) => {
      const v = p.data[i];
      p.data[i] = v + 1e-3;
      const up = p.data[i];
      const lossUp = referenceLoss(g, xs, w);
      p.data[i] = v - 1e-3;
      const down = p.data[i];
      const lossDown = referenceLoss(g, xs, w);
      p.data[i] = v;
      return (lossUp - lossDown) / (up - down);
    });
    const scale = Math.max(maxAbs(fd), maxAbs(got!), 1e-3);
    picks.forEach((i, k) => expect(Math.abs(got![i] - fd[k]) / scale, `${c.name}: d loss / d ${name}[${i}]`).toBeLessThan(2e-3));
  }
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`kernels of the Keras-application ops on ${backend}`, () => {
    beforeAll(async () => {
      await selectBackend(backend);
    });

    for (const c of CASES) {
      it(`${c.name}: forward = reference, gradients = finite differences`, () => {
        const g = graphOf(c, 3);
        const xs = inputsOf(c, 4);
        const want = referenceValues(g, xs, BATCH).get('op')!;
        const model = compile(g);
        const shapes = [c.input, ...(c.mask ? [c.mask] : [])];
        const feeds = xs.map((x, i) => tf.tensor(x, [BATCH, ...shapes[i]], c.vocab && i === 0 ? 'int32' : 'float32'));
        try {
          const r = model.predict(feeds);
          expect(r.output.shape).toEqual(want.shape);
          const got = r.output.dataSync();
          const diff = Array.from(got).reduce((m, v, i) => Math.max(m, Math.abs(v - want.data[i])), 0);
          expect(diff / Math.max(maxAbs(want.data), 1e-6), `${c.name}: forward`).toBeLessThan(1e-5);
          tf.dispose([r.output, ...r.outputs]);

          const w32 = Float32Array.from({ length: want.data.length }, (_, i) => Math.sin(i + 1));
          const w = Float64Array.from(w32);
          const wt = tf.tensor(w32, want.shape);
          const vars = [...model.variables.values()];
          const { grads } = tf.variableGrads(() => {
            const out = model.predict(feeds, { training: true, updateStats: false });
            return tf.sum(tf.mul(out.output, wt)) as tf.Scalar;
          }, vars);
          const byParam = new Map([...model.variables].map(([name, v]) => [name, grads[v.name]?.dataSync() as Float32Array]));
          tf.dispose([wt, ...Object.values(grads)]);
          checkGradients(c, g, xs, w, byParam);
        } finally {
          model.dispose();
          tf.dispose(feeds);
        }
      });
    }
  });
}
