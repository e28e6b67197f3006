import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cost,
  getNode,
  GraphBuilder,
  lenet300100,
  lenet5,
  mobilenetV2,
  param,
  paramBytes,
  setMask,
  sparseEntries,
  SPARSE_GAP_BITS,
  validateParam,
  vggSmall,
  type Param,
} from './index.js';

describe('MobileNetV2 at 224x224 against the published figures', () => {
  it("300M multiply-adds (Sandler et al. 2018, Table 4) within 1%, Keras' 3,538,984 params", () => {
    const c = cost(mobilenetV2());
    expect(c.totals.params).toBe(3_538_984);
    // Counted: every conv2d, depthwiseConv2d and dense multiply-add (no batch norm, activation, add or pooling).
    const by = (op: string) => c.layers.filter((l) => l.op === op).reduce((a, l) => a + l.macs, 0);
    expect(by('conv2d') + by('depthwiseConv2d') + by('dense')).toBe(c.totals.macs);
    expect(by('dense')).toBe(1280 * 1000);
    expect(c.totals.macs).toBe(300_774_272);
    expect(Math.abs(c.totals.macs / 300e6 - 1)).toBeLessThan(0.01);
  });
});

describe('cost of the reference models (hand-computed)', () => {
  it('LeNet-300-100: 266,610 params, 266,200 MACs', () => {
    const r = cost(lenet300100());
    expect(r.totals.params).toBe(784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10);
    expect(r.totals.params).toBe(266_610);
    expect(r.totals.macs).toBe(266_200);
    expect(r.totals.effectiveMacs).toBe(266_200);
    expect(r.totals.float32Bytes).toBe(266_610 * 4);
    // kernels dense float32; the freshly initialised biases are all zero, so their sparse form is empty
    expect(r.totals.bytes).toBe((784 * 300 + 300 * 100 + 100 * 10) * 4);
    const fc1 = r.layers.find((l) => l.node === 'fc1')!;
    expect(fc1).toMatchObject({ op: 'dense', shape: [null, 300], params: 235_500, macs: 235_200 });
    expect(r.layers.find((l) => l.node === 'flatten')).toMatchObject({ params: 0, macs: 0, shape: [null, 784] });
  });

  it('LeNet-5 (Caffe): 431,080 params, 2,293,000 MACs', () => {
    const r = cost(lenet5());
    expect(r.totals.params).toBe(431_080);
    expect(r.totals.macs).toBe(2_293_000);
    const macs = Object.fromEntries(r.layers.map((l) => [l.node, l.macs]));
    // conv1: 24x24 positions x 5x5x1x20; conv2: 8x8 x 5x5x20x50; fc1: 800x500; fc2: 500x10
    expect(macs).toMatchObject({ conv1: 288_000, conv2: 1_600_000, fc1: 400_000, fc2: 5_000, pool1: 0 });
    expect(r.layers.find((l) => l.node === 'flatten')!.shape).toEqual([null, 800]);
  });

  it('vggSmall with and without batch norm', () => {
    // convs 3x3 'same' on 28x28 then 14x14: (9*1*32+32) + (9*32*32+32) + (9*32*64+64) + (9*64*64+64), fc 3136*256+256, 256*10+10
    const plain = cost(vggSmall());
    expect(plain.totals.params).toBe(320 + 9248 + 18_496 + 36_928 + 803_072 + 2570);
    expect(plain.totals.macs).toBe(28 * 28 * 9 * (32 + 32 * 32) + 14 * 14 * 9 * (32 * 64 + 64 * 64) + 3136 * 256 + 2560);
    const bn = cost(vggSmall(1, { batchNorm: true }));
    // no conv biases, 4 batch-norm params per channel
    expect(bn.totals.params).toBe(plain.totals.params - 192 + 4 * 192);
    expect(bn.totals.macs).toBe(plain.totals.macs);
  });

  it('effective MACs follow a 90%-sparse kernel', () => {
    const g = lenet300100();
    const k = g.params.get('fc1/kernel')!;
    const mask = Uint8Array.from({ length: k.data.length }, (_, i) => (i % 10 === 3 ? 1 : 0));
    setMask(k, mask);
    const r = cost(g);
    const fc1 = r.layers.find((l) => l.node === 'fc1')!;
    expect(fc1.macs).toBe(235_200);
    expect(fc1.effectiveMacs).toBe(23_520);
    expect(fc1.nonzero).toBe(23_520 + 0); // zero biases are not non-zeros
    expect(r.totals.effectiveMacs).toBe(23_520 + 30_000 + 1_000);
    expect(r.totals.nonzero).toBe(23_520 + 30_000 + 1_000);
  });

  it('counts a param shared by two nodes once', () => {
    const g = new GraphBuilder('tied', [4]).dense(4, { name: 'a', bias: false }).dense(4, { name: 'b', bias: false }).build();
    getNode(g, 'b').params.kernel = 'a/kernel';
    g.params.delete('b/kernel');
    const r = cost(g);
    expect(r.totals.params).toBe(16);
    expect(r.totals.macs).toBe(32);
  });
});

/** A param of `n` ones with a mask keeping `kept` positions. */
function masked(n: number, kept: number[]): Param {
  const p = param('w', [n], new Float32Array(n).fill(1));
  const mask = new Uint8Array(n);
  for (const i of kept) mask[i] = 1;
  setMask(p, mask);
  return p;
}

/** Deep Compression relative-index encoder: (gap - 1, value) entries, filler zeros on long gaps. Returns kept positions decoded back, and entry count. */
function encodeDecode(kept: number[], gapBits: number): { decoded: number[]; entries: number } {
  const maxGap = 2 ** gapBits;
  const stream: { code: number; filler: boolean }[] = [];
  let last = -1;
  for (const i of kept) {
    let gap = i - last;
    while (gap > maxGap) {
      stream.push({ code: maxGap - 1, filler: true });
      gap -= maxGap;
    }
    stream.push({ code: gap - 1, filler: false });
    last = i;
  }
  const decoded: number[] = [];
  let pos = -1;
  for (const e of stream) {
    expect(e.code).toBeGreaterThanOrEqual(0);
    expect(e.code).toBeLessThan(maxGap);
    pos += e.code + 1;
    if (!e.filler) decoded.push(pos);
  }
  return { decoded, entries: stream.length };
}

describe('paramBytes', () => {
  const w = () =>
    param(
      'w',
      [10, 10],
      Float32Array.from({ length: 100 }, (_, i) => i + 1),
    );
  it('dense encodings: float32, float16, affine per tensor and per axis, codebook', () => {
    expect(paramBytes(w())).toEqual({ encoding: 'float32', valueBits: 32, sparse: false, bytes: 400 });
    expect(paramBytes({ ...w(), float16: true })).toMatchObject({ encoding: 'float16', bytes: 200 });
    const q = (bits: number, axis?: number) => ({
      bits,
      signed: true,
      scale: new Float32Array(axis === undefined ? 1 : 10).fill(1),
      zeroPoint: new Int32Array(axis === undefined ? 1 : 10),
      axis,
    });
    // values plus a float32 scale and int32 zero point per slot
    expect(paramBytes({ ...w(), quant: q(8) })).toMatchObject({ encoding: 'affine', valueBits: 8, bytes: 100 + 8 });
    expect(paramBytes({ ...w(), quant: q(8, 1) })).toMatchObject({ bytes: 100 + 80 });
    expect(paramBytes({ ...w(), quant: q(4) })).toMatchObject({ bytes: 50 + 8 });
    // 4-bit groups of 4 rows on axis 1: ceil(10 / 4) = 3 row groups x 10 channels = 30 slots
    const grouped = { bits: 4, signed: true, axis: 1, group: { size: 4 }, scale: new Float32Array(30).fill(1), zeroPoint: new Int32Array(30) };
    validateParam({ ...w(), quant: grouped });
    expect(paramBytes({ ...w(), quant: grouped })).toMatchObject({ encoding: 'affine', valueBits: 4, bytes: 50 + 30 * 8 });
    const codebook = { bits: 5, centroids: new Float32Array(32), indices: new Uint16Array(100) };
    // 100 x 5 bits = 62.5 -> 63 bytes, plus 32 float32 centroids
    expect(paramBytes({ ...w(), codebook })).toMatchObject({ encoding: 'codebook', valueBits: 5, bytes: 63 + 128 });
  });

  it('sparseEntries adds a filler zero each time a gap exceeds 2^bits (hand-checked)', () => {
    const kept = [0, 5, 20, 39];
    const keep = (i: number) => kept.includes(i);
    // gaps from position -1: 1, 5, 15, 19
    expect(sparseEntries(keep, 40, 3)).toBe(1 + 1 + 2 + 3); // max gap 8: 15 = 8 + 7, 19 = 8 + 8 + 3
    expect(sparseEntries(keep, 40, 4)).toBe(1 + 1 + 1 + 2); // max gap 16
    expect(sparseEntries(keep, 40, 5)).toBe(4);
    expect(sparseEntries(() => true, 10, 3)).toBe(10);
    expect(sparseEntries(() => false, 10, 3)).toBe(0);
    expect(sparseEntries((i) => i === 8, 9, 3)).toBe(2); // gap 9: one filler
    expect(sparseEntries((i) => i === 7, 9, 3)).toBe(1); // gap 8 fits
  });

  it('sparse form of a small mask: the cheapest gap width wins', () => {
    const p = masked(40, [0, 5, 20, 39]);
    // float32 values: 3 bits -> 7 x 35 bits = 31 B; 4 -> 5 x 36 = 23 B; 5 -> 4 x 37 = 19 B; 8 -> 4 x 40 = 20 B; dense 160 B
    expect(paramBytes(p)).toEqual({ encoding: 'float32', valueBits: 32, sparse: true, gapBits: 5, bytes: 19 });
  });

  it('chooses sparse whenever it is smaller, even above 50% density', () => {
    const p = masked(
      1000,
      [...Array(1000).keys()].filter((i) => i % 5 < 3),
    );
    // 600 entries, every gap <= 3: 600 x (32 + 3) bits = 2625 bytes < 4000 dense
    expect(paramBytes(p)).toEqual({ encoding: 'float32', valueBits: 32, sparse: true, gapBits: 3, bytes: 2625 });
    expect(paramBytes(masked(1000, [...Array(1000).keys()]))).toMatchObject({ sparse: false, bytes: 4000 });
  });

  it('without a mask, zeros in data are what the sparse form skips', () => {
    const p = param('w', [64]);
    p.data[10] = 1;
    p.data[50] = -2;
    // gaps 11, 40: 3 bits -> 2 + 5 entries x 35 = 31 B; 4 -> 1 + 3 x 36 = 18 B; 5 -> 1 + 2 x 37 = 14 B; 8 -> 2 x 40 bits = 10 B
    expect(paramBytes(p)).toMatchObject({ sparse: true, gapBits: 8, bytes: 10 });
    p.data[50] = 0;
    p.data[63] = 3;
    expect(paramBytes(p)).toMatchObject({ sparse: true, gapBits: 8, bytes: 10 });
    expect(paramBytes(param('z', [64]))).toMatchObject({ sparse: true, bytes: 0 }); // all zero: nothing to store
  });

  it('matches an explicit encoder on random masks, and never exceeds dense', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 300 }), fc.constantFrom(...SPARSE_GAP_BITS), (bits, gapBits) => {
        const kept = bits.flatMap((b, i) => (b ? [i] : []));
        const { decoded, entries } = encodeDecode(kept, gapBits);
        expect(decoded).toEqual(kept);
        expect(sparseEntries((i) => bits[i], bits.length, gapBits)).toBe(entries);
        const p = masked(bits.length, kept);
        const best = paramBytes(p);
        expect(best.bytes).toBeLessThanOrEqual(bits.length * 4);
        const each = SPARSE_GAP_BITS.map((g) => Math.ceil((encodeDecode(kept, g).entries * (32 + g)) / 8));
        expect(best.bytes).toBe(Math.min(bits.length * 4, ...each));
      }),
      { numRuns: 200 },
    );
  });
});
