import { QuantizeError } from './errors.js';

/** Error of the kept (unmasked) elements after a quantizer rewrote `after`. */
export interface ErrorStats {
  /** Kept elements compared. */
  count: number;
  maxAbsError: number;
  mse: number;
  /** ||after - before|| / ||before|| (0 when before is all zero). */
  relativeError: number;
}

export function errorStats(before: Float32Array, after: Float32Array, mask?: Uint8Array): ErrorStats {
  let count = 0;
  let maxAbs = 0;
  let sq = 0;
  let norm = 0;
  for (let i = 0; i < before.length; i++) {
    if (mask && mask[i] === 0) continue;
    const e = after[i] - before[i];
    count++;
    sq += e * e;
    norm += before[i] * before[i];
    if (Math.abs(e) > maxAbs) maxAbs = Math.abs(e);
  }
  return { count, maxAbsError: maxAbs, mse: count ? sq / count : 0, relativeError: norm > 0 ? Math.sqrt(sq / norm) : 0 };
}

/** Bits of an index or integer code: an integer in 1..16 (Uint16 storage). `field` names the option in the error. */
export function checkBits(bits: unknown, field: string): number {
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 1 || bits > 16) {
    throw new QuantizeError(`${field} must be an integer in 1..16, got ${JSON.stringify(bits)}`);
  }
  return bits;
}
