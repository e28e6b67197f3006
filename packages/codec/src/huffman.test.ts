import { rng } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { CodecError } from './errors.js';
import {
  canonicalCodes,
  checkLengths,
  codeLengths,
  decodeTable,
  encodedBits,
  huffmanDecode,
  huffmanEncode,
  lengthsFromString,
  lengthsToString,
} from './huffman.js';
import { expectSameArray } from './test-helpers.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CodecError);
    return (e as CodecError).code;
  }
  return 'no error';
};

/** Minimum cost over all complete length vectors with lengths <= maxLen (brute force, small n). */
function bruteForceCost(freqs: number[], maxLen: number): number {
  let best = Infinity;
  const lens = new Array(freqs.length).fill(1);
  const rec = (i: number, kraft: number) => {
    if (kraft > 1) return;
    if (i === freqs.length) {
      if (kraft === 1)
        best = Math.min(
          best,
          freqs.reduce((a, f, s) => a + f * lens[s], 0),
        );
      return;
    }
    for (let l = 1; l <= maxLen; l++) {
      lens[i] = l;
      rec(i + 1, kraft + 2 ** -l);
    }
  };
  rec(0, 0);
  return best;
}

describe('code lengths (package-merge)', () => {
  it('is optimal under the length limit (brute force on small alphabets)', () => {
    const next = rng(11);
    for (let t = 0; t < 40; t++) {
      const n = 2 + Math.floor(next() * 5);
      const maxLen = Math.max(Math.ceil(Math.log2(n)), 2 + Math.floor(next() * 3));
      const freqs = Array.from({ length: n }, () => 1 + Math.floor(next() ** 3 * 1000));
      const lengths = codeLengths(freqs, maxLen);
      checkLengths(lengths, 't', maxLen);
      expect(Math.max(...lengths)).toBeLessThanOrEqual(maxLen);
      expect(encodedBits(freqs, lengths)).toBe(bruteForceCost(freqs, maxLen));
    }
  });

  it('limits Fibonacci frequencies (unlimited depth 29) to 15 bits with a complete code', () => {
    const fib = [1, 1];
    while (fib.length < 30) fib.push(fib.at(-1)! + fib.at(-2)!);
    const lengths = codeLengths(fib, 15);
    expect(Math.max(...lengths)).toBe(15);
    expect(() => checkLengths(lengths)).not.toThrow();
    const unlimited = codeLengths(fib, 29);
    expect(Math.max(...unlimited)).toBe(29);
    expect(encodedBits(fib, lengths)).toBeGreaterThan(encodedBits(fib, unlimited));
  });

  it('gives unused symbols length 0 and a lone symbol length 1', () => {
    expect([...codeLengths([0, 5, 0, 0])]).toEqual([0, 1, 0, 0]);
    expect([...codeLengths([0, 0])]).toEqual([0, 0]);
    expect([...codeLengths([3, 0, 3])]).toEqual([1, 0, 1]);
  });
});

describe('canonical codes', () => {
  it('assigns codes as DEFLATE does (RFC 1951 example)', () => {
    const codes = canonicalCodes([3, 3, 3, 3, 3, 2, 4, 4]);
    expect([...codes]).toEqual([0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111]);
  });
});

describe('code-length validation', () => {
  it('rejects over-subscribed, incomplete, empty and too-long tables', () => {
    expect(code(() => checkLengths([1, 1, 1]))).toBe('BAD_HUFFMAN');
    expect(code(() => checkLengths([1, 2]))).toBe('BAD_HUFFMAN');
    expect(code(() => checkLengths([0, 0]))).toBe('BAD_HUFFMAN');
    expect(code(() => checkLengths([1, 16, 16]))).toBe('BAD_HUFFMAN');
    expect(code(() => checkLengths([0, 2]))).toBe('BAD_HUFFMAN');
    expect(code(() => checkLengths([1, 2, 2]))).toBe('no error');
    expect(code(() => checkLengths([0, 1]))).toBe('no error');
  });

  it('names the section in the message', () => {
    expect(() => checkLengths([1, 1, 1], "param 'w' stream 'gaps'")).toThrow(/BAD_HUFFMAN: param 'w' stream 'gaps': .*over-subscribed/);
  });

  it('parses the compact string form strictly', () => {
    const lengths = Uint8Array.from([3, 0, 15, 1, 0, 0]);
    expect(lengthsToString(lengths)).toBe('30f1');
    expect([...lengthsFromString('30f1', 6)]).toEqual([...lengths]);
    expect(code(() => lengthsFromString('3x', 6))).toBe('BAD_HUFFMAN');
    expect(code(() => lengthsFromString('1111111', 6))).toBe('BAD_HUFFMAN');
    expect(code(() => lengthsFromString(12, 6))).toBe('BAD_HUFFMAN');
  });
});

describe('encode / decode', () => {
  it('round-trips skewed streams and beats raw packing', () => {
    const next = rng(2);
    const alphabet = 64;
    const symbols = Uint16Array.from({ length: 20000 }, () => Math.min(alphabet - 1, Math.floor(-Math.log(1 - next()) * 6)));
    const freqs = new Array(alphabet).fill(0);
    for (const s of symbols) freqs[s]++;
    const lengths = codeLengths(freqs);
    const bytes = huffmanEncode(symbols, lengths);
    expect(bytes.length).toBe(Math.ceil(encodedBits(freqs, lengths) / 8));
    expect(bytes.length).toBeLessThan((20000 * 6) / 8);
    const out = new Uint16Array(symbols.length);
    huffmanDecode(bytes, decodeTable(lengths), out);
    expectSameArray(out, symbols, 'decoded');
  });

  it('round-trips a single-symbol stream at one bit per symbol', () => {
    const symbols = new Uint16Array(100).fill(7);
    const lengths = codeLengths(Array.from({ length: 9 }, (_, s) => (s === 7 ? 100 : 0)));
    const bytes = huffmanEncode(symbols, lengths);
    expect(bytes.length).toBe(13);
    const out = new Uint16Array(100);
    huffmanDecode(bytes, decodeTable(lengths), out);
    expect(out).toEqual(symbols);
    // A 1 bit has no code in a single-symbol table.
    expect(code(() => huffmanDecode(Uint8Array.of(0x80), decodeTable(lengths), new Uint16Array(1)))).toBe('BAD_DATA');
  });

  it('reports a stream that ends before its symbols', () => {
    const lengths = Uint8Array.from([1, 2, 3, 3]);
    const bytes = huffmanEncode(Uint16Array.from([3, 3, 3, 3]), lengths);
    expect(bytes.length).toBe(2);
    expect(code(() => huffmanDecode(bytes, decodeTable(lengths), new Uint16Array(4)))).toBe('no error');
    // The 4 zero padding bits read as four 1-bit symbols; a ninth symbol would need bit 17.
    expect(code(() => huffmanDecode(bytes, decodeTable(lengths), new Uint16Array(8)))).toBe('no error');
    expect(code(() => huffmanDecode(bytes, decodeTable(lengths), new Uint16Array(9)))).toBe('BAD_DATA');
  });
});
