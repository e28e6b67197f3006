/**
 * The `.cdz` container layout, shared by the encoder and the decoder. Plain types only: the
 * decoding core must not depend on @condense/ir, so that the TF.js loader can use it alone.
 *
 *   offset 0   4 bytes  magic "CNDZ"
 *          4   u32 LE   format version (3)
 *          8   u32 LE   H = byte length of the stored header
 *         12   u32 LE   CRC-32 of those H bytes
 *         16   u32 LE   U = byte length of the header once inflated
 *         20   H bytes  the JSON header (UTF-8, a `ContainerHeader`), raw DEFLATE (RFC 1951)
 *     20 + H   body     `bodyBytes` bytes; every stream is a byte range of the body
 *
 * Version 1 (still read) had a 16-byte prefix without U and stored the JSON as is. Version 2
 * deflates it: the header (graph, param table, Huffman tables, TF.js topology) is mostly
 * repeated JSON keys, and shrinks about 4x, which is a tenth of a small model's container.
 */

export const MAGIC = Uint8Array.of(0x43, 0x4e, 0x44, 0x5a); // "CNDZ"
/** Version 3 adds the 'grid' encoding, each param's `stored` entry and group-wise quant scales; its layout is version 2's. */
export const VERSION = 3;
/** Versions this build decodes. */
export const READ_VERSIONS: readonly number[] = [1, 2, 3];
/** Prefix bytes of the current version. */
export const PREFIX_BYTES = 20;
export const prefixBytes = (version: number): number => (version === 1 ? 16 : PREFIX_BYTES);
/**
 * Header size bounds (the JSON, once inflated): at most HEADER_BASE_BYTES plus
 * HEADER_BYTES_PER_BODY_BYTE per body byte, and never more than MAX_HEADER_BYTES. A header
 * describes the body's streams and the graph, so a small file cannot declare a large one. The
 * base covers topologies with many layers and few weights (a reduced-width NASNetMobile's header is
 * 1.8 MB); what a stored header may inflate to is also bounded by its own length (deflate's ratio).
 */
export const MAX_HEADER_BYTES = 16 * 2 ** 20;
export const HEADER_BASE_BYTES = 4 * 2 ** 20;
export const HEADER_BYTES_PER_BODY_BYTE = 4;
/** Largest container file read from a path (the decoded size is bounded separately, by `maxElements`). */
export const MAX_CONTAINER_BYTES = 2 ** 31 - 1;
/** Deepest nesting of the JSON header (real topologies stay under 20). */
export const MAX_HEADER_DEPTH = 64;
/** The header size a body of `bodyBytes` allows. */
export const headerLimit = (bodyBytes: number): number => Math.min(MAX_HEADER_BYTES, HEADER_BASE_BYTES + HEADER_BYTES_PER_BODY_BYTE * bodyBytes);
export const FORMAT = 'condense-cdz';

/**
 * How a param's values are represented, in order of precedence when several annotations are
 * present. 'grid': no annotation, and the values lie on the uint8/uint16 grid their input file
 * stored them on (the `stored` entry's TF.js quantization).
 */
export type ValueEncoding = 'float32' | 'float16' | 'affine' | 'codebook' | 'grid';

/** What a byte range holds, for size reports. A bias param's streams are all `bias`. */
export type SectionKind = 'header' | 'indices' | 'gaps' | 'codebook' | 'values' | 'quant' | 'mask' | 'bias';
export const SECTION_KINDS: readonly SectionKind[] = ['header', 'indices', 'gaps', 'codebook', 'values', 'quant', 'mask', 'bias'];

export type StreamName = 'values' | 'gaps' | 'centroids' | 'quant' | 'mask';
export const STREAM_NAMES: readonly StreamName[] = ['values', 'gaps', 'centroids', 'quant', 'mask'];

/** A byte range of the body holding `n` symbols of `bits` bits, raw-packed or Huffman-coded. */
export interface StreamRef {
  /** Offset from the start of the body. */
  off: number;
  len: number;
  /** CRC-32 of the range. */
  crc: number;
  n: number;
  bits: number;
  /** Huffman code lengths, one hex digit per symbol (trailing zeros dropped); absent = raw. */
  huff?: string;
  kind: SectionKind;
}

/**
 * One param. Stream contents:
 * - `values`: float32 -> n u32 LE (the float's bits); float16 -> n u16 LE half bits;
 *   affine -> codes q - qmin in `quant.bits` bits; codebook -> centroid indices in `codebook.bits` bits;
 *   grid -> codes in 8 or 16 bits, value = float32(code * scale + min) with the stored entry's numbers.
 *   Dense: one per element. Sparse: one per kept element, in position order.
 * - `gaps` (sparse only): gap codes of `gapBits` bits, see sparse.ts.
 * - `centroids`: `codebook.size` float32 LE. `quant`: `slots` float32 LE scales then `slots` i32 LE zero points
 *   (`slots` from `quantSlots`: 1, the axis length, or row groups x the axis length).
 * - `mask` (dense with a mask only): one bit per element, 1 = kept.
 * Packed code streams are MSB-first, the last byte zero-padded.
 */
export interface ParamEntry {
  name: string;
  shape: number[];
  encoding: ValueEncoding;
  /** Present iff stored sparsely. */
  gapBits?: number;
  /** The param carries a mask annotation (sparse: the kept positions; dense: the `mask` stream). */
  mask?: boolean;
  float16?: boolean;
  frozen?: boolean;
  /** The Keras weight name this param loads into (for the TF.js loader). */
  weightName?: string;
  codebook?: { bits: number; size: number };
  /** `group`: group-wise scales (rows of `size`), see `quantSlots`. */
  quant?: { bits: number; signed: boolean; axis?: number; group?: { size: number } };
  /** The weights-manifest entry the param was read from (`Param.stored.entry` in @condense/ir), kept as it was. */
  stored?: Record<string, unknown>;
  streams: Partial<Record<StreamName, StreamRef>> & { values: StreamRef };
}

/** A TF.js manifest grid: value = float32(code * scale + min), code in [0, 2^bits). */
export interface GridJson {
  bits: 8 | 16;
  scale: number;
  min: number;
}

/** The grid of a stored entry (a float32 entry quantized as uint8/uint16 with finite scale > 0 and min), if it has one. */
export function storedGrid(entry: Record<string, unknown> | undefined): GridJson | undefined {
  const q = entry?.quantization as Record<string, unknown> | undefined;
  if (entry?.dtype !== 'float32' || typeof q !== 'object' || q === null) return undefined;
  if ((q.dtype !== 'uint8' && q.dtype !== 'uint16') || typeof q.scale !== 'number' || typeof q.min !== 'number') return undefined;
  if (!(q.scale > 0 && Number.isFinite(q.scale) && Number.isFinite(q.min))) return undefined;
  return { bits: q.dtype === 'uint8' ? 8 : 16, scale: q.scale, min: q.min };
}

/** The float32 bits a grid code decodes to, as TF.js decodes it. */
export function gridBits(g: GridJson, code: number): number {
  f32[0] = code * g.scale + g.min;
  return u32[0];
}

/** A graph node as the IR serializes it. */
export interface NodeJson {
  name: string;
  op: string;
  inputs: string[];
  attrs: Record<string, unknown>;
  params: Record<string, string>;
}

export interface ContainerHeader {
  format: typeof FORMAT;
  name: string;
  inputs: string[];
  outputs: string[];
  meta: Record<string, unknown>;
  nodes: NodeJson[];
  params: ParamEntry[];
  bodyBytes: number;
  /** A TF.js `modelTopology` (model.json), so the loader can rebuild a LayersModel. */
  modelTopology?: Record<string, unknown>;
}

/** Smallest signed/unsigned code of an affine quantization. */
export const quantMin = (bits: number, signed: boolean): number => (signed ? -(2 ** (bits - 1)) : 0);

/**
 * Number of scale/zero-point slots, and the slot of each element (axis and group as in
 * @condense/ir's `quantSlots`, restated here so the decoder needs no dependency): per tensor 1,
 * per axis one per slice, group-wise ceil(rows / size) x channels, group-major, where an
 * element's row is its index over the other axes, row-major.
 */
export function quantSlots(shape: readonly number[], axis: number | undefined, group?: { size: number }): { slots: number; slotOf: (i: number) => number } {
  if (axis === undefined) return { slots: 1, slotOf: () => 0 };
  const a = axis < 0 ? shape.length + axis : axis;
  const inner = shape.slice(a + 1).reduce((x, y) => x * y, 1);
  const dim = shape[a];
  if (!group) return { slots: dim, slotOf: (i) => Math.floor(i / inner) % dim };
  const rows = dim > 0 ? shape.reduce((x, y) => x * y, 1) / dim : 0;
  const block = dim * inner;
  return {
    slots: Math.ceil(rows / group.size) * dim,
    slotOf: (i) => Math.floor((Math.floor(i / block) * inner + (i % inner)) / group.size) * dim + (Math.floor(i / inner) % dim),
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 bits of the value an affine code decodes to: fround(scale * (q - zeroPoint)). */
export function affineBits(scale: number, q: number, zeroPoint: number): number {
  f32[0] = scale * (q - zeroPoint);
  return u32[0];
}

/** IEEE half bits -> float32 bits (exact; NaN becomes the canonical quiet NaN with the sign kept). */
export function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | (mant ? 0x7fc00000 : 0x7f800000)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal half: normalise into a float32 normal.
  let e = 113;
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}
