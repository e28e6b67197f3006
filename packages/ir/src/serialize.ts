import { GraphError } from './errors.js';
import { quantSlots } from './annotations.js';
import type { Graph, Node, Param, QuantGroup } from './types.js';

/** Magic bytes of the IR's binary serialization ("CDIR"), then a u32 version. */
const MAGIC = 0x52494443;
const VERSION = 1;

type Section = [offset: number, length: number];

interface ParamHeader {
  name: string;
  shape: number[];
  data: Section;
  mask?: Section;
  codebook?: { bits: number; centroids: Section; indices: Section };
  quant?: { bits: number; signed: boolean; axis?: number; group?: QuantGroup; scale: Section; zeroPoint: Section };
  float16?: boolean;
  frozen?: boolean;
  stored?: { entry: Record<string, unknown>; bytes: Section };
}

export interface GraphHeader {
  format: 'condense-ir';
  version: number;
  name: string;
  inputs: string[];
  outputs: string[];
  meta: Record<string, unknown>;
  nodes: Node[];
  params: ParamHeader[];
}

class Writer {
  chunks: Uint8Array[] = [];
  size = 0;
  add(view: ArrayBufferView): Section {
    const pad = (4 - (this.size % 4)) % 4;
    if (pad) this.push(new Uint8Array(pad));
    const off = this.size;
    this.push(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return [off, view.byteLength];
  }
  private push(b: Uint8Array) {
    this.chunks.push(b);
    this.size += b.byteLength;
  }
}

function paramHeader(p: Param, w: Writer): ParamHeader {
  const h: ParamHeader = { name: p.name, shape: p.shape, data: w.add(p.data) };
  if (p.mask) h.mask = w.add(p.mask);
  if (p.codebook) h.codebook = { bits: p.codebook.bits, centroids: w.add(p.codebook.centroids), indices: w.add(p.codebook.indices) };
  if (p.quant) {
    h.quant = { bits: p.quant.bits, signed: p.quant.signed, scale: w.add(p.quant.scale), zeroPoint: w.add(p.quant.zeroPoint) };
    if (p.quant.axis !== undefined) h.quant.axis = p.quant.axis;
    if (p.quant.group) h.quant.group = { size: p.quant.group.size };
  }
  if (p.float16) h.float16 = true;
  if (p.frozen) h.frozen = true;
  if (p.stored) h.stored = { entry: p.stored.entry, bytes: w.add(p.stored.bytes) };
  return h;
}

/** Throws unless `v` survives JSON unchanged (attrs and meta are stored as JSON). */
function checkJson(v: unknown, where: string): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new GraphError(`cannot serialize ${where}: ${v} is not representable in JSON`);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkJson(x, `${where}[${i}]`));
    return;
  }
  if (typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
    for (const [k, x] of Object.entries(v)) if (x !== undefined) checkJson(x, `${where}.${k}`);
    return;
  }
  const kind = typeof v === 'object' ? ((v as object).constructor?.name ?? 'object') : typeof v;
  throw new GraphError(`cannot serialize ${where}: a ${kind} is not plain JSON (use arrays, numbers, strings, plain objects)`);
}

/** Lossless binary form of a graph: topology, params and every annotation. */
export function serializeGraph(graph: Graph): Uint8Array {
  checkJson(graph.meta, `graph '${graph.name}' meta`);
  for (const n of graph.nodes) checkJson(n.attrs, `node '${n.name}' attrs`);
  for (const p of graph.params.values()) if (p.stored) checkJson(p.stored.entry, `param '${p.name}' stored entry`);
  const body = new Writer();
  const header: GraphHeader = {
    format: 'condense-ir',
    version: VERSION,
    name: graph.name,
    inputs: graph.inputs,
    outputs: graph.outputs,
    meta: graph.meta,
    nodes: graph.nodes,
    params: [...graph.params.values()].map((p) => paramHeader(p, body)),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headLen = 12 + json.byteLength;
  const bodyStart = headLen + ((8 - (headLen % 8)) % 8);
  const out = new Uint8Array(bodyStart + body.size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, json.byteLength, true);
  out.set(json, 12);
  let off = bodyStart;
  for (const c of body.chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

type ArrayMaker<T> = { new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number };

/** Reads one body section as a typed array of `count` elements (copied: `bytes` may be a pooled Node Buffer). */
function section<T>(bytes: Uint8Array, base: number, s: Section, what: string, make: ArrayMaker<T>, count: number): T {
  const [off, len] = Array.isArray(s) ? s : [NaN, NaN];
  if (!(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && base + off + len <= bytes.byteLength)) {
    throw new GraphError(
      `${what}: section [${String(off)}, +${String(len)}] is outside the file (${bytes.byteLength} bytes); the file is truncated or corrupt`,
    );
  }
  if (len !== count * make.BYTES_PER_ELEMENT)
    throw new GraphError(`${what}: section holds ${len} bytes, expected ${count} values of ${make.BYTES_PER_ELEMENT} bytes`);
  return new make(new Uint8Array(bytes.subarray(base + off, base + off + len)).buffer);
}

function readHeader(bytes: Uint8Array, source: string): { header: GraphHeader; base: number } {
  if (bytes.byteLength < 12) throw new GraphError(`${source}: too short to be a condense IR file (${bytes.byteLength} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new GraphError(`${source}: not a condense IR file (bad magic)`);
  const version = dv.getUint32(4, true);
  if (version !== VERSION) throw new GraphError(`${source}: unsupported IR version ${version} (this build reads ${VERSION})`);
  const jsonLen = dv.getUint32(8, true);
  if (12 + jsonLen > bytes.byteLength)
    throw new GraphError(`${source}: header length ${jsonLen} exceeds the file (${bytes.byteLength} bytes); the file is truncated`);
  let header: GraphHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLen)));
  } catch (e) {
    throw new GraphError(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const lists = ['nodes', 'params', 'inputs', 'outputs'] as const;
  if (typeof header !== 'object' || header === null || header.format !== 'condense-ir' || lists.some((k) => !Array.isArray(header[k]))) {
    throw new GraphError(`${source}: header is not a condense IR header (needs format 'condense-ir' and arrays ${lists.join(', ')})`);
  }
  const headLen = 12 + jsonLen;
  return { header, base: headLen + ((8 - (headLen % 8)) % 8) };
}

function readParam(bytes: Uint8Array, base: number, h: ParamHeader, source: string): Param {
  const at = (part: string) => `${source}: param '${h.name}' ${part}`;
  if (typeof h.name !== 'string' || !Array.isArray(h.shape) || !h.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new GraphError(at(`has a bad name or shape ${JSON.stringify(h.shape)}`));
  }
  const n = h.shape.reduce((a, b) => a * b, 1);
  const p: Param = { name: h.name, shape: h.shape, data: section(bytes, base, h.data, at('data'), Float32Array, n) };
  if (h.mask) p.mask = section(bytes, base, h.mask, at('mask'), Uint8Array, n);
  if (h.codebook) {
    const cLen = Array.isArray(h.codebook.centroids) ? h.codebook.centroids[1] / 4 : NaN;
    p.codebook = {
      bits: h.codebook.bits,
      centroids: section(bytes, base, h.codebook.centroids, at('centroids'), Float32Array, cLen),
      indices: section(bytes, base, h.codebook.indices, at('codebook indices'), Uint16Array, n),
    };
  }
  if (h.quant) {
    const { axis, group } = h.quant;
    if (group !== undefined && !(axis !== undefined && Number.isInteger(group?.size) && group.size >= 1)) {
      throw new GraphError(at(`has a bad quantization group ${JSON.stringify(group)} (needs an axis and a positive integer size)`));
    }
    const { slots } = quantSlots(h.shape, { axis, group });
    p.quant = {
      bits: h.quant.bits,
      signed: h.quant.signed,
      scale: section(bytes, base, h.quant.scale, at('quantization scale'), Float32Array, slots),
      zeroPoint: section(bytes, base, h.quant.zeroPoint, at('quantization zero point'), Int32Array, slots),
      ...(axis !== undefined ? { axis } : {}),
      ...(group !== undefined ? { group: { size: group.size } } : {}),
    };
  }
  if (h.float16) p.float16 = true;
  if (h.frozen) p.frozen = true;
  if (h.stored) {
    const len = Array.isArray(h.stored.bytes) ? h.stored.bytes[1] : NaN;
    p.stored = { entry: h.stored.entry, bytes: section(bytes, base, h.stored.bytes, at('stored bytes'), Uint8Array, len) };
  }
  return p;
}

/** Inverse of `serializeGraph`. Errors name what is wrong with the bytes (`source` names the file). */
export function deserializeGraph(bytes: Uint8Array, source = 'IR file'): Graph {
  const { header, base } = readHeader(bytes, source);
  const params = new Map<string, Param>();
  for (const h of header.params) {
    const p = readParam(bytes, base, h, source);
    params.set(p.name, p);
  }
  return { name: header.name, nodes: header.nodes, params, inputs: header.inputs, outputs: header.outputs, meta: header.meta ?? {} };
}

/** True when the bytes start with the IR file magic. */
export function isSerializedGraph(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === MAGIC;
}
