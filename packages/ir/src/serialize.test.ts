import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deserializeGraph,
  GraphBuilder,
  GraphError,
  isSerializedGraph,
  lenet300100,
  quantSlots,
  rng,
  serializeGraph,
  sizeOf,
  type Graph,
  type Param,
} from './index.js';

/** Random annotations on a param: every combination of mask, codebook, quant (per tensor / per axis / per group), float16, frozen. */
const annotationsArb = fc.record({
  mask: fc.boolean(),
  codebook: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  quant: fc.option(
    fc.record({
      bits: fc.integer({ min: 2, max: 16 }),
      signed: fc.boolean(),
      perAxis: fc.boolean(),
      negativeAxis: fc.boolean(),
      groupSize: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  float16: fc.boolean(),
  frozen: fc.boolean(),
});
type Annotations = typeof annotationsArb extends fc.Arbitrary<infer T> ? T : never;

function annotate(p: Param, a: Annotations, seed: number) {
  const next = rng(seed);
  const n = p.data.length;
  if (a.mask) p.mask = Uint8Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0));
  if (a.codebook) {
    const k = 2 ** a.codebook;
    p.codebook = {
      bits: a.codebook,
      centroids: Float32Array.from({ length: k }, () => next() - 0.5),
      indices: Uint16Array.from({ length: n }, () => Math.floor(next() * k)),
    };
  }
  if (a.quant) {
    const axis = a.quant.perAxis ? Math.floor(next() * p.shape.length) : undefined;
    const group = axis !== undefined && a.quant.groupSize !== undefined ? { size: a.quant.groupSize } : undefined;
    const { slots } = quantSlots(p.shape, { axis, group });
    p.quant = {
      bits: a.quant.bits,
      signed: a.quant.signed,
      scale: Float32Array.from({ length: slots }, () => next() + 0.01),
      zeroPoint: Int32Array.from({ length: slots }, () => Math.floor(next() * 20) - 10),
      ...(axis !== undefined ? { axis: a.quant.negativeAxis ? axis - p.shape.length : axis } : {}),
      ...(group ? { group } : {}),
    };
  }
  if (a.float16) p.float16 = true;
  if (a.frozen) p.frozen = true;
}

const metaArb = fc.dictionary(
  fc.string({ maxLength: 6 }),
  fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
      { maxLength: 3 },
    ),
  ),
  { maxKeys: 4 },
);

/** A random small graph: an MLP or a CNN of random widths, every param randomly annotated. */
const graphArb = fc
  .record({
    seed: fc.integer({ min: 1, max: 1e6 }),
    conv: fc.boolean(),
    widths: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
    annotations: fc.array(annotationsArb, { minLength: 12, maxLength: 12 }),
    meta: metaArb,
  })
  .map(({ seed, conv, widths, annotations, meta }) => {
    const b = new GraphBuilder(`g${seed}`, conv ? [5, 5, 2] : [4], seed);
    if (conv) b.conv2d(widths[0], 3, { padding: 'same', activation: 'relu' }).batchNorm().flatten();
    for (const w of widths) b.dense(w, { activation: 'relu' });
    const g = b.build();
    g.meta = meta;
    [...g.params.values()].forEach((p, i) => annotate(p, annotations[i % annotations.length], seed + i));
    return g;
  });

describe('serializeGraph / deserializeGraph', () => {
  it('round-trips random graphs with every annotation, byte-stable', () => {
    fc.assert(
      fc.property(graphArb, (g) => {
        const bytes = serializeGraph(g);
        expect(isSerializedGraph(bytes)).toBe(true);
        const back = deserializeGraph(bytes);
        expect(back).toEqual(g);
        for (const [name, p] of g.params) {
          const q = back.params.get(name)!;
          expect(q.data).toBeInstanceOf(Float32Array);
          expect(q.data.buffer).not.toBe(bytes.buffer); // a copy, not a view that outlives the file buffer
          if (p.codebook) expect(q.codebook!.indices).toBeInstanceOf(Uint16Array);
          if (p.quant) expect(q.quant!.zeroPoint).toBeInstanceOf(Int32Array);
          expect('axis' in (q.quant ?? {})).toBe(p.quant?.axis !== undefined);
        }
        expect(Buffer.from(serializeGraph(back)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('reads from a Node Buffer that is a view into a larger pool', () => {
    const g = lenet300100();
    const bytes = serializeGraph(g);
    const pooled = Buffer.concat([Buffer.from('junk'), Buffer.from(bytes), Buffer.from('tail')]).subarray(4, 4 + bytes.byteLength);
    const back = deserializeGraph(pooled);
    const k = back.params.get('fc1/kernel')!;
    expect(k.data.length).toBe(784 * 300);
    expect(k.data[123]).toBe(g.params.get('fc1/kernel')!.data[123]);
    expect(k.data.at(-1)).toBe(g.params.get('fc1/kernel')!.data.at(-1));
  });

  it('keeps float data bit-exact, including -0, NaN and subnormals', () => {
    const g = new GraphBuilder('t', [4]).dense(2).build();
    const k = g.params.get('dense_1/kernel')!;
    k.data.set([-0, NaN, 1e-45, -Infinity, 3.4e38, 1, 2, 3]);
    const back = deserializeGraph(serializeGraph(g)).params.get('dense_1/kernel')!;
    expect(new Uint32Array(back.data.buffer)).toEqual(new Uint32Array(k.data.buffer));
  });
});

describe('corrupt inputs give clear errors', () => {
  const small = (): Graph => {
    const g = new GraphBuilder('small', [3]).dense(2, { name: 'fc' }).build();
    g.params.get('fc/kernel')!.mask = new Uint8Array(6).fill(1);
    return g;
  };
  const bytes = serializeGraph(small());
  const fails = (b: Uint8Array, message: RegExp) => {
    expect(() => deserializeGraph(b, 'model.cir')).toThrow(GraphError);
    expect(() => deserializeGraph(b, 'model.cir')).toThrow(message);
  };

  it('bad magic', () => {
    const b = bytes.slice();
    b[0] ^= 0xff;
    fails(b, /^model.cir: not a condense IR file \(bad magic\)/);
    expect(isSerializedGraph(b)).toBe(false);
  });
  it('bad version', () => {
    const b = bytes.slice();
    new DataView(b.buffer).setUint32(4, 99, true);
    fails(b, /^model.cir: unsupported IR version 99 \(this build reads 1\)/);
  });
  it('every truncation is reported, never a RangeError', () => {
    fails(bytes.subarray(0, 5), /too short to be a condense IR file \(5 bytes\)/);
    fails(bytes.subarray(0, 40), /header length \d+ exceeds the file \(40 bytes\); the file is truncated/);
    for (let n = 12; n < bytes.byteLength; n++) {
      expect(() => deserializeGraph(bytes.subarray(0, n))).toThrow(GraphError);
    }
    fails(bytes.subarray(0, bytes.byteLength - 1), /param 'fc\/\w+' \w+: section \[\d+, \+\d+\] is outside the file/);
  });
  it('a garbled header', () => {
    const b = bytes.slice();
    b[12] = 0x7b + 1; // '{' -> '|'
    fails(b, /header is not valid JSON/);
    const fake = (header: unknown) => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const out = new Uint8Array(12 + json.byteLength + 64); // and a zero body
      new DataView(out.buffer).setUint32(0, 0x52494443, true);
      new DataView(out.buffer).setUint32(4, 1, true);
      new DataView(out.buffer).setUint32(8, json.byteLength, true);
      out.set(json, 12);
      return out;
    };
    fails(fake({ format: 'other' }), /header is not a condense IR header/);
    const header = { format: 'condense-ir', version: 1, name: 'x', inputs: [], outputs: [], meta: {}, nodes: [] };
    fails(fake({ ...header, params: [{ name: 'w', shape: [2], data: [0, 12] }] }), /param 'w' data: section holds 12 bytes, expected 2 values of 4 bytes/);
    fails(fake({ ...header, params: [{ name: 'w', shape: [2, -1], data: [0, 0] }] }), /param 'w' has a bad name or shape \[2,-1\]/);
    const grouped = (group: unknown, axis?: number) => ({
      name: 'w',
      shape: [2, 2],
      data: [0, 16],
      quant: { bits: 4, signed: true, axis, group, scale: [16, 8], zeroPoint: [24, 8] },
    });
    fails(
      fake({ ...header, params: [grouped({ size: 0 }, 1)] }),
      /param 'w' has a bad quantization group \{"size":0\} \(needs an axis and a positive integer size\)/,
    );
    fails(fake({ ...header, params: [grouped({ size: 1 })] }), /param 'w' has a bad quantization group/);
    // groups of 1 row on axis 1 of [2, 2]: 4 slots, so the 2-entry scale section is too short
    fails(fake({ ...header, params: [grouped({ size: 1 }, 1)] }), /param 'w' quantization scale: section holds 8 bytes, expected 4 values/);
  });
  it('refuses to serialize attrs or meta that JSON would change', () => {
    const g = small();
    g.meta.when = new Date(0);
    expect(() => serializeGraph(g)).toThrow(/cannot serialize graph 'small' meta.when: a Date is not plain JSON/);
    const h = small();
    h.nodes[1].attrs.scale = new Float32Array(2);
    expect(() => serializeGraph(h)).toThrow(/node 'fc' attrs.scale: a Float32Array/);
    h.nodes[1].attrs.scale = [1, NaN];
    expect(() => serializeGraph(h)).toThrow(/node 'fc' attrs.scale\[1\]: NaN is not representable/);
    h.nodes[1].attrs.scale = undefined; // dropped by JSON and absent when read back: fine
    expect(deserializeGraph(serializeGraph(h)).nodes[1].attrs).toEqual(h.nodes[1].attrs);
  });
  it('sizes: a serialized graph is its float32 weights plus a small header', () => {
    const g = lenet300100();
    const weights = [...g.params.values()].reduce((a, p) => a + sizeOf(p.shape) * 4, 0);
    const size = serializeGraph(g).byteLength;
    expect(size).toBeGreaterThan(weights);
    expect(size).toBeLessThan(weights + 4096);
  });
});
