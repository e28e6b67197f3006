import { describe, expect, it } from 'vitest';
import { rng } from '@condense/ir';
import { convWindow, patchSums, type ConvWindow } from './patches.js';

/** Every patch entry summed, from an explicit im2col with padding zeros. */
function brute(win: ConvWindow, x: Float32Array, [n, h, w, c]: number[]): Float64Array {
  const [kh, kw] = win.kernel;
  const [sh, sw] = win.strides ?? [1, 1];
  const [dh, dw] = win.dilation ?? [1, 1];
  const { ho, wo, top, left } = convWindow(win, h, w);
  const out = new Float64Array(kh * kw * c);
  for (let e = 0; e < n; e++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const [iy, ix] = [oy * sh - top + ky * dh, ox * sw - left + kx * dw];
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            for (let ch = 0; ch < c; ch++) out[(ky * kw + kx) * c + ch] += x[((e * h + iy) * w + ix) * c + ch];
          }
  return out;
}

describe('patchSums', () => {
  const shape = [3, 7, 6, 2];
  const x = Float32Array.from({ length: 3 * 7 * 6 * 2 }, rng(8));
  const cases: ConvWindow[] = [
    { name: 'same3', kernel: [3, 3], padding: 'same' },
    { name: 'valid3s2', kernel: [3, 3], strides: [2, 2] },
    { name: 'same1x3s2d2', kernel: [1, 3], strides: [2, 1], dilation: [1, 2], padding: 'same' },
    { name: 'same4s3', kernel: [4, 2], strides: [3, 3], padding: 'same' },
  ];
  for (const win of cases) {
    it(`matches an explicit im2col: ${win.name}`, () => {
      const got = patchSums(win, x, shape);
      const want = brute(win, x, shape);
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 9));
    });
  }

  it('errors name the layer', () => {
    expect(() => patchSums({ name: 'c', kernel: [9, 9] }, x, shape)).toThrow(/layer 'c': a 9x9 window does not fit the 7x6 input/);
    expect(() => patchSums({ name: 'c', kernel: [3, 3] }, x, [3, 84])).toThrow(/layer 'c': patch sums need an NHWC input, got \[3, 84\]/);
    expect(() => convWindow({ name: 'c', kernel: [3, 3], strides: [0, 1] }, 5, 5)).toThrow(/layer 'c': strides and dilation must be positive integers/);
  });
});
