import { rng } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.js';
import { decodeGaps, encodeGaps, gapEntries } from './sparse.js';
import { expectSameArray } from './test-helpers.js';

const positions = (mask: Uint8Array) => Int32Array.from(Array.from(mask).flatMap((m, i) => (m ? [i] : [])));

describe('relative indexing', () => {
  it('round-trips random masks for every gap width', () => {
    const next = rng(9);
    for (const density of [0, 0.01, 0.08, 0.5, 1]) {
      for (const n of [0, 1, 7, 8, 300, 5000]) {
        const pos = positions(Uint8Array.from({ length: n }, () => (next() < density ? 1 : 0)));
        for (const b of [1, 3, 4, 5, 8]) {
          const codes = encodeGaps(pos, n, b);
          expect(codes.length).toBe(gapEntries(pos, n, b));
          expectSameArray(decodeGaps(codes, n, b), pos, `density ${density}, n ${n}, b ${b}`);
        }
      }
    }
  });

  it('inserts fillers (code 2^b - 1) for long gaps and to cover the tail', () => {
    // b = 3: M = 7. Kept 0 and 20 in 30 elements: gap 1 -> code 0; gap 20 -> fillers 7, 7 then code 5; tail 9 -> one filler.
    expect([...encodeGaps([0, 20], 30, 3)]).toEqual([0, 7, 7, 5, 7]);
    expect([...encodeGaps([6], 7, 3)]).toEqual([6]);
    expect([...encodeGaps([7], 8, 3)]).toEqual([7, 0]);
  });

  it('rejects positions past the end and sizes the stream does not cover', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as CodecError).code;
      }
      return 'ok';
    };
    expect(err(() => decodeGaps([0, 7, 7, 5, 7], 30, 3))).toBe('ok');
    expect(err(() => decodeGaps([0, 7, 7, 5], 30, 3))).toBe('SIZE_LIMIT');
    expect(err(() => decodeGaps([0, 7, 7, 5, 7], 25, 3))).toBe('BAD_DATA');
    expect(err(() => decodeGaps([9], 30, 3))).toBe('BAD_DATA');
    expect(err(() => decodeGaps([], 1e9, 8))).toBe('SIZE_LIMIT');
  });
});
