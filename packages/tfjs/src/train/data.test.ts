import { describe, expect, it } from 'vitest';
import { imageAugmenter } from './data.js';

/** A 3x4 single-channel image holding 1..12, row-major. */
const image = () => Float32Array.from({ length: 12 }, (_, i) => i + 1);
/** A `random` that returns the given values in turn. */
const draws =
  (...v: number[]) =>
  () =>
    v.shift() as number;

describe('imageAugmenter', () => {
  it('shifts with zero fill: dy = +1, dx = -1', () => {
    const xs = image();
    // floor(r * 3) - 1: r = 0.9 -> +1 (dy), r = 0 -> -1 (dx).
    imageAugmenter({ shift: 1 }, [3, 4, 1], draws(0.9, 0))(xs, 1);
    expect([...xs]).toEqual([0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0]);
  });

  it('mirrors left-right, every channel kept together', () => {
    const xs = Float32Array.from([1, 10, 2, 20, 3, 30]); // 1x3 image, 2 channels
    imageAugmenter({ flip: true }, [1, 3, 2], draws(0.5, 0.5, 0.1))(xs, 1);
    expect([...xs]).toEqual([3, 30, 2, 20, 1, 10]);
  });

  it('leaves an image alone on a zero shift without a flip, and transforms each image of a batch on its own', () => {
    const xs = Float32Array.from([...image(), ...image()]);
    imageAugmenter({ shift: 1 }, [3, 4, 1], draws(0.5, 0.5, 0.9, 0.5))(xs, 2);
    expect([...xs.subarray(0, 12)]).toEqual([...image()]);
    expect([...xs.subarray(12)]).toEqual([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('rejects non-image inputs and shifts out of range, naming the field', () => {
    expect(() => imageAugmenter({ shift: 1 }, [784], Math.random)).toThrow(
      /augment needs image inputs \[height, width, channels\], the model input is \[784\]/,
    );
    expect(() => imageAugmenter({ shift: 3 }, [3, 4, 1], Math.random)).toThrow(/augment.shift must be an integer in \[0, 3\), got 3/);
    expect(() => imageAugmenter({ shift: 0.5 }, [3, 4, 1], Math.random)).toThrow(/augment.shift/);
  });
});
