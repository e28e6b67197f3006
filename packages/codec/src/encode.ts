/**
 * Param encoder: picks, per param, the smallest of dense and sparse (each gap width) storage, and
 * per code stream raw packing or Huffman coding. Before storing anything it checks that the param's
 * data is exactly what its annotations reproduce, so that decoding is bit-exact.
 */
import { fitsStored, storedEncoding, toFloat16Bits, type Param } from '@condense/ir';
import { pack, packedBytes } from './bits.js';
import { CodecError } from './errors.js';
import {
  affineBits,
  gridBits,
  halfToFloatBits,
  quantMin,
  quantSlots,
  storedGrid,
  type GridJson,
  type ParamEntry,
  type SectionKind,
  type StreamName,
  type ValueEncoding,
} from './format.js';
import { MAX_HUFFMAN_SYMBOLS, codeLengths, encodedBits, huffmanEncode, lengthsToString } from './huffman.js';
import { GAP_BITS, MAX_GAP_BITS, encodeGaps } from './sparse.js';

export interface ParamEncodeOptions {
  /** Gap widths (1..8) to try for sparse storage (default 3, 4, 5, 8). Empty: always dense. */
  gapBits?: readonly number[];
  /** Allow Huffman coding of index and gap streams when smaller (default true). */
  huffman?: boolean;
}

/** A stream ready to be placed in the body. */
export interface EncodedStream {
  name: StreamName;
  kind: SectionKind;
  bytes: Uint8Array;
  n: number;
  bits: number;
  huff?: string;
}

export interface EncodedParam {
  entry: Omit<ParamEntry, 'streams'>;
  streams: EncodedStream[];
}

/** Rough JSON cost of one stream reference in the header, so that fewer streams win ties. */
const STREAM_JSON_BYTES = 90;

const u32 = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

/**
 * Which of the param's annotations decides how its values are stored (as @condense/ir's cost
 * model); without one, the encoding its input file stored it in while the data still fits it.
 */
export function valueEncoding(p: Param): ValueEncoding {
  if (p.codebook) return 'codebook';
  if (p.quant) return 'affine';
  if (p.float16) return 'float16';
  const stored = storedEncoding(p).dtype;
  if (stored === 'float32' || !fitsStored(p)) return 'float32';
  return stored === 'float16' ? 'float16' : 'grid';
}

export function encodeParam(p: Param, kind: 'weight' | 'bias', options: ParamEncodeOptions = {}): EncodedParam {
  const where = `param '${p.name}'`;
  const n = p.shape.reduce((a, b) => a * b, 1);
  if (p.data.length !== n) throw new CodecError('INCONSISTENT_PARAM', `has ${p.data.length} values for shape [${p.shape.join(', ')}]`, where);
  const encoding = valueEncoding(p);
  checkAnnotations(p, n, where);
  const grid = encoding === 'grid' ? (storedGrid(p.stored?.entry) as GridJson) : undefined;
  const sym = valueSymbols(p, encoding, n, where, grid);
  const huffman = options.huffman !== false;
  const valueBits = { float32: 32, float16: 16, affine: p.quant?.bits ?? 0, codebook: p.codebook?.bits ?? 0, grid: grid?.bits ?? 0 }[encoding];
  const alphabet = encoding === 'codebook' ? p.codebook!.centroids.length : encoding === 'affine' || encoding === 'grid' ? 2 ** valueBits : 0;
  const values = (s: Uint32Array) => planValues(s, valueBits, alphabet, huffman);

  // Dense: every element's symbol, plus a 1-bit-per-element mask if there is one.
  const dense = values(sym);
  let best: { cost: number; gapBits?: number; values: Plan; gaps?: Plan } = {
    cost: dense.cost + (p.mask ? packedBytes(n, 1) + STREAM_JSON_BYTES : 0),
    values: dense,
  };
  const pos = keptPositions(p, n);
  const gapChoices = options.gapBits ?? GAP_BITS;
  if (gapChoices.length > 0 && pos.length < n) {
    const keptSym = new Uint32Array(pos.length);
    for (let k = 0; k < pos.length; k++) keptSym[k] = sym[pos[k]];
    const sparseValues = values(keptSym);
    for (const b of gapChoices) {
      if (!(Number.isInteger(b) && b >= 1 && b <= MAX_GAP_BITS)) throw new CodecError('INVALID_ARGUMENT', `gap width ${b} is not in 1..${MAX_GAP_BITS}`);
      const gaps = planCodes(encodeGaps(pos, n, b), b, 2 ** b, huffman);
      const cost = sparseValues.cost + gaps.cost + STREAM_JSON_BYTES;
      if (cost < best.cost) best = { cost, gapBits: b, values: sparseValues, gaps };
    }
  }

  const entry: EncodedParam['entry'] = { name: p.name, shape: [...p.shape], encoding };
  if (best.gapBits !== undefined) entry.gapBits = best.gapBits;
  if (p.mask) entry.mask = true;
  if (p.float16) entry.float16 = true;
  if (p.frozen) entry.frozen = true;
  if (p.codebook) entry.codebook = { bits: p.codebook.bits, size: p.codebook.centroids.length };
  if (p.quant) {
    const { bits, signed, axis, group } = p.quant;
    entry.quant = { bits, signed, ...(axis !== undefined ? { axis } : {}), ...(group ? { group: { size: group.size } } : {}) };
  }
  if (p.stored) entry.stored = p.stored.entry;

  const streamKind = (s: StreamName): SectionKind =>
    kind === 'bias' ? 'bias' : s === 'values' ? (encoding === 'codebook' ? 'indices' : 'values') : s === 'centroids' ? 'codebook' : s;
  const streams: EncodedStream[] = [{ name: 'values', kind: streamKind('values'), ...best.values.build() }];
  if (best.gaps) streams.push({ name: 'gaps', kind: streamKind('gaps'), ...best.gaps.build() });
  if (p.mask && best.gapBits === undefined) streams.push({ name: 'mask', kind: streamKind('mask'), bytes: pack(p.mask, 1), n, bits: 1 });
  if (p.codebook) {
    const c = p.codebook.centroids;
    streams.push({ name: 'centroids', kind: streamKind('centroids'), bytes: wordsLE(u32(c)), n: c.length, bits: 32 });
  }
  if (p.quant) {
    const { scale, zeroPoint } = p.quant;
    const w = new Uint32Array(scale.length * 2);
    w.set(u32(scale));
    w.set(new Uint32Array(zeroPoint.buffer, zeroPoint.byteOffset, zeroPoint.length), scale.length);
    streams.push({ name: 'quant', kind: streamKind('quant'), bytes: wordsLE(w), n: w.length, bits: 32 });
  }
  return { entry, streams };
}

/** The annotations themselves must be well formed, and pruned elements exactly +0. */
function checkAnnotations(p: Param, n: number, where: string): void {
  const bad = (msg: string) => new CodecError('INCONSISTENT_PARAM', msg, where);
  const bits = u32(p.data);
  if (p.mask) {
    if (p.mask.length !== n) throw bad(`mask has ${p.mask.length} entries for ${n} elements`);
    for (let i = 0; i < n; i++) {
      if (p.mask[i] > 1) throw bad(`mask entry ${i} is ${p.mask[i]}, not 0 or 1`);
      if (p.mask[i] === 0 && bits[i] !== 0) throw bad(`pruned element ${i} is ${p.data[i]}, not 0 (call applyMask)`);
    }
  }
  if (p.codebook) {
    const { bits: b, centroids, indices } = p.codebook;
    if (!(Number.isInteger(b) && b >= 1 && b <= 16)) throw bad(`codebook bits ${b} is not in 1..16`);
    if (centroids.length < 1 || centroids.length > 2 ** b) throw bad(`${centroids.length} centroids do not fit in ${b} bits`);
    if (indices.length !== n) throw bad(`codebook has ${indices.length} indices for ${n} elements`);
  }
  if (p.quant) {
    const q = p.quant;
    if (!(Number.isInteger(q.bits) && q.bits >= 1 && q.bits <= 16)) throw bad(`quantization bits ${q.bits} is not in 1..16`);
    if (q.axis !== undefined && !(Number.isInteger(q.axis) && q.axis >= -p.shape.length && q.axis < p.shape.length))
      throw bad(`quantization axis ${q.axis} is outside the shape`);
    if (q.group !== undefined && !(q.axis !== undefined && Number.isInteger(q.group.size) && q.group.size >= 1))
      throw bad(`quantization group ${JSON.stringify(q.group)} needs an axis and a positive integer size`);
    const { slots } = quantSlots(p.shape, q.axis, q.group);
    if (q.scale.length !== slots || q.zeroPoint.length !== slots)
      throw bad(`quantization needs ${slots} scale/zero-point entries, has ${q.scale.length}/${q.zeroPoint.length}`);
  }
}

/**
 * One symbol per element (float bits, half bits, affine code - qmin, or centroid index), checked
 * to decode to exactly the element's float32 bits. Pruned elements are not checked (they decode to +0).
 */
function valueSymbols(p: Param, encoding: ValueEncoding, n: number, where: string, grid?: GridJson): Uint32Array {
  const bits = u32(p.data);
  const kept = (i: number) => !p.mask || p.mask[i] === 1;
  const mismatch = (i: number, what: string) =>
    new CodecError('INCONSISTENT_PARAM', `element ${i} is ${p.data[i]} but its ${what}; data and annotations disagree (re-apply the annotation)`, where);
  const sym = new Uint32Array(n);
  switch (encoding) {
    case 'float32':
      sym.set(bits);
      break;
    case 'float16':
      for (let i = 0; i < n; i++) {
        sym[i] = toFloat16Bits(p.data[i]);
        if (kept(i) && halfToFloatBits(sym[i]) !== bits[i]) throw mismatch(i, 'float16 rounding differs');
      }
      break;
    case 'affine': {
      const q = p.quant!;
      const qmin = quantMin(q.bits, q.signed);
      const qmax = qmin + 2 ** q.bits - 1;
      const { slotOf } = quantSlots(p.shape, q.axis, q.group);
      for (let i = 0; i < n; i++) {
        const s = slotOf(i);
        const code = affineCode(p.data[i], bits[i], q.scale[s], q.zeroPoint[s], qmin, qmax);
        if (code === undefined) {
          if (kept(i)) throw mismatch(i, `nearest ${q.bits}-bit code does not dequantize to it`);
          sym[i] = Math.min(Math.max(q.zeroPoint[s], qmin), qmax) - qmin;
        } else sym[i] = code - qmin;
      }
      break;
    }
    case 'grid': {
      const g = grid as GridJson;
      for (let i = 0; i < n; i++) {
        const code = gridCodeOf(g, p.data[i], bits[i]);
        if (code === undefined) throw mismatch(i, `value is not on its input's ${g.bits}-bit grid`);
        sym[i] = code;
      }
      break;
    }
    case 'codebook': {
      const { centroids, indices } = p.codebook!;
      const cbits = u32(centroids);
      for (let i = 0; i < n; i++) {
        if (!kept(i)) continue; // pruned: index 0, as @condense/ir keeps it
        const idx = indices[i];
        if (idx >= centroids.length) throw mismatch(i, `centroid index ${idx} is out of range`);
        if (cbits[idx] !== bits[i]) throw mismatch(i, `centroid ${idx} is ${centroids[idx]}`);
        sym[i] = idx;
      }
      break;
    }
  }
  return sym;
}

/** The grid code whose value has exactly `bits`, if there is one. */
function gridCodeOf(g: GridJson, v: number, bits: number): number | undefined {
  const q0 = Math.round((v - g.min) / g.scale);
  const max = 2 ** g.bits - 1;
  for (const q of [q0, q0 - 1, q0 + 1]) if (q >= 0 && q <= max && gridBits(g, q) === bits) return q;
  return undefined;
}

/** The integer code whose dequantized float32 has exactly `bits`, if one exists in [qmin, qmax]. */
function affineCode(v: number, bits: number, scale: number, zp: number, qmin: number, qmax: number): number | undefined {
  const q0 = Math.round(v / scale) + zp;
  if (!Number.isFinite(q0)) return undefined;
  for (const q of [q0, q0 - 1, q0 + 1]) if (q >= qmin && q <= qmax && affineBits(scale, q, zp) === bits) return q;
  return undefined;
}

/**
 * Positions stored by the sparse form. With a mask: the kept elements. Without: every element
 * that does not decode to the default (+0 bits, and centroid index 0 for codebooks); -0 is kept.
 */
function keptPositions(p: Param, n: number): Int32Array {
  const bits = u32(p.data);
  const idx = p.codebook?.indices;
  const keep = p.mask ? (i: number) => p.mask![i] === 1 : (i: number) => bits[i] !== 0 || (idx !== undefined && idx[i] !== 0);
  let count = 0;
  for (let i = 0; i < n; i++) if (keep(i)) count++;
  const pos = new Int32Array(count);
  for (let i = 0, k = 0; i < n; i++) if (keep(i)) pos[k++] = i;
  return pos;
}

interface Plan {
  /** Body bytes plus the Huffman table's header bytes. */
  cost: number;
  build(): { bytes: Uint8Array; n: number; bits: number; huff?: string };
}

function planValues(sym: Uint32Array, bits: number, alphabet: number, huffman: boolean): Plan {
  if (bits === 32) return { cost: sym.length * 4, build: () => ({ bytes: wordsLE(sym), n: sym.length, bits }) };
  if (bits === 16 && alphabet === 0) return { cost: sym.length * 2, build: () => ({ bytes: halvesLE(sym), n: sym.length, bits }) };
  return planCodes(sym, bits, alphabet, huffman);
}

/** Raw packing or Huffman coding, whichever is smaller (the table's header bytes included). */
function planCodes(sym: ArrayLike<number>, bits: number, alphabet: number, huffman: boolean): Plan {
  const n = sym.length;
  const raw: Plan = { cost: packedBytes(n, bits), build: () => ({ bytes: pack(sym, bits), n, bits }) };
  if (!huffman || n === 0 || alphabet > MAX_HUFFMAN_SYMBOLS) return raw;
  const freqs = new Float64Array(alphabet);
  for (let i = 0; i < n; i++) freqs[sym[i]]++;
  const lengths = codeLengths(freqs);
  const huff = lengthsToString(lengths);
  const cost = Math.ceil(encodedBits(freqs, lengths) / 8) + huff.length + 10;
  if (cost >= raw.cost) return raw;
  return { cost, build: () => ({ bytes: huffmanEncode(sym, lengths), n, bits, huff }) };
}

function wordsLE(w: Uint32Array): Uint8Array {
  const out = new Uint8Array(w.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < w.length; i++) dv.setUint32(i * 4, w[i], true);
  return out;
}

function halvesLE(h: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(h.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < h.length; i++) dv.setUint16(i * 2, h[i], true);
  return out;
}
