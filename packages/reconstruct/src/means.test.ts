import { describe, expect, it } from 'vitest';
import { GraphBuilder, referenceValues } from '@condense/ir';
import { layerSpec, type LayerSpec } from './layout.js';
import { accumulateMeans, createMeans, meanOutput } from './means.js';
import { accumulate, createStats } from './stats.js';
import { randomValues } from './test-data.js';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('mean inputs', () => {
  const cases: [string, LayerSpec, number[]][] = [
    ['conv2d same, strided', { name: 'c', op: 'conv2d', kernelShape: [3, 2, 3, 4], padding: 'same', strides: [2, 1] }, [3, 7, 6, 3]],
    ['grouped conv', { name: 'g', op: 'conv2d', kernelShape: [3, 3, 2, 6], groups: 3, padding: 'valid' }, [2, 6, 6, 6]],
    ['depthwise, dilated', { name: 'd', op: 'depthwiseConv2d', kernelShape: [3, 3, 4, 2], padding: 'same', dilation: [2, 2] }, [2, 7, 7, 4]],
    ['dense', { name: 'f', op: 'dense', kernelShape: [12, 5] }, [9, 12]],
  ];
  for (const [label, spec, shape] of cases) {
    it(`${label}: the same sums and rows as the full statistics, streamed in two batches`, () => {
      const x = randomValues(
        shape.reduce((a, b) => a * b, 1),
        9,
        1,
      );
      const stats = createStats(spec);
      accumulate(stats, x, shape);
      const m = createMeans(spec);
      const half = (x.length / shape[0]) * Math.floor(shape[0] / 2);
      accumulateMeans(m, x.subarray(0, half), [Math.floor(shape[0] / 2), ...shape.slice(1)]);
      accumulateMeans(m, x.subarray(half), [shape[0] - Math.floor(shape[0] / 2), ...shape.slice(1)]);
      expect(m.rows).toBe(stats.rows);
      m.sums.forEach((s, b) => expect(maxAbsDiff(s, stats.sums[b])).toBeLessThan(1e-9));
    });
  }

  it('meanOutput is the mean of the layer output before its activation', () => {
    const g = new GraphBuilder('m', [6, 6, 2]).conv2d(3, 3, { name: 'conv', padding: 'same', strides: 2 }).build();
    g.params.get('conv/bias')!.data.set([0.5, -1, 2]);
    const x = randomValues(4 * 72, 10, 1);
    const m = createMeans(layerSpec(g, 'conv'));
    accumulateMeans(m, x, [4, 6, 6, 2]);
    const y = referenceValues(g, x, 4).get('conv')!.data;
    const want = [0, 1, 2].map((c) => y.filter((_, i) => i % 3 === c).reduce((a, v) => a + v, 0) / (y.length / 3));
    expect(maxAbsDiff(meanOutput(m, g.params.get('conv/kernel')!.data, g.params.get('conv/bias')!.data), want)).toBeLessThan(1e-9);
    expect(() => accumulateMeans(m, x, [4, 6, 6, 3])).toThrow(/layer 'conv': a conv2d input must be NHWC \[n, h, w, 2\]/);
  });
});
