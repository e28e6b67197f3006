import { GraphError } from './errors.js';
import { fromFloat16Bits, toFloat16Bits } from './half.js';
import { storageRounding } from './stored.js';
import type { AffineQuant, Codebook, Param, QuantGroup } from './types.js';

export { fromFloat16Bits, toFloat16Bits } from './half.js';

/** Throws unless the param's annotations fit it: sizes, bit widths, codebook indices, quantization slots and scales. */
export function validateParam(p: Param): void {
  const n = p.data.length;
  const where = `param '${p.name}'`;
  const bitsOk = (bits: number) => Number.isInteger(bits) && bits >= 1 && bits <= 16;
  if (p.mask && p.mask.length !== n) throw new GraphError(`${where}: mask has ${p.mask.length} entries, param has ${n}`);
  const cb = p.codebook;
  if (cb) {
    if (cb.indices.length !== n) throw new GraphError(`${where}: codebook has ${cb.indices.length} indices, param has ${n}`);
    if (!bitsOk(cb.bits)) throw new GraphError(`${where}: codebook bits must be an integer in 1..16, got ${cb.bits}`);
    if (cb.centroids.length > 2 ** cb.bits) throw new GraphError(`${where}: ${cb.centroids.length} centroids do not fit in ${cb.bits} bits`);
    const bad = cb.indices.findIndex((i) => i >= cb.centroids.length);
    if (bad >= 0) throw new GraphError(`${where}: codebook index ${cb.indices[bad]} at ${bad} is out of range`);
  }
  const q = p.quant;
  if (q) {
    quantAxis(p, q);
    const g = q.group;
    if (g !== undefined) {
      if (q.axis === undefined) throw new GraphError(`${where}: group-wise quantization needs an axis (the channel axis)`);
      if (!(Number.isInteger(g.size) && g.size >= 1)) throw new GraphError(`${where}: quantization group size must be a positive integer, got ${g.size}`);
    }
    const { slots } = quantSlots(p.shape, q);
    if (q.scale.length !== slots || q.zeroPoint.length !== slots) {
      throw new GraphError(`${where}: quantization needs ${slots} scale/zero-point entries, got ${q.scale.length}/${q.zeroPoint.length}`);
    }
    if (!bitsOk(q.bits)) throw new GraphError(`${where}: quantization bits must be an integer in 1..16, got ${q.bits}`);
    const bad = q.scale.findIndex((v) => !(v > 0 && Number.isFinite(v)));
    if (bad >= 0) throw new GraphError(`${where}: quantization scale[${bad}] = ${q.scale[bad]} must be positive and finite`);
  }
}

/** Set a mask and zero the pruned elements. A mask of all ones is stored (it still pins nothing). */
export function setMask(p: Param, mask: Uint8Array): void {
  validateParam({ ...p, mask });
  p.mask = mask;
  applyMask(p);
}

/** Zero every masked element of `data`. Call after anything that may have moved them. */
export function applyMask(p: Param): void {
  const { mask, data } = p;
  if (!mask) return;
  for (let i = 0; i < data.length; i++) if (mask[i] === 0) data[i] = 0;
}

export function countNonzero(data: Float32Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) n++;
  return n;
}

/** Fraction of elements kept by the mask (1 without a mask). */
export function density(p: Param): number {
  if (!p.mask) return 1;
  let kept = 0;
  for (let i = 0; i < p.mask.length; i++) if (p.mask[i] !== 0) kept++;
  return kept / p.mask.length;
}

/** Attach a codebook and rewrite data from it, so data and annotation agree. */
export function setCodebook(p: Param, codebook: Codebook): void {
  validateParam({ ...p, codebook });
  p.codebook = codebook;
  applyCodebook(p);
}

/**
 * data[i] = centroids[indices[i]] for kept elements, 0 for masked ones. The centroids are first
 * rounded to what the param is stored as (`storageRounding`: float16, or the input file's uint8 /
 * uint16 grid), so shared values taken from an 8-bit input write back at 8 bits, exactly.
 */
export function applyCodebook(p: Param): void {
  const cb = p.codebook;
  if (!cb) return;
  const round = storageRounding(p);
  if (round) for (let j = 0; j < cb.centroids.length; j++) cb.centroids[j] = round(cb.centroids[j]);
  const { data, mask } = p;
  for (let i = 0; i < data.length; i++) data[i] = mask && mask[i] === 0 ? 0 : cb.centroids[cb.indices[i]];
}

export function quantRange(q: Pick<AffineQuant, 'bits' | 'signed'>): [number, number] {
  return q.signed ? [-(2 ** (q.bits - 1)), 2 ** (q.bits - 1) - 1] : [0, 2 ** q.bits - 1];
}

/**
 * The smallest positive float32 >= x, so a float32 scale never shrinks the range it must cover
 * (and a range too small for float32, or whose quotient underflowed to 0, still gets a scale > 0).
 */
function float32Up(x: number): number {
  const f = Math.fround(x);
  if (f >= x && f > 0) return f;
  const buf = new Float32Array([f]);
  new Uint32Array(buf.buffer)[0]++;
  return buf[0];
}

/**
 * Scale and zero point of the affine grid that covers [lo, hi] (0 is always inside the range).
 * Symmetric: [-max|x|, max|x|] with the zero point in the middle (0 for signed, 2^(bits-1) for
 * unsigned); needs bits >= 2. Asymmetric: [min, max] nudged as TF does, the zero point rounded to
 * an integer, so 0 maps exactly to a code and every value in [lo, hi] is within scale/2 of its
 * dequantized value. A float32 scale (rounded up); 1 for an empty range.
 */
export function affineRange(lo: number, hi: number, q: Pick<AffineQuant, 'bits' | 'signed'> & { symmetric?: boolean }): { scale: number; zeroPoint: number } {
  const [qmin, qmax] = quantRange(q);
  const [a, b] = [Math.min(lo, 0), Math.max(hi, 0)];
  if (q.symmetric) {
    const zeroPoint = q.signed ? 0 : 2 ** (q.bits - 1);
    const maxAbs = Math.max(-a, b);
    return { scale: maxAbs > 0 ? float32Up(maxAbs / (qmax - zeroPoint)) : 1, zeroPoint };
  }
  const scale = b - a > 0 ? float32Up((b - a) / (qmax - qmin)) : 1;
  return { scale, zeroPoint: Math.min(qmax, Math.max(qmin, Math.round(qmin - a / scale))) };
}

/**
 * The scale/zero-point slots of a quantization on a param of `shape`, and the slot of each element
 * (flat index): per tensor one slot; per axis one per slice; group-wise (see `AffineQuant.group`)
 * ceil(rows / size) x channels, where an element's row is its index over the other axes, row-major.
 */
export function quantSlots(shape: readonly number[], q: Pick<AffineQuant, 'axis' | 'group'>): { slots: number; slotOf: (i: number) => number } {
  if (q.axis === undefined) return { slots: 1, slotOf: () => 0 };
  const a = q.axis < 0 ? shape.length + q.axis : q.axis;
  const inner = shape.slice(a + 1).reduce((x, y) => x * y, 1);
  const dim = shape[a];
  if (!q.group) return { slots: dim, slotOf: (i) => Math.floor(i / inner) % dim };
  const rows = shape.reduce((x, y) => x * y, 1) / (dim || 1);
  const size = q.group.size;
  const block = dim * inner;
  return {
    slots: Math.ceil(rows / size) * dim,
    slotOf: (i) => {
      const row = Math.floor(i / block) * inner + (i % inner);
      return Math.floor(row / size) * dim + (Math.floor(i / inner) % dim);
    },
  };
}

/** Which scale/zero-point slot each element uses (per tensor: all 0); `group` for group-wise scales. */
export function quantSlot(shape: readonly number[], axis: number | undefined, group?: QuantGroup): (i: number) => number {
  return quantSlots(shape, { axis, group }).slotOf;
}

/** Integer codes of the data under `q` (clamped to the representable range). */
export function quantize(p: Param, q: AffineQuant): Int32Array {
  const [qmin, qmax] = quantRange(q);
  const slot = quantSlot(p.shape, q.axis, q.group);
  const out = new Int32Array(p.data.length);
  for (let i = 0; i < out.length; i++) {
    const s = slot(i);
    const v = Math.round(p.data[i] / q.scale[s]) + q.zeroPoint[s];
    out[i] = v < qmin ? qmin : v > qmax ? qmax : v;
  }
  return out;
}

/** Normalised quantization axis (or undefined per tensor); throws if out of range. */
function quantAxis(p: Param, q: AffineQuant): number | undefined {
  if (q.axis === undefined) return undefined;
  const r = p.shape.length;
  if (!(Number.isInteger(q.axis) && q.axis >= -r && q.axis < r))
    throw new GraphError(`param '${p.name}': quantization axis ${q.axis} is out of range for shape [${p.shape.join(', ')}]`);
  return q.axis < 0 ? r + q.axis : q.axis;
}

/** Attach affine quantization and rewrite data to the dequantized values. */
export function setQuant(p: Param, q: AffineQuant): void {
  validateParam({ ...p, quant: q });
  p.quant = q;
  applyQuant(p);
}

/** Snap data to the param's quantization grid (dequantized values), keeping masked zeros. */
export function applyQuant(p: Param): void {
  const q = p.quant;
  if (!q) return;
  const codes = quantize(p, q);
  const slot = quantSlot(p.shape, q.axis, q.group);
  for (let i = 0; i < codes.length; i++) {
    const s = slot(i);
    p.data[i] = q.scale[s] * (codes[i] - q.zeroPoint[s]);
  }
  applyMask(p);
}

/** Round data to float16 precision and mark the param for float16 storage. */
export function setFloat16(p: Param): void {
  p.float16 = true;
  applyFloat16(p);
}

/** Round data to the nearest float16 values (when the param is marked float16). */
export function applyFloat16(p: Param): void {
  if (!p.float16) return;
  for (let i = 0; i < p.data.length; i++) p.data[i] = fromFloat16Bits(toFloat16Bits(p.data[i]));
}

/**
 * Re-impose every annotation on `data` (after an optimizer step, say): shared values from the
 * codebook, else the quantization grid, else float16 rounding; masked elements back to 0.
 */
export function enforceAnnotations(p: Param): void {
  if (p.codebook) applyCodebook(p);
  else if (p.quant) applyQuant(p);
  else applyFloat16(p);
  applyMask(p);
}
