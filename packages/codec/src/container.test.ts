import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cloneGraph, fromFloat16Bits, lenet300100, param, rng, setCodebook, setMask, type Param } from '@condense/ir';
import { afterAll, describe, expect, it } from 'vitest';
import { containerReport, decodeGraph, encodeGraph, sizeReport, storedWeightNames } from './container.js';
import { decodeContainer, parseContainer } from './decode.js';
import { CodecError } from './errors.js';
import { readContainer, writeContainer } from './files.js';
import { loaderOptions } from './plugin.js';
import { exportTopology } from '@condense/tfjs';
import { crc32 } from './crc32.js';
import { expectSameArray, expectSameGraph, joinContainer, randomCodebook, randomMask, splitContainer, zooGraph } from './test-helpers.js';

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    return e.code;
  }
  return 'decoded';
};

const zoo = zooGraph();
const zooBytes = encodeGraph(zoo).bytes;

/** Decode after editing the header (CRC fixed up), optionally the body too. */
const withHeader = (edit: (h: any) => void, body?: (b: Uint8Array, h: any) => void) => {
  const { header, body: b } = splitContainer(zooBytes);
  edit(header);
  body?.(b, header);
  return () => decodeGraph(joinContainer(header, b));
};
const entry = (h: any, name: string) => h.params.find((p: any) => p.name === name);

describe('round trip', () => {
  it('restores every param bit for bit, with mask, codebook, quant, float16 and frozen', () => {
    expectSameGraph(decodeGraph(zooBytes), zoo);
  });

  it('uses the layouts and codings the zoo was built to exercise', () => {
    const { header } = parseContainer(zooBytes);
    const e = (n: string) => header.params.find((p) => p.name === n)!;
    expect(e('conv/kernel').encoding).toBe('float16');
    expect(e('fc1/kernel')).toMatchObject({ encoding: 'codebook', mask: true });
    expect(e('fc1/kernel').gapBits).toBeDefined();
    expect(e('fc2/kernel').encoding).toBe('affine');
    expect(e('extra/denseMasked').gapBits).toBeUndefined();
    expect(e('extra/denseMasked').streams.mask).toBeDefined();
    expect(e('extra/zeros').gapBits).toBeDefined(); // all zeros: sparse, fillers only
    expect(e('extra/zeros').streams.values.n).toBe(0);
    expect(e('extra/codebookAndQuant')).toMatchObject({ encoding: 'codebook', quant: { bits: 8, signed: true } });
    // 15 kernel rows in groups of 4 -> 4 row groups x 6 channels: 24 scales and 24 zero points.
    expect(e('extra/groupQuant')).toMatchObject({ encoding: 'affine', quant: { bits: 4, signed: true, axis: 3, group: { size: 4 } } });
    expect(e('extra/groupQuant').streams.quant).toMatchObject({ n: 48, bits: 32 });
    const huffman = header.params.flatMap((p) => Object.values(p.streams)).filter((s) => s.huff !== undefined);
    expect(huffman.length).toBeGreaterThan(0);
  });

  it("stores a weight on its input file's uint8/uint16/float16 encoding as codes, and gives back its stored form", () => {
    const g = lenet300100(3);
    const onGrid = (name: string, quantization: Record<string, unknown>, decode: (c: number) => number, codes: Uint8Array | Uint16Array) => {
      const p = g.params.get(name)!;
      p.data = Float32Array.from(codes, decode);
      const bytes = new Uint8Array(codes.buffer.slice(0));
      p.stored = { entry: { name, shape: p.shape, dtype: 'float32', quantization: { ...quantization, original_dtype: 'float32' } }, bytes };
      return p;
    };
    const next = rng(5);
    const n1 = 784 * 300;
    const fc1 = onGrid(
      'fc1/kernel',
      { dtype: 'uint8', scale: 0.0021, min: -0.2688 },
      (c) => c * 0.0021 - 0.2688,
      Uint8Array.from({ length: n1 }, () => Math.floor(next() * 256)),
    );
    setMask(
      fc1,
      Uint8Array.from(fc1.data, (_, i) => (i % 4 === 0 ? 1 : 0)),
    ); // pruned: 0 is code 128
    onGrid(
      'fc2/kernel',
      { dtype: 'uint16', scale: 1e-5, min: -0.3 },
      (c) => c * 1e-5 - 0.3,
      Uint16Array.from({ length: 300 * 100 }, () => Math.floor(next() * 65536)),
    );
    const half = Uint16Array.from({ length: 100 * 10 }, () => 0x2000 + Math.floor(next() * 0x2000));
    const fc3 = g.params.get('fc3/kernel')!;
    fc3.data = Float32Array.from(half, (h) => fromFloat16Bits(h));
    fc3.stored = { entry: { name: 'fc3/kernel', shape: fc3.shape, dtype: 'float32', quantization: { dtype: 'float16' } }, bytes: new Uint8Array(half.buffer) };
    const { bytes } = encodeGraph(g);
    const { header } = parseContainer(bytes);
    const e = (n: string) => header.params.find((p) => p.name === n)!;
    expect([e('fc1/kernel').encoding, e('fc2/kernel').encoding, e('fc3/kernel').encoding]).toEqual(['grid', 'grid', 'float16']);
    expect(e('fc1/kernel').streams.values).toMatchObject({ bits: 8, n: n1 / 4 });
    expect(e('fc3/kernel').float16).toBeUndefined();
    // One byte per kept fc1 weight plus gaps, not four.
    expect(bytes.length).toBeLessThan(n1 / 4 + n1 / 8 + 300 * 100 * 2 + 1000 * 2 + 120_000);
    const back = decodeGraph(bytes);
    expectSameGraph(back, g);
    expectSameArray(back.params.get('fc2/kernel')!.stored!.bytes, g.params.get('fc2/kernel')!.stored!.bytes, 'fc2 bytes');
    expectSameArray(back.params.get('fc3/kernel')!.stored!.bytes, g.params.get('fc3/kernel')!.stored!.bytes, 'fc3 bytes');
    // A value moved off its grid is stored as float32, the entry still kept.
    fc1.data[0] += 1e-4;
    const moved = parseContainer(encodeGraph(g).bytes).header.params.find((p) => p.name === 'fc1/kernel')!;
    expect([moved.encoding, moved.stored?.quantization]).toEqual(['float32', fc1.stored!.entry.quantization]);
  });

  it('is deterministic and idempotent (decode then encode gives the same bytes)', () => {
    expectSameArray(encodeGraph(zooGraph()).bytes, zooBytes, 'second encoding');
    expectSameArray(encodeGraph(decodeGraph(zooBytes)).bytes, zooBytes, 're-encoding');
  });

  it('keeps values identical with Huffman off and with dense-only storage', () => {
    for (const options of [{ huffman: false }, { gapBits: [] }, { gapBits: [3] }]) {
      const { bytes } = encodeGraph(zoo, options);
      expectSameGraph(decodeGraph(bytes), zoo);
    }
    const dense = parseContainer(encodeGraph(zoo, { gapBits: [] }).bytes).header;
    expect(dense.params.every((p) => p.gapBits === undefined)).toBe(true);
    const raw = parseContainer(encodeGraph(zoo, { huffman: false }).bytes).header;
    expect(raw.params.flatMap((p) => Object.values(p.streams)).every((s) => s.huff === undefined)).toBe(true);
  });

  it('keeps -0 and non-zero elements of an unmasked sparse param, and a zero centroid index', () => {
    const g = cloneGraph(zoo);
    const p = param('extra/signedZero', [100]);
    p.data[3] = -0;
    p.data[50] = 1.5;
    g.params.set(p.name, p);
    const c = param('extra/zeroCentroid', [100]);
    setCodebook(c, { centroids: Float32Array.of(0, 0.5, 0), indices: Uint16Array.from({ length: 100 }, (_, i) => (i === 10 ? 2 : i === 20 ? 1 : 0)), bits: 2 });
    g.params.set(c.name, c);
    const back = decodeGraph(encodeGraph(g).bytes);
    expect(Object.is(back.params.get(p.name)!.data[3], -0)).toBe(true);
    expectSameGraph(back, g);
  });

  it('stores the TF.js topology and Keras weight names when given', () => {
    const modelTopology = { class_name: 'Sequential', config: { layers: [] } };
    const weightNames = new Map([['fc1/kernel', 'dense_Dense1/kernel']]);
    const { bytes } = encodeGraph(zoo, { modelTopology, weightNames });
    expect(decodeContainer(bytes).modelTopology).toEqual(modelTopology);
    expect(storedWeightNames(bytes)).toEqual(weightNames);
    expect(decodeContainer(bytes).params.find((p) => p.name === 'fc1/kernel')!.weightName).toBe('dense_Dense1/kernel');
    // decodeGraph refuses a topology that is not the graph's own export: the loader would run another model.
    expect(decodeGraph(bytes).params.size).toBe(zoo.params.size); // not checked without an exporter
    expect(() => decodeGraph(bytes, 'm.cdz', { exportTopology })).toThrow(
      /^TOPOLOGY_MISMATCH: m\.cdz: the stored TF\.js topology \(what the loader runs\) is not the stored graph: it has 0 layers, the graph exports 6$/,
    );
  });

  it("decodes the graph's own export and names the first layer field that differs from it", async () => {
    const good = encodeGraph(zoo, await loaderOptions(zoo)).bytes;
    expect(decodeGraph(good, 'm.cdz', { exportTopology }).params.get('fc1/kernel')).not.toHaveProperty('weightName');
    const { header, body } = splitContainer(good);
    header.modelTopology.config.layers[4].config.activation = 'linear';
    expect(() => decodeGraph(joinContainer(header, body), 'm.cdz', { exportTopology })).toThrow(
      /layer 'fc1' \(config\.layers\[4\]\): config\.activation is "linear" in the stored topology, "relu" in the graph/,
    );
    const renamed = splitContainer(good);
    renamed.header.params.find((p: any) => p.name === 'fc2/kernel').weightName = 'fc1/kernel';
    expect(() => decodeGraph(joinContainer(renamed.header, renamed.body), 'm.cdz', { exportTopology })).toThrow(
      /param 'fc2\/kernel' loads into 'fc1\/kernel', the graph's layer weight is 'fc2\/kernel'/,
    );
  });
});

describe('encoder checks', () => {
  const broken =
    (edit: (p: Param) => void, name = 'fc1/kernel') =>
    () => {
      const g = cloneGraph(zoo);
      edit(g.params.get(name)!);
      encodeGraph(g);
    };

  it('refuses params whose data disagree with their annotations', () => {
    expect(codeOf(broken((p) => (p.data[p.mask!.indexOf(0)] = 0.5)))).toBe('INCONSISTENT_PARAM');
    expect(codeOf(broken((p) => (p.data[p.mask!.indexOf(1)] += 1e-3)))).toBe('INCONSISTENT_PARAM');
    expect(codeOf(broken((p) => (p.data[0] = 0.1 + 2 ** -20), 'conv/kernel'))).toBe('INCONSISTENT_PARAM');
    expect(codeOf(broken((p) => (p.data[p.mask!.indexOf(1)] += 0.5), 'fc2/kernel'))).toBe('INCONSISTENT_PARAM');
    expect(codeOf(broken((p) => (p.quant!.bits = 17), 'fc2/kernel'))).toBe('INCONSISTENT_PARAM');
    expect(codeOf(broken((p) => (p.data = new Float32Array(3)), 'fc2/bias'))).toBe('INCONSISTENT_PARAM');
    expect(() => broken((p) => (p.data[0] = 0.1 + 2 ** -20), 'conv/kernel')()).toThrow(/param 'conv\/kernel': element 0 .*float16/);
  });

  it('refuses bad options', () => {
    expect(codeOf(() => encodeGraph(zoo, { weightNames: new Map([['nope', 'x']]) }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => encodeGraph(zoo, { modelTopology: [] as unknown as object }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => encodeGraph(zoo, { gapBits: [0] }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => encodeGraph(zoo, { gapBits: [9] }))).toBe('INVALID_ARGUMENT');
  });
});

describe('decoder validation: one distinct code per problem', () => {
  it('BAD_MAGIC', () => {
    const b = zooBytes.slice();
    b[0] = 0x50;
    expect(codeOf(() => decodeGraph(b))).toBe('BAD_MAGIC');
    expect(codeOf(() => decodeGraph(Uint8Array.of(0x50, 0x4b)))).toBe('BAD_MAGIC');
  });

  it('UNSUPPORTED_VERSION', () => {
    const b = zooBytes.slice();
    b[4] = 4;
    expect(() => decodeGraph(b, 'model.cdz')).toThrow(/UNSUPPORTED_VERSION: model.cdz: container version 4, this build reads versions 1, 2, 3/);
  });

  it('reads version 1 containers (header stored uncompressed) to the same graph', () => {
    const { header, body } = splitContainer(zooBytes);
    const v1 = joinContainer(header, body, undefined, { version: 1 });
    expect(new DataView(v1.buffer).getUint32(4, true)).toBe(1);
    expect(v1.length).toBeGreaterThan(zooBytes.length);
    expectSameGraph(decodeGraph(v1), decodeGraph(zooBytes));
  });

  it('the header is deflated: the file is smaller than with the JSON stored as is', () => {
    const { header } = splitContainer(zooBytes);
    const jsonBytes = new TextEncoder().encode(JSON.stringify(header)).length;
    expect(new DataView(zooBytes.buffer, zooBytes.byteOffset).getUint32(16, true)).toBe(jsonBytes);
    expect(sizeReport(encodeGraph(zoo).sections).byKind.header).toBeLessThan(jsonBytes / 2);
  });

  it('BAD_HEADER or SIZE_LIMIT when the compressed header is corrupt or declares an impossible size', () => {
    const { header, body } = splitContainer(zooBytes);
    const good = joinContainer(header, body);
    const withDeclared = (size: number) => {
      const b = good.slice();
      new DataView(b.buffer).setUint32(16, size, true);
      return b;
    };
    const declared = new DataView(good.buffer).getUint32(16, true);
    expect(() => decodeGraph(withDeclared(declared + 1), 'm.cdz')).toThrow(
      /BAD_HEADER: m.cdz: header: compressed header does not inflate: inflates to \d+ bytes, the prefix declares/,
    );
    expect(() => decodeGraph(withDeclared(declared - 1), 'm.cdz')).toThrow(
      /BAD_HEADER: m.cdz: header: compressed header does not inflate: inflates to more than/,
    );
    expect(() => decodeGraph(withDeclared(0xffffffff), 'm.cdz')).toThrow(/SIZE_LIMIT: m.cdz: header: header declares 4294967295 bytes once inflated/);
    // Garbage that passes the CRC: a block of type 3.
    const garbage = new Uint8Array(20 + 4 + body.length);
    garbage.set(good.subarray(0, 8));
    const dv = new DataView(garbage.buffer);
    dv.setUint32(8, 4, true);
    garbage.set([0x07, 0, 0, 0], 20);
    dv.setUint32(12, crc32(garbage.subarray(20, 24)), true);
    dv.setUint32(16, 100, true);
    expect(() => decodeGraph(garbage)).toThrow(/BAD_HEADER: container: header: compressed header does not inflate: invalid block type 3/);
  });

  it('a header over the limit its body allows is refused when writing, not only when reading', () => {
    const g = cloneGraph(zoo);
    g.meta.note = 'x'.repeat(5 * 2 ** 20); // 5 MiB of JSON over a body of a few kB
    expect(() => encodeGraph(g)).toThrow(/SIZE_LIMIT: container: the header is \d+ bytes, more than the \d+ a container with a \d+-byte body may hold/);
  });

  it('TRUNCATED at every kind of boundary, TRAILING_DATA past the end', () => {
    for (const len of [0, 3, 10, 16, 200, zooBytes.length - 1]) expect(codeOf(() => decodeGraph(zooBytes.subarray(0, len)))).toBe('TRUNCATED');
    const longer = new Uint8Array(zooBytes.length + 1);
    longer.set(zooBytes);
    expect(codeOf(() => decodeGraph(longer))).toBe('TRAILING_DATA');
  });

  it('CRC_MISMATCH in the header and in a section, naming it', () => {
    const h = zooBytes.slice();
    h[40] ^= 4;
    expect(() => decodeGraph(h)).toThrow(/CRC_MISMATCH: container: header/);
    const b = zooBytes.slice();
    b[b.length - 1] ^= 1;
    expect(() => decodeGraph(b)).toThrow(/CRC_MISMATCH: container: param 'extra\/groupQuant' stream 'quant'/);
  });

  it('BAD_HEADER: malformed JSON, wrong types, dangling param references', () => {
    const { header, body } = splitContainer(zooBytes);
    expect(codeOf(() => decodeGraph(joinContainer(null, body, '{"format": "condense-cdz", ')))).toBe('BAD_HEADER');
    expect(codeOf(() => decodeGraph(joinContainer(null, body, '[1, 2]')))).toBe('BAD_HEADER');
    expect(codeOf(withHeader((h) => (h.nodes = 'x')))).toBe('BAD_HEADER');
    expect(codeOf(withHeader((h) => (h.nodes[1].params.kernel = 'missing')))).toBe('BAD_HEADER');
    expect(codeOf(withHeader((h) => h.params.push({ ...h.params[0] })))).toBe('BAD_HEADER');
    expect(codeOf(withHeader((h) => (h.modelTopology = 3)))).toBe('BAD_HEADER');
    expect(header.format).toBe('condense-cdz');
  });

  it('OUT_OF_RANGE: a section outside the body', () => {
    expect(codeOf(withHeader((h) => (entry(h, 'fc1/kernel').streams.values.off = h.bodyBytes)))).toBe('OUT_OF_RANGE');
    expect(codeOf(withHeader((h) => (entry(h, 'conv/bias').streams.values.off = 2 ** 40)))).toBe('OUT_OF_RANGE');
  });

  it('SIZE_LIMIT: declared sizes that the bytes do not back, before allocating', () => {
    // A dense float32 param claiming 2^27 elements with 16 bytes of values.
    expect(
      codeOf(
        withHeader((h) => {
          const e = entry(h, 'conv/bias');
          e.shape = [2 ** 27];
          e.streams.values.n = 2 ** 27;
        }),
      ),
    ).toBe('SIZE_LIMIT');
    // A sparse param whose gaps cover far fewer elements than its shape.
    expect(codeOf(withHeader((h) => (entry(h, 'fc1/kernel').shape = [144, 32_000])))).toBe('SIZE_LIMIT');
    // A Huffman stream claiming more symbols than it has bits.
    expect(
      codeOf(
        withHeader((h) => {
          const s = entry(h, 'fc1/kernel').streams.gaps;
          s.n = s.len * 8 + 1;
        }),
      ),
    ).toBe('SIZE_LIMIT');
    // Shapes beyond the element cap, even when every dimension is small.
    expect(codeOf(withHeader((h) => (entry(h, 'fc2/bias').shape = [1 << 16, 1 << 16, 1 << 16])))).toBe('SIZE_LIMIT');
    expect(codeOf(() => decodeGraph(zooBytes, 'x', { maxElements: 1000 }))).toBe('SIZE_LIMIT');
  });

  it('BAD_HUFFMAN: over-subscribed, incomplete or malformed code-length tables', () => {
    const huffStream = (h: any) => entry(h, 'fc1/kernel').streams.gaps ?? entry(h, 'fc1/kernel').streams.values;
    expect(huffStream(splitContainer(zooBytes).header).huff).toBeDefined();
    expect(codeOf(withHeader((h) => (huffStream(h).huff = '111')))).toBe('BAD_HUFFMAN');
    expect(codeOf(withHeader((h) => (huffStream(h).huff = '12')))).toBe('BAD_HUFFMAN');
    expect(codeOf(withHeader((h) => (huffStream(h).huff = 'zz')))).toBe('BAD_HUFFMAN');
    expect(codeOf(withHeader((h) => (huffStream(h).huff = '1'.repeat(5000))))).toBe('BAD_HUFFMAN');
  });

  it('BAD_PARAM: shape, encoding and streams that disagree', () => {
    expect(codeOf(withHeader((h) => (entry(h, 'fc1/kernel').encoding = 'int4')))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => (entry(h, 'fc1/kernel').shape = [-1])))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => (entry(h, 'conv/bias').shape = [5])))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => (entry(h, 'fc1/kernel').codebook.bits = 17)))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => (entry(h, 'fc1/kernel').gapBits = 12)))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => delete entry(h, 'fc1/kernel').streams.centroids))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => (entry(h, 'fc2/kernel').quant.axis = 2)))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => (entry(h, 'extra/groupQuant').quant.group = { size: 0 })))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => delete entry(h, 'extra/groupQuant').quant.axis))).toBe('BAD_PARAM');
    // A reader that ignored the group would expect 6 slots: the stream's count no longer matches.
    expect(codeOf(withHeader((h) => delete entry(h, 'extra/groupQuant').quant.group))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => (entry(h, 'conv/bias').streams.values.bits = 16)))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => (entry(h, 'conv/bias').streams.values.huff = '11')))).toBe('BAD_PARAM');
    expect(codeOf(withHeader((h) => (entry(h, 'fc1/kernel').streams.values.n -= 1)))).toBe('BAD_PARAM');
  });

  it('BAD_DATA: stream contents out of range (CRC valid)', () => {
    // Raw 2-bit indices of a codebook with 3 centroids: write index 3.
    const g = cloneGraph(zoo);
    const p = param('extra/threeCentroids', [8]);
    setCodebook(p, { centroids: Float32Array.of(-1, 0.5, 1), indices: Uint16Array.of(0, 1, 2, 1, 0, 1, 2, 1), bits: 2 });
    g.params.set(p.name, p);
    const { header, body } = splitContainer(encodeGraph(g, { huffman: false }).bytes);
    const s = entry(header, p.name).streams.values;
    body[s.off] = 0xff;
    s.crc = crc32(body.subarray(s.off, s.off + s.len));
    expect(() => decodeGraph(joinContainer(header, body))).toThrow(/BAD_DATA: .*'extra\/threeCentroids' stream 'values': centroid index 3/);
  });
});

describe('files and size report', () => {
  let dir = '';
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes atomically, reads back bit-exact, and the report adds up to the file size', async () => {
    dir = await mkdtemp(join(tmpdir(), 'codec-'));
    const path = join(dir, 'model.cdz');
    await writeFile(path, 'old');
    const result = await writeContainer(zoo, path);
    expect((await readdir(dir)).sort()).toEqual(['model.cdz']);
    expectSameGraph(await readContainer(path), zoo);
    const size = (await stat(path)).size;
    const report = containerReport(result.bytes);
    expect(report.total).toBe(size);
    expect(result.sections.reduce((a, s) => a + s.bytes, 0)).toBe(size);
    expect(report.sections).toEqual(result.sections);
    expect(Object.values(report.share).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(report.byKind.bias).toBeGreaterThan(0);
    expect(report.byKind.indices).toBeGreaterThan(0);
    expect(report.byKind.gaps).toBeGreaterThan(0);
    expect(report.byKind.codebook).toBeGreaterThan(0);
  });

  it('reports IO errors with the path', async () => {
    await expect(readContainer(join(dir, 'missing.cdz'))).rejects.toThrow(/IO: .*missing\.cdz/);
    // A folder where the file should go; missing folders, on the other hand, are created.
    await expect(writeContainer(zoo, join(dir, 'model.cdz', 'x'))).rejects.toMatchObject({ code: 'IO' });
    await writeContainer(zoo, join(dir, 'new/sub/model.cdz'));
    expect(await readdir(join(dir, 'new/sub'))).toEqual(['model.cdz']);
    expect((await readdir(dir)).sort()).toEqual(['model.cdz', 'new']);
  });
});

describe('LeNet-300-100 at Deep Compression sparsity', () => {
  it('round-trips and reports kinds', () => {
    const g = lenet300100(3);
    const next = rng(3);
    for (const [name, keep] of [
      ['fc1/kernel', 0.08],
      ['fc2/kernel', 0.09],
      ['fc3/kernel', 0.26],
    ] as const) {
      const p = g.params.get(name)!;
      setMask(p, randomMask(p.data.length, keep, next));
      randomCodebook(p, 6, next);
    }
    const { bytes } = encodeGraph(g);
    expectSameGraph(decodeGraph(bytes), g);
    expect(1066440 / bytes.length).toBeGreaterThan(25);
  });
});
