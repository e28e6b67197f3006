import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.js';

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(new TextEncoder().encode('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
  });

  it('continues across chunks', () => {
    const b = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 255);
    expect(crc32(b.subarray(400), crc32(b.subarray(0, 400)))).toBe(crc32(b));
  });

  it('changes on any single bit flip', () => {
    const b = Uint8Array.from({ length: 64 }, (_, i) => i);
    const base = crc32(b);
    for (let bit = 0; bit < b.length * 8; bit++) {
      b[bit >> 3] ^= 1 << (bit & 7);
      expect(crc32(b)).not.toBe(base);
      b[bit >> 3] ^= 1 << (bit & 7);
    }
  });
});
