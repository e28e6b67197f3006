import { rng } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { BitReader, BitWriter, pack, packedBytes, unpack } from './bits.js';
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

  it('round-trips fields of mixed widths', () => {
    const next = rng(3);
    const fields = Array.from({ length: 5000 }, () => {
      const bits = 1 + Math.floor(next() * 24);
      return [Math.floor(next() * 2 ** bits), bits] as const;
    });
    const w = new BitWriter();
    for (const [v, b] of fields) w.write(v, b);
    const total = w.bitLength;
    const r = new BitReader(w.finish());
    expectSameArray(fields.map(([, b]) => r.read(b)), fields.map(([v]) => v), 'fields');
    expect(r.bitsRead).toBe(total);
    expect(r.overrun).toBe(false);
    r.read(16);
    expect(r.overrun).toBe(true);
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
