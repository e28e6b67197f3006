import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../builder.js';
import { getNode, nodeParam } from '../graph.js';
import { referenceValues } from '../testing/reference.js';
import type { Attrs, Graph } from '../types.js';
import { ACTIVATIONS } from './activations.js';
import { getOp, kernelAxis } from './registry.js';
import './all.js';

const [H, W, C] = [3, 4, 3];
const BATCH = 2;

/** input [3, 4, 3] -> one op. */
function one(op: string, attrs: Attrs, params: Record<string, [number[], Float32Array?]> = {}): Graph {
  const b = new GraphBuilder('t', [H, W, C]);
  b.add(op, ['input'], attrs, params, 'op');
  return b.build();
}

/** Seeded values in [-2, 2), with channel `c` set to `k` when given. */
function input(seed: number, c?: number, k?: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: BATCH * H * W * C }, (_, i) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return c !== undefined && i % C === c ? (k as number) : (s / 2147483648) * 4 - 2;
  });
}

const out = (g: Graph, x: Float32Array) => referenceValues(g, x, BATCH).get('op') as { shape: number[]; data: Float64Array };

const CASES: [string, Attrs, Record<string, [number[], Float32Array?]>?][] = [
  [
    'batchNorm',
    { epsilon: 0.01 },
    {
      gamma: [[C], Float32Array.of(2, 0, -1)],
      beta: [[C], Float32Array.of(0.5, 0.25, -1)],
      movingMean: [[C], Float32Array.of(1, -1, 0)],
      movingVariance: [[C], Float32Array.of(4, 1, 0.5)],
    },
  ],
  ...ACTIVATIONS.map((fn): [string, Attrs] => ['activation', { fn }]),
  ['activation', { fn: 'leakyRelu', alpha: 0.1 }],
  ['maxPool2d', { poolSize: [2, 2], strides: [1, 1], padding: 'same' }],
  ['avgPool2d', { poolSize: [2, 2], strides: [2, 2], padding: 'same' }],
  ['globalAvgPool2d', {}],
  ['dropout', { rate: 0.5 }],
  [
    'zeroPad2d',
    {
      padding: [
        [1, 0],
        [0, 2],
      ],
    },
  ],
  ['globalMaxPool2d', {}],
  ['globalMaxPool2d', { keepDims: true }],
  ['upSampling2d', { size: [2, 1] }],
  [
    'cropping2d',
    {
      cropping: [
        [1, 0],
        [0, 2],
      ],
    },
  ],
  ['permute', { dims: [2, 1, 3] }],
  ['rescaling', { scale: -2, offset: 0 }],
  ['rescaling', { scale: 0.5, offset: 1 }],
  ['prelu', { sharedAxes: [1, 2] }, { alpha: [[1, 1, C], Float32Array.of(0.25, 0, -1)] }],
  ['prelu', {}, { alpha: [[H, W, C], Float32Array.from({ length: H * W * C }, (_, i) => (i % 5) / 4)] }],
];

describe('OpDef.channelValues agrees with the reference interpreter', () => {
  for (const [op, attrs, params] of CASES) {
    const g = one(op, attrs, params);
    const node = getNode(g, 'op');
    const values = getOp(op).channelValues?.(node);
    it(`${op} ${JSON.stringify(attrs)}: ${values ? `scale ${values.scale ?? 'stops'}` : 'mixes channels'}`, () => {
      if (!values) {
        expect(op === 'activation' && attrs.fn === 'softmax').toBe(true);
        return;
      }
      const param = (role: string) => nodeParam(g, node, role);
      for (let c = 0; c < C; c++) {
        for (const k of [0, 1.5, undefined]) {
          const want = values.constant(k, c, param);
          if (want === undefined) continue;
          const y = out(g, input(7, ...(k === undefined ? [] : [c, k])));
          for (let i = c; i < y.data.length; i += C) expect(y.data[i]).toBeCloseTo(want, 6);
        }
      }
      if (values.scale) {
        const s = values.scale === 'any' ? [2, -0.5, 0] : [2, 0.5, 0];
        const x = input(3);
        const scaled = x.map((v, i) => v * s[i % C]);
        const y = out(g, x);
        const ys = out(g, scaled);
        ys.data.forEach((v, i) => expect(v).toBeCloseTo(s[i % C] * y.data[i], 6));
      }
    });
  }

  it('kernelAxis reads the kernel axes from the channel flow', () => {
    expect([kernelAxis(getOp('dense'), 'in'), kernelAxis(getOp('dense'), 'out')]).toEqual([0, 1]);
    expect([kernelAxis(getOp('conv2d'), 'in'), kernelAxis(getOp('conv2d'), 'out')]).toEqual([2, 3]);
    expect(kernelAxis(getOp('depthwiseConv2d'), 'in')).toBeUndefined();
    expect([kernelAxis(getOp('conv1d'), 'in'), kernelAxis(getOp('conv1d'), 'out')]).toEqual([1, 2]);
    expect([kernelAxis(getOp('conv2dTranspose'), 'in'), kernelAxis(getOp('conv2dTranspose'), 'out')]).toEqual([3, 2]);
    expect([kernelAxis(getOp('lstm'), 'in'), kernelAxis(getOp('lstm'), 'out')]).toEqual([0, 1]);
  });
});
