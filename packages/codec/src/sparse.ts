/**
 * Relative (gap) indexing of the kept elements of a flattened tensor, Deep Compression style.
 *
 * With b-bit gap codes and M = 2^b - 1, the position starts at -1 and each code c moves it:
 * - c < M: forward by c + 1; the element there is kept and takes the next value of the values stream;
 * - c = M: forward by M; a filler. Fillers carry no value at all (the element stays 0), so unlike
 *   the paper's "filler zero" they cost gap bits only and no codebook entry has to be reserved.
 * After the last kept element, fillers continue while they stay inside the tensor, so the stream
 * covers the tensor: n <= finalPosition + M. That lets the decoder reject a declared size that its
 * bytes do not back before allocating it.
 */
import { CodecError } from './errors.js';

/** Gap widths the encoder tries (the paper: 8 bits for conv, 5 for dense layers). */
export const GAP_BITS = [3, 4, 5, 8] as const;
/**
 * Widest gap code the format allows. It bounds how many elements one stream bit may declare
 * (a 1-bit Huffman filler covers at most 255), so a tiny file cannot demand a huge allocation.
 */
export const MAX_GAP_BITS = 8;

/** Number of gap entries (kept + fillers) for kept positions `pos` (ascending) in a tensor of n. */
export function gapEntries(pos: ArrayLike<number>, n: number, gapBits: number): number {
  const M = 2 ** gapBits - 1;
  let entries = 0;
  let last = -1;
  for (let k = 0; k < pos.length; k++) {
    entries += 1 + Math.floor((pos[k] - last - 1) / M);
    last = pos[k];
  }
  return entries + Math.floor((n - 1 - last) / M);
}

/** Gap codes for kept positions `pos` (ascending, each < n). */
export function encodeGaps(pos: ArrayLike<number>, n: number, gapBits: number): Uint16Array {
  const M = 2 ** gapBits - 1;
  const codes = new Uint16Array(gapEntries(pos, n, gapBits));
  let e = 0;
  let last = -1;
  for (let k = 0; k < pos.length; k++) {
    let g = pos[k] - last;
    for (; g > M; g -= M) codes[e++] = M;
    codes[e++] = g - 1;
    last = pos[k];
  }
  for (; last + M <= n - 1; last += M) codes[e++] = M;
  return codes;
}

/**
 * Kept positions from gap codes, validated against a tensor of n elements: every position must be
 * inside it (BAD_DATA) and the stream must cover it (SIZE_LIMIT: n is not backed by the stream).
 */
export function decodeGaps(codes: ArrayLike<number>, n: number, gapBits: number, where?: string): Int32Array {
  const M = 2 ** gapBits - 1;
  let kept = 0;
  let p = -1;
  for (let e = 0; e < codes.length; e++) {
    const c = codes[e];
    if (c > M) throw new CodecError('BAD_DATA', `gap code ${c} at entry ${e} exceeds ${M}`, where);
    p += c === M ? M : c + 1;
    if (c !== M) kept++;
    if (p >= n) throw new CodecError('BAD_DATA', `gap entry ${e} points at element ${p}, past the ${n} elements`, where);
  }
  if (n > p + M) throw new CodecError('SIZE_LIMIT', `gap stream covers ${p + 1} elements, the shape declares ${n}`, where);
  const pos = new Int32Array(kept);
  let k = 0;
  p = -1;
  for (let e = 0; e < codes.length; e++) {
    const c = codes[e];
    if (c === M) p += M;
    else pos[k++] = p += c + 1;
  }
  return pos;
}
