/**
 * The decoding core: bytes -> plain params and topology. No dependency on @condense/ir or TF.js.
 * Everything read is validated before it is trusted: the prefix, the header CRC and structure,
 * each stream's range, size and CRC, the Huffman tables, and the decoded symbols themselves.
 * Element counts are checked against the bytes that must back them before anything is allocated.
 */
import { treeProblem } from '@condense/files/json';
import { unpack, packedBytes } from './bits.js';
import { crc32 } from './crc32.js';
import { CodecError, type CodecErrorCode } from './errors.js';
import {
  FORMAT,
  MAGIC,
  MAX_HEADER_DEPTH,
  READ_VERSIONS,
  headerLimit,
  SECTION_KINDS,
  STREAM_NAMES,
  affineBits,
  gridBits,
  prefixBytes,
  halfToFloatBits,
  quantMin,
  quantSlots,
  storedGrid,
  type ContainerHeader,
  type NodeJson,
  type ParamEntry,
  type SectionKind,
  type StreamName,
  type StreamRef,
  type ValueEncoding,
} from './format.js';
import { InflateError, inflateRaw, maxInflatedSize } from './inflate.js';
import { MAX_CODE_LENGTH, MAX_HUFFMAN_SYMBOLS, decodeTable, huffmanDecode, lengthsFromString } from './huffman.js';
import { MAX_GAP_BITS, decodeGaps } from './sparse.js';

/**
 * Default cap on the total number of elements a container may declare: 2^26 (67,108,864) float32
 * weights = 256 MiB once decoded. Raise it with the `maxElements` option (`--max-elements`).
 */
export const DEFAULT_MAX_ELEMENTS = 2 ** 26;

export interface DecodeOptions {
  /** Names the input in error messages (a path or URL). */
  source?: string;
  /** Refuse containers declaring more elements than this in total (SIZE_LIMIT). */
  maxElements?: number;
}

export interface DecodedParam {
  name: string;
  shape: number[];
  data: Float32Array;
  mask?: Uint8Array;
  codebook?: { centroids: Float32Array; indices: Uint16Array; bits: number };
  quant?: { bits: number; signed: boolean; scale: Float32Array; zeroPoint: Int32Array; axis?: number; group?: { size: number } };
  float16?: boolean;
  frozen?: boolean;
  weightName?: string;
  /** The weights-manifest entry the param was first read from (see `ParamEntry.stored`). */
  stored?: Record<string, unknown>;
}

export interface DecodedContainer {
  version: number;
  name: string;
  inputs: string[];
  outputs: string[];
  meta: Record<string, unknown>;
  nodes: NodeJson[];
  params: DecodedParam[];
  modelTopology?: Record<string, unknown>;
}

/** A container whose prefix and header have been read and validated, body not yet decoded. */
export interface ParsedContainer {
  version: number;
  header: ContainerHeader;
  /** Prefix plus JSON header. */
  headerBytes: number;
  body: Uint8Array;
  /** Element count of each param, in header order. */
  sizes: number[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function check(ok: boolean, code: CodecErrorCode, message: string, where: string): asserts ok {
  if (!ok) throw new CodecError(code, message, where);
}

/** Read and validate the prefix and header; the body's streams are range-checked but not read. */
export function parseContainer(bytes: Uint8Array, options: DecodeOptions = {}): ParsedContainer {
  const source = options.source ?? 'container';
  const maxElements = options.maxElements ?? DEFAULT_MAX_ELEMENTS;
  for (let i = 0; i < MAGIC.length && i < bytes.length; i++) check(bytes[i] === MAGIC[i], 'BAD_MAGIC', 'not a condense .cdz container (bad magic)', source);
  check(bytes.length >= 8, 'TRUNCATED', `file has ${bytes.length} bytes, shorter than the container prefix`, source);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  check(READ_VERSIONS.includes(version), 'UNSUPPORTED_VERSION', `container version ${version}, this build reads versions ${READ_VERSIONS.join(', ')}`, source);
  const prefix = prefixBytes(version);
  check(bytes.length >= prefix, 'TRUNCATED', `file has ${bytes.length} bytes, shorter than the ${prefix}-byte prefix`, source);
  const storedLen = dv.getUint32(8, true);
  check(prefix + storedLen <= bytes.length, 'TRUNCATED', `header declares ${storedLen} bytes, the file has ${bytes.length - prefix} after the prefix`, source);
  const stored = bytes.subarray(prefix, prefix + storedLen);
  check(crc32(stored) === dv.getUint32(12, true), 'CRC_MISMATCH', 'header CRC does not match', `${source}: header`);
  // What the header may be is bounded by the body the file has: a small file cannot declare a big header.
  const limit = headerLimit(bytes.length - prefix - storedLen);
  if (version === 1) check(storedLen <= limit, 'SIZE_LIMIT', `header has ${storedLen} bytes, more than the ${limit} its body allows`, `${source}: header`);
  const json = version === 1 ? stored : inflateHeader(stored, dv.getUint32(16, true), limit, `${source}: header`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw new CodecError('BAD_HEADER', `header is not valid JSON (${(e as Error).message})`, source);
  }
  const shape = treeProblem(raw, { maxDepth: MAX_HEADER_DEPTH });
  if (shape) throw new CodecError('BAD_HEADER', `header ${shape}`, source);
  const headerBytes = prefix + storedLen;
  check(isObject(raw) && raw.format === FORMAT, 'BAD_HEADER', `header is not a '${FORMAT}' object`, source);
  check(isCount(raw.bodyBytes), 'BAD_HEADER', "header field 'bodyBytes' is not a byte count", source);
  const bodyBytes = raw.bodyBytes as number;
  check(bytes.length >= headerBytes + bodyBytes, 'TRUNCATED', `file has ${bytes.length} bytes, header and body need ${headerBytes + bodyBytes}`, source);
  check(bytes.length === headerBytes + bodyBytes, 'TRAILING_DATA', `file has ${bytes.length - headerBytes - bodyBytes} bytes after the body`, source);
  const header = checkHeader(raw, source);
  const sizes: number[] = [];
  let total = 0;
  for (const p of header.params) {
    const n = checkParam(p, bodyBytes, `${source}: param '${p.name}'`, maxElements);
    total += n;
    check(total <= maxElements, 'SIZE_LIMIT', `params declare more than ${maxElements} elements in total`, source);
    sizes.push(n);
  }
  checkTiling(header, bodyBytes, source);
  return { version, header, headerBytes, body: bytes.subarray(headerBytes), sizes };
}

/**
 * The version-2 header: inflate, refusing a declared size above `limit` (what the body allows)
 * or beyond what a deflate stream of this length could reach.
 */
function inflateHeader(stored: Uint8Array, size: number, bodyLimit: number, where: string): Uint8Array {
  const limit = Math.min(bodyLimit, maxInflatedSize(stored.length));
  check(size <= limit, 'SIZE_LIMIT', `header declares ${size} bytes once inflated, more than the ${limit} allowed`, where);
  try {
    return inflateRaw(stored, size);
  } catch (e) {
    if (e instanceof InflateError) throw new CodecError('BAD_HEADER', `compressed header does not inflate: ${e.message}`, where);
    throw e;
  }
}

function checkHeader(h: Record<string, unknown>, source: string): ContainerHeader {
  const bad = (field: string, what: string) => new CodecError('BAD_HEADER', `header field '${field}' ${what}`, source);
  if (typeof h.name !== 'string') throw bad('name', 'is not a string');
  if (!isStringArray(h.inputs)) throw bad('inputs', 'is not a list of names');
  if (!isStringArray(h.outputs)) throw bad('outputs', 'is not a list of names');
  if (!isObject(h.meta)) throw bad('meta', 'is not an object');
  if (h.modelTopology !== undefined && !isObject(h.modelTopology)) throw bad('modelTopology', 'is not an object');
  if (!Array.isArray(h.params)) throw bad('params', 'is not a list');
  if (!Array.isArray(h.nodes)) throw bad('nodes', 'is not a list');
  const names = new Set<string>();
  h.params.forEach((p, i) => {
    if (!isObject(p) || typeof p.name !== 'string') throw bad(`params[${i}]`, 'is not a param entry with a name');
    if (names.has(p.name)) throw bad(`params[${i}]`, `repeats the param name '${p.name}'`);
    names.add(p.name);
  });
  h.nodes.forEach((n, i) => {
    const ok = isObject(n) && typeof n.name === 'string' && typeof n.op === 'string' && isStringArray(n.inputs) && isObject(n.attrs) && isObject(n.params);
    if (!ok) throw bad(`nodes[${i}]`, 'is not a node {name, op, inputs, attrs, params}');
    for (const [role, pname] of Object.entries(n.params as Record<string, unknown>)) {
      if (typeof pname !== 'string' || !names.has(pname)) throw bad(`nodes[${i}].params.${role}`, `names no stored param (${JSON.stringify(pname)})`);
    }
  });
  return h as unknown as ContainerHeader;
}

const ENCODINGS: readonly ValueEncoding[] = ['float32', 'float16', 'affine', 'codebook', 'grid'];
const isBits = (v: unknown, max = 16): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
const optBool = (v: unknown) => v === undefined || typeof v === 'boolean';

/** Validates one param entry against the body; returns its element count. */
function checkParam(p: ParamEntry, bodyBytes: number, where: string, maxElements: number): number {
  const bad = (what: string) => new CodecError('BAD_PARAM', what, where);
  const e = p as unknown as Record<string, unknown>;
  if (!Array.isArray(e.shape) || !e.shape.every(isCount)) throw bad('shape is not a list of non-negative integers');
  let n = 1;
  for (const d of p.shape) {
    n *= d;
    if (n > maxElements) throw new CodecError('SIZE_LIMIT', `shape [${p.shape.join(', ')}] exceeds ${maxElements} elements`, where);
  }
  if (!ENCODINGS.includes(p.encoding)) throw bad(`unknown encoding ${JSON.stringify(e.encoding)}`);
  if (!optBool(e.mask) || !optBool(e.float16) || !optBool(e.frozen)) throw bad('mask/float16/frozen must be booleans');
  if (e.weightName !== undefined && typeof e.weightName !== 'string') throw bad('weightName is not a string');
  if (e.gapBits !== undefined && !isBits(e.gapBits, MAX_GAP_BITS)) throw bad(`gapBits ${JSON.stringify(e.gapBits)} is not in 1..${MAX_GAP_BITS}`);
  if (p.encoding === 'codebook') {
    const c = e.codebook;
    if (!(isObject(c) && isBits(c.bits) && isCount(c.size) && c.size >= 1 && c.size <= 2 ** c.bits))
      throw bad('codebook needs bits in 1..16 and 1..2^bits centroids');
  } else if (e.codebook !== undefined) throw bad('a codebook entry without the codebook encoding');
  if (p.encoding === 'affine' && e.quant === undefined) throw bad('affine encoding without quantization parameters');
  if (e.stored !== undefined && !isObject(e.stored)) throw bad('stored is not an object');
  const grid = p.encoding === 'grid' ? storedGrid(p.stored) : undefined;
  if (p.encoding === 'grid' && !grid) throw bad('grid encoding without a stored uint8/uint16 entry (finite scale > 0 and min)');
  let slots = 0;
  if (e.quant !== undefined) {
    const q = e.quant;
    const axisOk = (a: unknown) => a === undefined || (typeof a === 'number' && Number.isInteger(a) && a >= -p.shape.length && a < p.shape.length);
    if (!(isObject(q) && isBits(q.bits) && typeof q.signed === 'boolean' && axisOk(q.axis)))
      throw bad('quant needs bits in 1..16, signed, and an axis inside the shape');
    const g = q.group;
    if (g !== undefined && !(q.axis !== undefined && isObject(g) && isCount(g.size) && g.size >= 1))
      throw bad('quant group needs an axis and a positive integer size');
    slots = quantSlots(p.shape, p.quant!.axis, p.quant!.group).slots;
  }
  if (!isObject(e.streams)) throw bad('streams is not an object');
  for (const s of Object.keys(e.streams)) if (!STREAM_NAMES.includes(s as StreamName)) throw bad(`unknown stream '${s}'`);
  const sparse = p.gapBits !== undefined;
  const want = (s: StreamName, present: boolean) => {
    const ref = (e.streams as Record<string, unknown>)[s];
    if (present ? !isObject(ref) : ref !== undefined) throw bad(`stream '${s}' must be ${present ? 'present' : 'absent'}`);
  };
  want('values', true);
  want('gaps', sparse);
  want('centroids', p.codebook !== undefined);
  want('quant', p.quant !== undefined);
  want('mask', !sparse && p.mask === true);
  const valueBits = { float32: 32, float16: 16, affine: p.quant?.bits ?? 0, codebook: p.codebook?.bits ?? 0, grid: grid?.bits ?? 0 }[p.encoding];
  const valueAlphabet = p.encoding === 'codebook' ? p.codebook!.size : 2 ** valueBits;
  const coded = p.encoding === 'affine' || p.encoding === 'codebook' || p.encoding === 'grid';
  checkStream(p.streams.values, 'values', { bits: valueBits, n: sparse ? undefined : n, alphabet: coded ? valueAlphabet : 0 }, bodyBytes, where);
  if (sparse) checkStream(p.streams.gaps!, 'gaps', { bits: p.gapBits!, alphabet: 2 ** p.gapBits! }, bodyBytes, where);
  if (p.codebook) checkStream(p.streams.centroids!, 'centroids', { bits: 32, n: p.codebook.size, alphabet: 0 }, bodyBytes, where);
  if (p.quant) checkStream(p.streams.quant!, 'quant', { bits: 32, n: 2 * slots, alphabet: 0 }, bodyBytes, where);
  if (p.mask && !sparse) checkStream(p.streams.mask!, 'mask', { bits: 1, n, alphabet: 0 }, bodyBytes, where);
  if (sparse && p.streams.values.n > n) throw new CodecError('BAD_PARAM', `${p.streams.values.n} sparse values for ${n} elements`, where);
  return n;
}

/**
 * A stream's range must lie in the body (OUT_OF_RANGE), its declared symbol count must be backed
 * by its bytes (SIZE_LIMIT) and match what the param needs (BAD_PARAM). `alphabet` 0 = raw only.
 */
function checkStream(s: StreamRef, name: StreamName, want: { bits: number; n?: number; alphabet: number }, bodyBytes: number, param: string): void {
  const where = `${param} stream '${name}'`;
  const r = s as unknown as Record<string, unknown>;
  if (!isObject(r) || !isCount(r.off) || !isCount(r.len) || !isCount(r.n) || !isCount(r.bits) || !isCount(r.crc) || r.crc > 0xffffffff) {
    throw new CodecError('BAD_PARAM', 'stream reference needs integer off, len, n, bits and crc', where);
  }
  if (!SECTION_KINDS.includes(s.kind as SectionKind) || s.kind === 'header')
    throw new CodecError('BAD_PARAM', `unknown section kind ${JSON.stringify(r.kind)}`, where);
  check(s.off + s.len <= bodyBytes, 'OUT_OF_RANGE', `bytes [${s.off}, ${s.off + s.len}) lie outside the ${bodyBytes}-byte body`, where);
  check(s.bits === want.bits, 'BAD_PARAM', `symbols of ${s.bits} bits, the encoding needs ${want.bits}`, where);
  if (want.n !== undefined) check(s.n === want.n, 'BAD_PARAM', `holds ${s.n} symbols, the param needs ${want.n}`, where);
  if (s.huff === undefined) {
    const need = packedBytes(s.n, s.bits);
    check(s.len >= need, 'SIZE_LIMIT', `declares ${s.n} symbols needing ${need} bytes, has ${s.len}`, where);
    check(s.len === need, 'BAD_PARAM', `has ${s.len} bytes, ${s.n} symbols of ${s.bits} bits take ${need}`, where);
    return;
  }
  check(want.alphabet > 0 && want.alphabet <= MAX_HUFFMAN_SYMBOLS, 'BAD_PARAM', 'this stream cannot be Huffman-coded', where);
  check(s.n > 0, 'BAD_PARAM', 'an empty stream cannot be Huffman-coded', where);
  check(s.n <= s.len * 8, 'SIZE_LIMIT', `declares ${s.n} Huffman symbols, ${s.len} bytes hold at most ${s.len * 8}`, where);
  check(s.len <= packedBytes(s.n, MAX_CODE_LENGTH), 'BAD_PARAM', `has ${s.len} bytes, more than ${s.n} codes of at most ${MAX_CODE_LENGTH} bits take`, where);
  if (typeof s.huff !== 'string' || s.huff.length > want.alphabet) {
    throw new CodecError('BAD_HUFFMAN', `code-length table must be a string of at most ${want.alphabet} digits`, where);
  }
}

/** Streams tile the body: back to back from byte 0 to the end, no overlap and no byte left unreferenced. */
function checkTiling(header: ContainerHeader, bodyBytes: number, source: string): void {
  const ranges = header.params.flatMap((p) =>
    Object.entries(p.streams).map(([name, s]) => ({ off: s!.off, end: s!.off + s!.len, what: `param '${p.name}' stream '${name}'` })),
  );
  ranges.sort((a, b) => a.off - b.off || a.end - b.end);
  let at = 0;
  let last = 'the start of the body';
  for (const r of ranges) {
    check(r.off >= at, 'OUT_OF_RANGE', `${r.what} at bytes [${r.off}, ${r.end}) overlaps ${last}`, source);
    check(r.off === at, 'OUT_OF_RANGE', `body bytes [${at}, ${r.off}) belong to no stream`, source);
    at = r.end;
    last = `${r.what} (ending at ${r.end})`;
  }
  check(at === bodyBytes, 'OUT_OF_RANGE', `body bytes [${at}, ${bodyBytes}) belong to no stream`, source);
}

/** Decode a whole container into plain params and topology. */
export function decodeContainer(bytes: Uint8Array, options: DecodeOptions = {}): DecodedContainer {
  const source = options.source ?? 'container';
  const { version, header, body, sizes } = parseContainer(bytes, options);
  checkCrcs(header, body, source);
  const params = header.params.map((p, i) => decodeParam(p, sizes[i], body, `${source}: param '${p.name}'`));
  const out: DecodedContainer = {
    version,
    name: header.name,
    inputs: header.inputs,
    outputs: header.outputs,
    meta: header.meta,
    nodes: header.nodes,
    params,
  };
  if (header.modelTopology !== undefined) out.modelTopology = header.modelTopology;
  return out;
}

/** Integrity before work: every stream's CRC is checked before any of them is decoded. */
function checkCrcs(header: ContainerHeader, body: Uint8Array, source: string): void {
  for (const p of header.params) {
    for (const name of STREAM_NAMES) {
      const s = p.streams[name];
      if (s && crc32(body.subarray(s.off, s.off + s.len)) !== s.crc) {
        throw new CodecError('CRC_MISMATCH', 'CRC does not match', `${source}: param '${p.name}' stream '${name}'`);
      }
    }
  }
}

/** Reads the streams of one param (CRCs already checked by `checkCrcs`). */
class StreamReader {
  constructor(
    private readonly p: ParamEntry,
    private readonly body: Uint8Array,
    private readonly where: string,
  ) {}

  bytes(name: StreamName): Uint8Array {
    const s = this.p.streams[name]!;
    return this.body.subarray(s.off, s.off + s.len);
  }

  /** Integer symbols (bits <= 16) of a raw-packed or Huffman-coded stream. */
  codes(name: StreamName, alphabet: number): Uint16Array {
    const s = this.p.streams[name]!;
    const b = this.bytes(name);
    const out = new Uint16Array(s.n);
    if (s.huff === undefined) unpack(b, s.bits, out);
    else {
      const where = `${this.where} stream '${name}'`;
      huffmanDecode(b, decodeTable(lengthsFromString(s.huff, alphabet, where), where), out, where);
    }
    return out;
  }

  /** 32-bit little-endian words, as raw bits (so NaN payloads survive). */
  words(name: StreamName): Uint32Array {
    const b = this.bytes(name);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out = new Uint32Array(b.byteLength >>> 2);
    for (let i = 0; i < out.length; i++) out[i] = dv.getUint32(i * 4, true);
    return out;
  }

  halves(name: StreamName): Uint16Array {
    const b = this.bytes(name);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out = new Uint16Array(b.byteLength >>> 1);
    for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(i * 2, true);
    return out;
  }
}

function decodeParam(p: ParamEntry, n: number, body: Uint8Array, where: string): DecodedParam {
  const r = new StreamReader(p, body, where);
  // Sparse: kept positions from the gaps; their count must match the values stream.
  let pos: Int32Array | undefined;
  if (p.gapBits !== undefined) {
    pos = decodeGaps(r.codes('gaps', 2 ** p.gapBits), n, p.gapBits, `${where} stream 'gaps'`);
    check(pos.length === p.streams.values.n, 'BAD_DATA', `gaps mark ${pos.length} kept elements, the values stream holds ${p.streams.values.n}`, where);
  }
  let mask: Uint8Array | undefined;
  if (p.mask) {
    mask = new Uint8Array(n);
    if (pos) for (let k = 0; k < pos.length; k++) mask[pos[k]] = 1;
    else unpack(r.bytes('mask'), 1, mask);
  }
  const data = new Float32Array(n);
  const bits = new Uint32Array(data.buffer);
  // Value symbol k lands on element at(k).
  const at = pos ? (k: number) => pos![k] : (k: number) => k;
  const out: DecodedParam = { name: p.name, shape: p.shape, data };
  if (mask) out.mask = mask;
  if (p.quant) out.quant = decodeQuant(p, r);
  switch (p.encoding) {
    case 'float32': {
      const w = r.words('values');
      for (let k = 0; k < w.length; k++) bits[at(k)] = w[k];
      break;
    }
    case 'float16': {
      const h = r.halves('values');
      for (let k = 0; k < h.length; k++) bits[at(k)] = halfToFloatBits(h[k]);
      break;
    }
    case 'affine': {
      const q = out.quant!;
      const codes = r.codes('values', 2 ** q.bits);
      const qmin = quantMin(q.bits, q.signed);
      const { slotOf } = quantSlots(p.shape, q.axis, q.group);
      for (let k = 0; k < codes.length; k++) {
        const i = at(k);
        const s = slotOf(i);
        bits[i] = affineBits(q.scale[s], codes[k] + qmin, q.zeroPoint[s]);
      }
      break;
    }
    case 'codebook':
      out.codebook = decodeCodebook(p, r, n, pos, bits, where);
      break;
    case 'grid': {
      const g = storedGrid(p.stored)!;
      const codes = r.codes('values', 2 ** g.bits);
      for (let k = 0; k < codes.length; k++) bits[at(k)] = gridBits(g, codes[k]);
      break;
    }
  }
  // Dense with a mask: pruned elements are exactly +0 whatever was stored for them.
  if (mask && !pos) for (let i = 0; i < n; i++) if (mask[i] === 0) bits[i] = 0;
  if (mask && out.codebook && !pos) for (let i = 0; i < n; i++) if (mask[i] === 0) out.codebook.indices[i] = 0;
  if (p.float16) out.float16 = true;
  if (p.frozen) out.frozen = true;
  if (p.weightName !== undefined) out.weightName = p.weightName;
  if (p.stored !== undefined) out.stored = p.stored;
  return out;
}

function decodeQuant(p: ParamEntry, r: StreamReader): NonNullable<DecodedParam['quant']> {
  const q = p.quant!;
  const w = r.words('quant');
  const slots = w.length / 2;
  const scale = new Float32Array(new Uint32Array(w.subarray(0, slots)).buffer);
  const zeroPoint = new Int32Array(new Uint32Array(w.subarray(slots)).buffer);
  const out: NonNullable<DecodedParam['quant']> = { bits: q.bits, signed: q.signed, scale, zeroPoint };
  if (q.axis !== undefined) out.axis = q.axis;
  if (q.group !== undefined) out.group = { size: q.group.size };
  return out;
}

function decodeCodebook(p: ParamEntry, r: StreamReader, n: number, pos: Int32Array | undefined, bits: Uint32Array, where: string) {
  const { size } = p.codebook!;
  const centroidBits = r.words('centroids');
  const codes = r.codes('values', size);
  for (let k = 0; k < codes.length; k++) {
    if (codes[k] >= size) throw new CodecError('BAD_DATA', `centroid index ${codes[k]} at value ${k} is not below ${size}`, `${where} stream 'values'`);
  }
  let indices: Uint16Array;
  if (pos) {
    indices = new Uint16Array(n);
    for (let k = 0; k < pos.length; k++) {
      indices[pos[k]] = codes[k];
      bits[pos[k]] = centroidBits[codes[k]];
    }
  } else {
    indices = codes;
    for (let i = 0; i < n; i++) bits[i] = centroidBits[codes[i]];
  }
  return { centroids: new Float32Array(centroidBits.buffer), indices, bits: p.codebook!.bits };
}
