import { describe, expect, it } from 'vitest';
import { holdOut, meanStd } from './lib.mjs';

describe('holdOut', () => {
  it('holds out the last n examples, the same ones every time, and says so', () => {
    const images = Float32Array.from({ length: 10 * 4 }, (_, i) => i);
    const split = { images, labels: Uint8Array.from({ length: 10 }, (_, i) => i), count: 10, shape: [10, 2, 2, 1] };
    const { train, val, split: text } = holdOut(split, 3);
    expect([train.count, val.count]).toEqual([7, 3]);
    expect(Array.from(val.labels)).toEqual([7, 8, 9]);
    expect(Array.from(val.images.subarray(0, 4))).toEqual([28, 29, 30, 31]);
    expect(train.shape).toEqual([7, 2, 2, 1]);
    expect(text).toMatch(/training images 0-6 train, 7-9 \(the last 3 of the 10 loaded\) are the validation split/);
    expect(() => holdOut(split, 10)).toThrow(/holdOut: validation size must be in \(0, 10\), got 10/);
  });
});

describe('meanStd', () => {
  it('mean and sample standard deviation', () => {
    expect(meanStd([0.9, 0.92, 0.94])).toEqual({ mean: expect.closeTo(0.92, 12), std: expect.closeTo(0.02, 12), n: 3 });
    expect(meanStd([0.5])).toEqual({ mean: 0.5, std: 0, n: 1 });
    expect(meanStd([]).n).toBe(0);
  });
});
