/**
 * Bit I/O, most significant bit first: the first bit of a stream is bit 7 of byte 0. MSB-first
 * lets a Huffman decoder index its lookup table with the next N bits of the stream as they are.
 * Reading is `unpack` (fixed widths) and `huffmanDecode` (codes), each one tight loop; the header's
 * DEFLATE reader (least significant bit first) is inflate.ts's.
 */

/** Appends bit fields to a growing byte buffer. */
export class BitWriter {
  private buf = new Uint8Array(1024);
  private len = 0;
  /** Pending bits, in the low `cnt` bits (fewer than 8 between writes). */
  private acc = 0;
  private cnt = 0;

  /** Append the low `bits` bits of `value` (0 <= bits <= 24). */
  write(value: number, bits: number): void {
    this.acc = (this.acc << bits) | (value & ((1 << bits) - 1));
    this.cnt += bits;
    while (this.cnt >= 8) {
      this.cnt -= 8;
      this.push((this.acc >>> this.cnt) & 0xff);
    }
    this.acc &= (1 << this.cnt) - 1;
  }

  get bitLength(): number {
    return this.len * 8 + this.cnt;
  }

  /** The bytes written, the last one padded with zero bits. The writer is spent afterwards. */
  finish(): Uint8Array {
    if (this.cnt > 0) this.push((this.acc << (8 - this.cnt)) & 0xff);
    this.cnt = 0;
    this.acc = 0;
    return this.buf.subarray(0, this.len);
  }

  private push(byte: number): void {
    if (this.len === this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.len++] = byte;
  }
}

/** Bytes needed for `count` fields of `bits` bits. */
export const packedBytes = (count: number, bits: number): number => Math.ceil((count * bits) / 8);

/** Pack `values` (each < 2^bits, bits <= 24) into ceil(n*bits/8) bytes. */
export function pack(values: ArrayLike<number>, bits: number): Uint8Array {
  const w = new BitWriter();
  for (let i = 0; i < values.length; i++) w.write(values[i], bits);
  return w.finish();
}

/**
 * Unpack `out.length` fields of `bits` bits (1..24). The caller has checked that `bytes` holds
 * them all, so the inner loop needs no bounds test beyond the array's own.
 */
export function unpack(bytes: Uint8Array, bits: number, out: Uint8Array | Uint16Array | Uint32Array | Int32Array): void {
  const n = out.length;
  if (bits === 8) {
    for (let i = 0; i < n; i++) out[i] = bytes[i];
    return;
  }
  let pos = 0;
  let acc = 0;
  let cnt = 0;
  const mask = (1 << bits) - 1;
  for (let i = 0; i < n; i++) {
    while (cnt < bits) {
      acc = ((acc << 8) | bytes[pos++]) >>> 0;
      cnt += 8;
    }
    cnt -= bits;
    out[i] = (acc >>> cnt) & mask;
    acc &= (1 << cnt) - 1;
  }
}
