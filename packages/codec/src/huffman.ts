/**
 * Canonical Huffman coding with a length limit: optimal limited code lengths by package-merge,
 * canonical code assignment (as in DEFLATE: shorter codes first, ties by symbol), MSB-first codes,
 * and single-table decoding on the next `maxLength` bits.
 */
import { BitWriter } from './bits.js';
import { CodecError } from './errors.js';

/** Longest code the format allows; also the decoder's table width bound (2^15 entries). */
export const MAX_CODE_LENGTH = 15;
/** Largest alphabet the format Huffman-codes (code-length tables live in the JSON header). */
export const MAX_HUFFMAN_SYMBOLS = 4096;

/**
 * Code lengths minimising sum(freq * length) subject to length <= maxLength (package-merge,
 * Larmore & Hirschberg). Symbols with frequency 0 get length 0. A single used symbol gets length 1.
 */
export function codeLengths(freqs: ArrayLike<number>, maxLength = MAX_CODE_LENGTH): Uint8Array {
  const lengths = new Uint8Array(freqs.length);
  const used: number[] = [];
  for (let s = 0; s < freqs.length; s++) if (freqs[s] > 0) used.push(s);
  const n = used.length;
  if (n === 0) return lengths;
  if (n === 1) {
    lengths[used[0]] = 1;
    return lengths;
  }
  if (n > 2 ** maxLength) throw new CodecError('INVALID_ARGUMENT', `${n} symbols do not fit in codes of at most ${maxLength} bits`);
  used.sort((a, b) => freqs[a] - freqs[b] || a - b);
  // Items 0..n-1 are leaves (used[i]); later items are packages of two earlier items.
  const weight: number[] = used.map((s) => freqs[s]);
  const left: number[] = new Array(n).fill(-1);
  const right: number[] = new Array(n).fill(-1);
  const leaves = used.map((_, i) => i);
  let list = leaves;
  for (let level = 1; level < maxLength; level++) {
    const packages: number[] = [];
    for (let j = 0; j + 1 < list.length; j += 2) {
      weight.push(weight[list[j]] + weight[list[j + 1]]);
      left.push(list[j]);
      right.push(list[j + 1]);
      packages.push(weight.length - 1);
    }
    list = mergeByWeight(leaves, packages, weight);
  }
  // Each appearance of a leaf among the first 2n-2 items adds one to its code length.
  const stack: number[] = list.slice(0, 2 * n - 2);
  while (stack.length) {
    const item = stack.pop() as number;
    if (item < n) lengths[used[item]]++;
    else stack.push(left[item], right[item]);
  }
  return lengths;
}

function mergeByWeight(a: number[], b: number[], weight: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && weight[a[i]] <= weight[b[j]])) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}

/**
 * Throws BAD_HUFFMAN unless `lengths` is a usable prefix code: every length <= maxLength, at
 * least one symbol, and the Kraft sum exactly 1 (neither over-subscribed nor incomplete). The
 * one exception is a single symbol, which must have length 1 (its code is `0`).
 */
export function checkLengths(lengths: ArrayLike<number>, where?: string, maxLength = MAX_CODE_LENGTH): void {
  let used = 0;
  let kraft = 0;
  for (let s = 0; s < lengths.length; s++) {
    const l = lengths[s];
    if (l === 0) continue;
    if (!(l >= 1 && l <= maxLength)) throw new CodecError('BAD_HUFFMAN', `code length ${l} of symbol ${s} is outside 1..${maxLength}`, where);
    used++;
    kraft += 2 ** (maxLength - l);
  }
  if (used === 0) throw new CodecError('BAD_HUFFMAN', 'code-length table has no symbols', where);
  if (used === 1) {
    if (kraft !== 2 ** (maxLength - 1)) throw new CodecError('BAD_HUFFMAN', 'a single-symbol code must have length 1', where);
    return;
  }
  const full = 2 ** maxLength;
  if (kraft > full) throw new CodecError('BAD_HUFFMAN', 'code-length table is over-subscribed (Kraft sum > 1)', where);
  if (kraft < full) throw new CodecError('BAD_HUFFMAN', 'code-length table is incomplete (Kraft sum < 1)', where);
}

/** Canonical codes for valid lengths: codes[s] is the `lengths[s]`-bit code of symbol s. */
export function canonicalCodes(lengths: ArrayLike<number>): Uint32Array {
  let maxLen = 0;
  for (let s = 0; s < lengths.length; s++) maxLen = Math.max(maxLen, lengths[s]);
  const count = new Uint32Array(maxLen + 1);
  for (let s = 0; s < lengths.length; s++) count[lengths[s]]++;
  count[0] = 0;
  const next = new Uint32Array(maxLen + 2);
  let code = 0;
  for (let l = 1; l <= maxLen; l++) {
    code = (code + count[l - 1]) << 1;
    next[l] = code;
  }
  const codes = new Uint32Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) if (lengths[s]) codes[s] = next[lengths[s]]++;
  return codes;
}

/** Encoded size in bits of a stream with these symbol frequencies. */
export function encodedBits(freqs: ArrayLike<number>, lengths: ArrayLike<number>): number {
  let bits = 0;
  for (let s = 0; s < freqs.length; s++) bits += freqs[s] * lengths[s];
  return bits;
}

/** Huffman-code `symbols` (each must have a non-zero length). */
export function huffmanEncode(symbols: ArrayLike<number>, lengths: ArrayLike<number>): Uint8Array {
  const codes = canonicalCodes(lengths);
  const w = new BitWriter();
  for (let i = 0; i < symbols.length; i++) w.write(codes[symbols[i]], lengths[symbols[i]]);
  return w.finish();
}

/** A decoding table: entry = (symbol << 4) | length, indexed by the next `bits` stream bits; 0 = no code. */
export interface DecodeTable {
  bits: number;
  entries: Uint32Array;
}

/** Validates the lengths (BAD_HUFFMAN) and builds the lookup table. */
export function decodeTable(lengths: ArrayLike<number>, where?: string): DecodeTable {
  checkLengths(lengths, where);
  let bits = 0;
  for (let s = 0; s < lengths.length; s++) bits = Math.max(bits, lengths[s]);
  const codes = canonicalCodes(lengths);
  const entries = new Uint32Array(1 << bits);
  for (let s = 0; s < lengths.length; s++) {
    const l = lengths[s];
    if (!l) continue;
    const start = codes[s] << (bits - l);
    entries.fill((s << 4) | l, start, start + (1 << (bits - l)));
  }
  return { bits, entries };
}

/**
 * Decode `out.length` symbols. The caller bounds out.length by the stream size (>= 1 bit per
 * symbol), so this always terminates; reading past the end of `bytes` is reported as BAD_DATA.
 */
export function huffmanDecode(bytes: Uint8Array, table: DecodeTable, out: Uint16Array | Uint32Array | Int32Array, where?: string): void {
  const { bits, entries } = table;
  const n = out.length;
  const len = bytes.length;
  let pos = 0;
  let acc = 0;
  let cnt = 0;
  for (let i = 0; i < n; i++) {
    while (cnt < bits) {
      acc = (acc << 8) | (pos < len ? bytes[pos] : 0);
      pos++;
      cnt += 8;
    }
    const e = entries[(acc >>> (cnt - bits)) & ((1 << bits) - 1)];
    const l = e & 15;
    if (l === 0) throw new CodecError('BAD_DATA', `invalid Huffman code at symbol ${i}`, where);
    out[i] = e >>> 4;
    cnt -= l;
    acc &= (1 << cnt) - 1;
  }
  if (pos * 8 - cnt > len * 8) throw new CodecError('BAD_DATA', `Huffman stream ends before its ${n} symbols`, where);
}

const DIGITS = '0123456789abcdef';

/** Code lengths as one hex digit per symbol, trailing zeros dropped: compact in a JSON header. */
export function lengthsToString(lengths: ArrayLike<number>): string {
  let end = lengths.length;
  while (end > 0 && lengths[end - 1] === 0) end--;
  let s = '';
  for (let i = 0; i < end; i++) s += DIGITS[lengths[i]];
  return s;
}

/** Inverse of `lengthsToString` for an alphabet of `alphabet` symbols; BAD_HUFFMAN when malformed. */
export function lengthsFromString(s: unknown, alphabet: number, where?: string): Uint8Array {
  if (typeof s !== 'string') throw new CodecError('BAD_HUFFMAN', 'code-length table is not a string', where);
  if (s.length > alphabet) throw new CodecError('BAD_HUFFMAN', `code-length table has ${s.length} entries for an alphabet of ${alphabet}`, where);
  const out = new Uint8Array(alphabet);
  for (let i = 0; i < s.length; i++) {
    const d = DIGITS.indexOf(s[i]);
    if (d < 0) throw new CodecError('BAD_HUFFMAN', `code-length table has an invalid digit '${s[i]}' at ${i}`, where);
    out[i] = d;
  }
  return out;
}
