/**
 * A strict raw-DEFLATE (RFC 1951) decoder for the container header. Written here rather than
 * imported so the loader stays dependency-free and small; headers are a few KB, so decoding
 * one bit at a time (canonical codes by counts, as RFC 1951 section 3.2.2 defines them) is fast
 * enough. The output size is declared up front: nothing is allocated beyond it, and an input
 * that inflates to more or less is an error.
 */

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** The order in which code-length code lengths are stored in a dynamic block. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const MAX_BITS = 15;

/** Deflate's worst-case expansion is 1032:1 (258-byte matches in 2 bits), plus block overhead. */
export const maxInflatedSize = (compressedBytes: number): number => compressedBytes * 1032 + 1024;

/** Thrown with a short description; the caller names the section. */
export class InflateError extends Error {}

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Code {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function buildCode(lengths: ArrayLike<number>, what: string): Code {
  const counts = new Uint16Array(MAX_BITS + 1);
  for (let s = 0; s < lengths.length; s++) counts[lengths[s]]++;
  let left = 1;
  for (let len = 1; len <= MAX_BITS; len++) {
    left = (left << 1) - counts[len];
    if (left < 0) throw new InflateError(`over-subscribed ${what} code`);
  }
  // Incomplete codes are legal (e.g. a single distance code); an unused code fails in decodeSymbol.
  const offsets = new Uint16Array(MAX_BITS + 2);
  for (let len = 1; len <= MAX_BITS; len++) offsets[len + 1] = offsets[len] + counts[len];
  const symbols = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) if (lengths[s] !== 0) symbols[offsets[lengths[s]]++] = s;
  counts[0] = 0;
  return { counts, symbols };
}

class BitReader {
  private pos = 0;
  private buf = 0;
  private count = 0;
  constructor(private readonly input: Uint8Array) {}

  /** `n` bits (n <= 16), least significant first. */
  bits(n: number): number {
    while (this.count < n) {
      if (this.pos >= this.input.length) throw new InflateError('compressed data ends early');
      this.buf |= this.input[this.pos++] << this.count;
      this.count += 8;
    }
    const v = this.buf & ((1 << n) - 1);
    this.buf >>>= n;
    this.count -= n;
    return v;
  }

  /** Drop the bits left in the current byte; the next read starts on a byte boundary. */
  align(): void {
    this.buf = 0;
    this.count = 0;
  }

  /** Whole bytes not yet read. */
  remaining(): number {
    return this.input.length - this.pos;
  }

  byte(): number {
    if (this.pos >= this.input.length) throw new InflateError('compressed data ends early');
    return this.input[this.pos++];
  }

  /** Huffman codes are packed starting from their most significant bit. */
  decodeSymbol(code: Code): number {
    let c = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= MAX_BITS; len++) {
      c |= this.bits(1);
      const n = code.counts[len];
      if (c - first < n) return code.symbols[index + c - first];
      index += n;
      first = (first + n) << 1;
      c <<= 1;
    }
    throw new InflateError('invalid Huffman code');
  }
}

class Output {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  push(b: number): void {
    if (this.pos >= this.bytes.length) throw new InflateError(`inflates to more than the declared ${this.bytes.length} bytes`);
    this.bytes[this.pos++] = b;
  }

  copy(distance: number, length: number): void {
    if (distance > this.pos) throw new InflateError(`distance ${distance} reaches before the start of the output`);
    if (this.pos + length > this.bytes.length) throw new InflateError(`inflates to more than the declared ${this.bytes.length} bytes`);
    for (let i = 0; i < length; i++, this.pos++) this.bytes[this.pos] = this.bytes[this.pos - distance];
  }
}

function stored(r: BitReader, out: Output): void {
  r.align();
  const len = r.byte() | (r.byte() << 8);
  const nlen = r.byte() | (r.byte() << 8);
  if ((len ^ 0xffff) !== nlen) throw new InflateError('stored block length does not match its complement');
  for (let i = 0; i < len; i++) out.push(r.byte());
}

function codes(r: BitReader, out: Output, lit: Code, dist: Code): void {
  for (;;) {
    const sym = r.decodeSymbol(lit);
    if (sym < 256) out.push(sym);
    else if (sym === 256) return;
    else {
      const li = sym - 257;
      if (li >= LENGTH_BASE.length) throw new InflateError(`invalid length symbol ${sym}`);
      const length = LENGTH_BASE[li] + r.bits(LENGTH_EXTRA[li]);
      const di = r.decodeSymbol(dist);
      if (di >= DIST_BASE.length) throw new InflateError(`invalid distance symbol ${di}`);
      out.copy(DIST_BASE[di] + r.bits(DIST_EXTRA[di]), length);
    }
  }
}

let fixedCodes: [Code, Code] | undefined;
function fixed(): [Code, Code] {
  if (!fixedCodes) {
    const lit = new Uint8Array(288);
    lit.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
    fixedCodes = [buildCode(lit, 'literal/length'), buildCode(new Uint8Array(30).fill(5), 'distance')];
  }
  return fixedCodes;
}

function dynamic(r: BitReader): [Code, Code] {
  const nlen = r.bits(5) + 257;
  const ndist = r.bits(5) + 1;
  const ncode = r.bits(4) + 4;
  if (nlen > 286 || ndist > 30) throw new InflateError('too many length or distance codes');
  const clLengths = new Uint8Array(19);
  for (let i = 0; i < ncode; i++) clLengths[CODE_LENGTH_ORDER[i]] = r.bits(3);
  const cl = buildCode(clLengths, 'code-length');
  const lengths = new Uint8Array(nlen + ndist);
  for (let i = 0; i < lengths.length; ) {
    const sym = r.decodeSymbol(cl);
    if (sym < 16) {
      lengths[i++] = sym;
      continue;
    }
    let value = 0;
    let repeat: number;
    if (sym === 16) {
      if (i === 0) throw new InflateError('repeat with no previous length');
      value = lengths[i - 1];
      repeat = 3 + r.bits(2);
    } else repeat = sym === 17 ? 3 + r.bits(3) : 11 + r.bits(7);
    if (i + repeat > lengths.length) throw new InflateError('code lengths overrun their table');
    lengths.fill(value, i, i + repeat);
    i += repeat;
  }
  if (lengths[256] === 0) throw new InflateError('no end-of-block code');
  return [buildCode(lengths.subarray(0, nlen), 'literal/length'), buildCode(lengths.subarray(nlen), 'distance')];
}

/** Inflate raw DEFLATE data that must produce exactly `size` bytes. Throws InflateError. */
export function inflateRaw(input: Uint8Array, size: number): Uint8Array {
  const r = new BitReader(input);
  const out = new Output(new Uint8Array(size));
  let last = 0;
  while (!last) {
    last = r.bits(1);
    const type = r.bits(2);
    if (type === 0) stored(r, out);
    else if (type === 1) codes(r, out, ...fixed());
    else if (type === 2) codes(r, out, ...dynamic(r));
    else throw new InflateError('invalid block type 3');
  }
  if (r.remaining() > 0) throw new InflateError(`${r.remaining()} bytes follow the last block`);
  if (out.pos !== size) throw new InflateError(`inflates to ${out.pos} bytes, the prefix declares ${size}`);
  return out.bytes;
}
