import { rng } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { BitWriter, pack, packedBytes, unpack } from './bits.js';
import { expectSameArray } from './test-helpers.js';

describe('bit I/O', () => {
  it('writes MSB first and pads the last byte with zeros', () => {
    const w = new BitWriter();
    w.write(0b101, 3);
    w.write(0b1, 1);
    w.write(0b11111, 5);
    expect(w.bitLength).toBe(9);
    expect([...w.finish()]).toEqual([0b10111111, 0b10000000]);
  });

  it('writes what unpack reads, for widths up to 24', () => {
    const next = rng(3);
    for (const bits of [17, 20, 24]) {
      const values = Uint32Array.from({ length: 500 }, () => Math.floor(next() * 2 ** bits));
      const w = new BitWriter();
      for (const v of values) w.write(v, bits);
      const out = new Uint32Array(500);
      unpack(w.finish(), bits, out);
      expectSameArray(out, values, `${bits} bits`);
    }
  });

  it('packs and unpacks every width 1..16', () => {
    const next = rng(5);
    for (let bits = 1; bits <= 16; bits++) {
      const values = Uint16Array.from({ length: 333 }, () => Math.floor(next() * 2 ** bits));
      const bytes = pack(values, bits);
      expect(bytes.length).toBe(packedBytes(333, bits));
      const out = new Uint16Array(333);
      unpack(bytes, bits, out);
      expectSameArray(out, values, `${bits} bits`);
    }
  });
});
