import { deflateRawSync, constants } from 'node:zlib';
import { rng } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { InflateError, inflateRaw, maxInflatedSize } from './inflate.js';

const text = (n: number, r: () => number) => {
  const words = ['"name"', '"shape"', '"kernel"', ':', ',', '{', '}', '[', ']', '"encoding":"codebook"', '0123', 'fc1/'];
  let s = '';
  while (s.length < n) s += words[Math.floor(r() * words.length)];
  return new TextEncoder().encode(s.slice(0, n));
};
const noise = (n: number, r: () => number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));

describe('inflateRaw', () => {
  it('matches zlib on text, noise and empty input, at every level and strategy (stored, fixed and dynamic blocks)', () => {
    const r = rng(7);
    const inputs = [new Uint8Array(0), text(1, r), text(300, r), text(70_000, r), noise(5000, r), new Uint8Array(100_000).fill(65)];
    const options = [
      { level: 0 },
      { level: 1 },
      { level: 9 },
      { level: 9, strategy: constants.Z_FIXED },
      { level: 6, strategy: constants.Z_HUFFMAN_ONLY },
      { level: 9, strategy: constants.Z_RLE },
    ];
    for (const input of inputs) {
      for (const o of options) {
        const z = deflateRawSync(input, o);
        expect(inflateRaw(z, input.length), `${input.length} bytes, ${JSON.stringify(o)}`).toEqual(input);
      }
    }
  });

  it('rejects a size other than the one declared, without allocating past it', () => {
    const input = text(2000, rng(1));
    const z = deflateRawSync(input);
    expect(() => inflateRaw(z, 1999)).toThrow(/inflates to more than the declared 1999 bytes/);
    expect(() => inflateRaw(z, 2001)).toThrow(/inflates to 2000 bytes, the prefix declares 2001/);
    expect(maxInflatedSize(z.length)).toBeGreaterThan(2000);
  });

  it('truncations and bit flips throw InflateError or decode to other bytes, never hang or throw anything else', () => {
    const r = rng(3);
    const input = text(3000, r);
    const z = deflateRawSync(input, { level: 9 });
    for (let cut = 0; cut < z.length; cut += 7) expect(() => inflateRaw(z.subarray(0, cut), input.length)).toThrow(InflateError);
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const b = z.slice();
      b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      try {
        inflateRaw(b, input.length);
      } catch (e) {
        expect(e).toBeInstanceOf(InflateError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1000);
  });

  it('rejects trailing bytes, block type 3, a distance before the start and a bad stored length', () => {
    const z = deflateRawSync(text(100, rng(2)));
    expect(() => inflateRaw(Uint8Array.of(...z, 0), 100)).toThrow(/1 bytes follow the last block/);
    expect(() => inflateRaw(Uint8Array.of(0x07), 1)).toThrow(/invalid block type 3/);
    expect(() => inflateRaw(Uint8Array.of(0x01, 0x05, 0x00, 0xfb, 0xff), 5)).toThrow(/stored block length does not match/);
    // Fixed block: length symbol 257 (code 0000001), distance code 0 (00000): copies before any output.
    expect(() => inflateRaw(Uint8Array.of(0x03, 0x02, 0x00), 3)).toThrow(/reaches before the start/);
  });
});
