/** The `.cdz` container over IR graphs: encodeGraph / decodeGraph, and size reports. */
import { encodeExactly, encodingOf, GraphError, validate, type Graph, type Param } from '@condense/ir';
import { deflateRawSync } from 'node:zlib';
import { checkStoredTopology, type ExportTopology } from './agree.js';
import { crc32 } from './crc32.js';
import { decodeContainer, parseContainer, type DecodeOptions } from './decode.js';
import { encodeParam, type ParamEncodeOptions } from './encode.js';
import { CodecError } from './errors.js';
import {
  FORMAT,
  MAGIC,
  PREFIX_BYTES,
  SECTION_KINDS,
  VERSION,
  headerLimit,
  type ContainerHeader,
  type ParamEntry,
  type SectionKind,
  type StreamRef,
} from './format.js';

export interface EncodeOptions extends ParamEncodeOptions {
  /** A TF.js `modelTopology` (as in model.json) stored for the loader. */
  modelTopology?: object;
  /** Param name -> Keras weight name (e.g. 'dense_Dense1/kernel'), stored for the loader. */
  weightNames?: Map<string, string>;
}

/** A byte range of the file: the header (prefix + JSON) or one stream of one param. */
export interface Section {
  /** 'header', or `${param}:${stream}`. */
  name: string;
  kind: SectionKind;
  bytes: number;
}

export interface EncodeResult {
  bytes: Uint8Array;
  /** Every byte of `bytes` belongs to exactly one section, in file order. */
  sections: Section[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Params bound to a node under the role `bias` (their sections are reported as `bias`). */
function biasParams(graph: Graph): Set<string> {
  const out = new Set<string>();
  for (const n of graph.nodes) if (n.params.bias !== undefined) out.add(n.params.bias);
  return out;
}

/** Encode a graph into a `.cdz` container. Throws INCONSISTENT_PARAM when a param's data and annotations disagree. */
export function encodeGraph(graph: Graph, options: EncodeOptions = {}): EncodeResult {
  const { modelTopology, weightNames } = options;
  if (modelTopology !== undefined && !isPlainObject(modelTopology)) throw new CodecError('INVALID_ARGUMENT', 'modelTopology must be a JSON object');
  for (const name of weightNames?.keys() ?? []) {
    if (!graph.params.has(name)) throw new CodecError('INVALID_ARGUMENT', `weightNames names no param of the graph ('${name}')`);
  }
  const bias = biasParams(graph);
  const chunks: Uint8Array[] = [];
  const sections: Section[] = [];
  let bodyBytes = 0;
  const params: ParamEntry[] = [];
  for (const p of graph.params.values()) {
    const { entry, streams } = encodeParam(p, bias.has(p.name) ? 'bias' : 'weight', options);
    const refs: Partial<Record<string, StreamRef>> = {};
    for (const s of streams) {
      refs[s.name] = {
        off: bodyBytes,
        len: s.bytes.length,
        crc: crc32(s.bytes),
        n: s.n,
        bits: s.bits,
        ...(s.huff !== undefined ? { huff: s.huff } : {}),
        kind: s.kind,
      };
      chunks.push(s.bytes);
      sections.push({ name: `${p.name}:${s.name}`, kind: s.kind, bytes: s.bytes.length });
      bodyBytes += s.bytes.length;
    }
    const weightName = weightNames?.get(p.name);
    params.push({ ...entry, ...(weightName !== undefined ? { weightName } : {}), streams: refs as ParamEntry['streams'] });
  }
  const header: ContainerHeader = {
    format: FORMAT,
    name: graph.name,
    inputs: graph.inputs,
    outputs: graph.outputs,
    meta: graph.meta,
    nodes: graph.nodes,
    params,
    bodyBytes,
    ...(modelTopology !== undefined ? { modelTopology: modelTopology as Record<string, unknown> } : {}),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Never write a container the decoder refuses.
  const limit = headerLimit(bodyBytes);
  if (json.length > limit)
    throw new CodecError(
      'SIZE_LIMIT',
      `the header is ${json.length} bytes, more than the ${limit} a container with a ${bodyBytes}-byte body may hold`,
      'container',
    );
  const stored = deflateRawSync(json, { level: 9 });
  const bytes = new Uint8Array(PREFIX_BYTES + stored.length + bodyBytes);
  bytes.set(MAGIC, 0);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, stored.length, true);
  dv.setUint32(12, crc32(stored), true);
  dv.setUint32(16, json.length, true);
  bytes.set(stored, PREFIX_BYTES);
  let off = PREFIX_BYTES + stored.length;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  return { bytes, sections: [{ name: 'header', kind: 'header', bytes: PREFIX_BYTES + stored.length }, ...sections] };
}

export interface DecodeGraphOptions extends Omit<DecodeOptions, 'source'> {
  /**
   * `exportTopology` from @condense/tfjs: when given, a stored TF.js topology must be the graph's
   * own export (`readContainer` always passes it). The codec does not import TF.js itself.
   */
  exportTopology?: ExportTopology;
}

/**
 * Decode a container into an IR graph with every annotation restored (mask, codebook, quant,
 * float16, frozen) and each param's stored form (the manifest entry it was first read from). The graph is validated (BAD_GRAPH) and, with `exportTopology`, a stored TF.js
 * topology for the loader must be the graph's own export (TOPOLOGY_MISMATCH): a file cannot show
 * one model here and run another in the loader.
 */
export function decodeGraph(bytes: Uint8Array, source?: string, options: DecodeGraphOptions = {}): Graph {
  const where = source ?? 'container';
  const { exportTopology, ...decode } = options;
  const c = decodeContainer(bytes, { ...decode, source });
  const params = new Map<string, Param>();
  const weightNames = new Map<string, string>();
  for (const { weightName, stored, ...p } of c.params) {
    params.set(p.name, stored ? { ...p, stored: storedForm(stored, p.data) } : p);
    if (weightName !== undefined) weightNames.set(p.name, weightName);
  }
  const graph: Graph = { name: c.name, nodes: c.nodes, params, inputs: c.inputs, outputs: c.outputs, meta: c.meta };
  try {
    // The topology check exports the graph, which validates it: validate once.
    if (c.modelTopology && exportTopology) checkStoredTopology(graph, exportTopology, c.modelTopology, weightNames, where);
    else validate(graph);
  } catch (e) {
    if (!(e instanceof GraphError)) throw e;
    throw new CodecError('BAD_GRAPH', e.message, where);
  }
  return graph;
}

/**
 * A param's stored form back from its entry: the bytes are what the entry's encoding makes of the
 * data when that is exact (the input's bytes, for a param no stage changed), else none.
 */
function storedForm(entry: Record<string, unknown>, data: Float32Array): NonNullable<Param['stored']> {
  const bytes = encodeExactly(encodingOf({ entry, bytes: new Uint8Array(0) }), data) ?? new Uint8Array(0);
  return { entry, bytes };
}

/** Param name -> Keras weight name, as stored by `encodeGraph({ weightNames })`. */
export function storedWeightNames(bytes: Uint8Array, source?: string): Map<string, string> {
  const { header } = parseContainer(bytes, { source });
  return new Map(header.params.filter((p) => p.weightName !== undefined).map((p) => [p.name, p.weightName as string]));
}

export interface SizeReport {
  /** Bytes of the whole file (the sum of all sections). */
  total: number;
  sections: Section[];
  byKind: Record<SectionKind, number>;
  /** byKind / total. */
  share: Record<SectionKind, number>;
}

/** Sum sections by kind. */
export function sizeReport(sections: Section[]): SizeReport {
  const byKind = Object.fromEntries(SECTION_KINDS.map((k) => [k, 0])) as Record<SectionKind, number>;
  let total = 0;
  for (const s of sections) {
    byKind[s.kind] += s.bytes;
    total += s.bytes;
  }
  const share = Object.fromEntries(SECTION_KINDS.map((k) => [k, total ? byKind[k] / total : 0])) as Record<SectionKind, number>;
  return { total, sections, byKind, share };
}

/**
 * Size report of an existing container, read from its header (validated, streams not decoded).
 * `total` is the file's length: the sections tile the file.
 */
export function containerReport(bytes: Uint8Array, source?: string): SizeReport {
  const { header, headerBytes } = parseContainer(bytes, { source });
  const sections: Section[] = [{ name: 'header', kind: 'header', bytes: headerBytes }];
  for (const p of header.params) {
    for (const [name, s] of Object.entries(p.streams)) sections.push({ name: `${p.name}:${name}`, kind: s.kind, bytes: s.len });
  }
  return sizeReport(sections);
}
