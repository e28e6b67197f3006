/** Shared by the tests: a graph exercising every encoding, a bit-exact comparison, container surgery. */
import { GraphBuilder, param, quantSlots, rng, setCodebook, setFloat16, setMask, setQuant, type Graph, type Param } from '@condense/ir';
import { expect } from 'vitest';
import { crc32 } from './crc32.js';
import { VERSION, prefixBytes } from './format.js';
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export function randomMask(n: number, keep: number, next: () => number): Uint8Array {
  return Uint8Array.from({ length: n }, () => (next() < keep ? 1 : 0));
}

/** Random centroids and indices (0 where pruned, as @condense/ir's contract says). */
export function randomCodebook(p: Param, bits: number, next: () => number, size = 2 ** bits) {
  const centroids = Float32Array.from({ length: size }, () => next() * 2 - 1).sort();
  const indices = Uint16Array.from({ length: p.data.length }, (_, i) => (p.mask && !p.mask[i] ? 0 : Math.floor(next() * size)));
  setCodebook(p, { centroids, indices, bits });
}

function affine(p: Param, bits: number, signed: boolean, axis?: number, group?: { size: number }) {
  const { slots } = quantSlots(p.shape, { axis, group });
  setQuant(p, {
    bits,
    signed,
    axis,
    ...(group ? { group } : {}),
    scale: Float32Array.from({ length: slots }, (_, i) => 0.01 + 0.003 * i),
    zeroPoint: Int32Array.from({ length: slots }, (_, i) => (signed ? 0 : 2 ** (bits - 1) + i - (slots >> 1))),
  });
}

/** A small conv net whose params use every encoding, layout and annotation the format has. */
export function zooGraph(seed = 7): Graph {
  const g = new GraphBuilder('zoo', [8, 8, 3], seed)
    .conv2d(4, 3, { name: 'conv' })
    .batchNorm({ name: 'bn' })
    .flatten({ name: 'flatten' })
    .dense(32, { name: 'fc1', activation: 'relu' })
    .dense(10, { name: 'fc2', activation: 'softmax' })
    .build();
  g.meta = { source: 'test', nested: { list: [1, 'two', null] } };
  const next = rng(seed);
  const P = (name: string) => g.params.get(name) as Param;
  const fill = (p: Param) => p.data.forEach((_, i) => (p.data[i] = next() * 2 - 1));

  setFloat16(P('conv/kernel'));
  const bias = P('conv/bias');
  new Uint32Array(bias.data.buffer).set([0x80000000, 0x7fa00001, 0x7f800000, 0x00000001]); // -0, NaN payload, +Inf, min subnormal
  fill(P('bn/gamma'));
  affine(P('bn/gamma'), 8, false);
  fill(P('bn/beta'));
  P('bn/beta').frozen = true;
  fill(P('bn/movingMean'));
  setFloat16(P('bn/movingMean'));
  P('bn/movingMean').frozen = true;
  randomCodebook(P('bn/movingVariance'), 2, next);

  setMask(P('fc1/kernel'), randomMask(P('fc1/kernel').data.length, 0.1, next));
  randomCodebook(P('fc1/kernel'), 5, next);
  fill(P('fc1/bias'));
  affine(P('fc1/bias'), 4, true, 0);
  setMask(P('fc2/kernel'), randomMask(P('fc2/kernel').data.length, 0.5, next));
  affine(P('fc2/kernel'), 8, true, 1);

  const extra = (name: string, shape: number[]) => {
    const p = param(name, shape);
    fill(p);
    g.params.set(name, p);
    return p;
  };
  // A mask of all ones: the 1-bit mask stream beats coding gaps (Huffman needs >= 1 bit per kept element plus a table).
  setMask(extra('extra/denseMasked', [40, 30]), new Uint8Array(1200).fill(1));
  g.params.set('extra/empty', param('extra/empty', [0, 5]));
  g.params.set('extra/zeros', param('extra/zeros', [2000]));
  randomCodebook(extra('extra/bigCodebook', [2000]), 12, next, 1500);
  const h = extra('extra/halfMasked', [300]);
  setMask(h, randomMask(300, 0.3, next));
  setFloat16(h);
  const cq = extra('extra/codebookAndQuant', [6, 7]);
  affine(cq, 8, true);
  randomCodebook(cq, 3, next);
  // GPTQ-style 4-bit groups of 4 kernel rows per output channel (the last group short), partly pruned.
  const gq = extra('extra/groupQuant', [3, 1, 5, 6]);
  setMask(gq, randomMask(90, 0.7, next));
  affine(gq, 4, true, 3, { size: 4 });
  return g;
}

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** Element-wise equality of integer arrays, reporting the first difference (toEqual is slow on big typed arrays). */
export function expectSameArray(actual: ArrayLike<number> | undefined, expected: ArrayLike<number> | undefined, at: string): void {
  if (actual === undefined || expected === undefined) {
    expect(actual, at).toBe(expected);
    return;
  }
  expect(actual.length, `${at}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) expect(actual[i], `${at}: element ${i}`).toBe(expected[i]);
  }
}

/** Params and topology equal, float data compared by bits. */
export function expectSameGraph(actual: Graph, expected: Graph): void {
  expect(actual.name).toBe(expected.name);
  expect(actual.inputs).toEqual(expected.inputs);
  expect(actual.outputs).toEqual(expected.outputs);
  expect(actual.meta).toEqual(expected.meta);
  expect(actual.nodes).toEqual(expected.nodes);
  expect([...actual.params.keys()]).toEqual([...expected.params.keys()]);
  for (const [name, e] of expected.params) {
    const a = actual.params.get(name) as Param;
    const at = `param ${name}`;
    expect(a.shape, at).toEqual(e.shape);
    expectSameArray(bitsOf(a.data), bitsOf(e.data), `${at} data bits`);
    expectSameArray(a.mask, e.mask, `${at} mask`);
    expect(!!a.float16, at).toBe(!!e.float16);
    expect(!!a.frozen, at).toBe(!!e.frozen);
    expect(a.codebook === undefined, at).toBe(e.codebook === undefined);
    if (a.codebook && e.codebook) {
      expect(a.codebook.bits, at).toBe(e.codebook.bits);
      expectSameArray(bitsOf(a.codebook.centroids), bitsOf(e.codebook.centroids), `${at} centroid bits`);
      expectSameArray(a.codebook.indices, e.codebook.indices, `${at} indices`);
    }
    expect(a.stored?.entry, `${at} stored entry`).toEqual(e.stored?.entry);
    expect(a.quant === undefined, at).toBe(e.quant === undefined);
    if (a.quant && e.quant) {
      expect([a.quant.bits, a.quant.signed, a.quant.axis, a.quant.group], at).toEqual([e.quant.bits, e.quant.signed, e.quant.axis, e.quant.group]);
      expectSameArray(bitsOf(a.quant.scale), bitsOf(e.quant.scale), `${at} scale bits`);
      expectSameArray(a.quant.zeroPoint, e.quant.zeroPoint, `${at} zero points`);
    }
  }
}

/** A container's parsed JSON header and its body, for surgery in tests (versions 1 and 2). */
export function splitContainer(bytes: Uint8Array): { header: any; body: Uint8Array } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const version = dv.getUint32(4, true);
  const prefix = prefixBytes(version);
  const len = dv.getUint32(8, true);
  const stored = bytes.subarray(prefix, prefix + len);
  const json = version === 1 ? stored : inflateRawSync(stored);
  return { header: JSON.parse(new TextDecoder().decode(json)), body: bytes.slice(prefix + len) };
}

/**
 * Reassemble a container with a valid header CRC (the header is taken as given, `headerText`
 * verbatim if passed), in the current version or, with `version: 1`, the old uncompressed one.
 */
export function joinContainer(header: unknown, body: Uint8Array, headerText?: string, { version = VERSION } = {}): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const stored = version === 1 ? json : deflateRawSync(json);
  const prefix = prefixBytes(version);
  const out = new Uint8Array(prefix + stored.length + body.length);
  out.set([0x43, 0x4e, 0x44, 0x5a]);
  const dv = new DataView(out.buffer);
  dv.setUint32(4, version, true);
  dv.setUint32(8, stored.length, true);
  dv.setUint32(12, crc32(stored), true);
  if (version !== 1) dv.setUint32(16, json.length, true);
  out.set(stored, prefix);
  out.set(body, prefix + stored.length);
  return out;
}

// ---------------------------------------------------------------- seeded mutations (fuzz tests)

/** Flip 1 to 4 random bits anywhere. */
export function flipBits(bytes: Uint8Array, next: () => number): Uint8Array {
  const b = bytes.slice();
  const flips = 1 + Math.floor(next() * 4);
  for (let f = 0; f < flips; f++) {
    const bit = Math.floor(next() * b.length * 8);
    b[bit >> 3] ^= 1 << (bit & 7);
  }
  return b;
}

/** Every [container, key] pair of the JSON tree, to mutate one in place. */
function slots(root: unknown): [Record<string, unknown> | unknown[], string | number][] {
  const out: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), walk(x)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push([v as Record<string, unknown>, k]), walk(x);
  };
  walk(root);
  return out;
}

function mutateValue(old: unknown, next: () => number): unknown {
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)];
  const r = next();
  if (typeof old === 'number' && r < 0.6) {
    return pick([old + 1, old - 1, old * 2, 0, -1, 2 ** 31, 2 ** 32 + 5, 2 ** 53, 1e300, 0.5, Math.floor(next() * 1e6)]);
  }
  if (typeof old === 'string' && r < 0.6) {
    return pick([
      '',
      'x',
      old + '1',
      old.slice(1),
      '1'.repeat(1 + Math.floor(next() * 40)),
      Array.from({ length: old.length }, () => pick([...'0123456789abcdefg'])).join(''),
    ]);
  }
  return pick([undefined, null, true, 'str', [], {}, [1, 2], -3, 7]);
}

/** Change 1 to 3 values of the header's JSON tree (or of the part `pick` selects) and re-seal the CRC. */
export function mutateHeader(bytes: Uint8Array, next: () => number, pick: (header: any) => unknown = (h) => h): Uint8Array {
  const { header, body } = splitContainer(bytes);
  const all = slots(pick(header));
  const n = 1 + Math.floor(next() * 3);
  for (let i = 0; i < n; i++) {
    const [holder, key] = all[Math.floor(next() * all.length)];
    const value = mutateValue((holder as Record<string | number, unknown>)[key], next);
    if (value === undefined && !Array.isArray(holder)) delete (holder as Record<string, unknown>)[key as string];
    else (holder as Record<string | number, unknown>)[key] = value;
  }
  return joinContainer(header, body);
}

/** Flip bits inside one stream and re-seal its CRC, so the stream decoder sees the damage. */
export function mutateStream(bytes: Uint8Array, next: () => number): Uint8Array {
  const { header, body } = splitContainer(bytes);
  const streams = header.params.flatMap((p: any) => Object.values(p.streams)).filter((s: any) => s.len > 0) as { off: number; len: number; crc: number }[];
  const s = streams[Math.floor(next() * streams.length)];
  const flips = 1 + Math.floor(next() * 3);
  for (let f = 0; f < flips; f++) {
    const bit = Math.floor(next() * s.len * 8);
    body[s.off + (bit >> 3)] ^= 1 << (bit & 7);
  }
  s.crc = crc32(body.subarray(s.off, s.off + s.len));
  return joinContainer(header, body);
}
