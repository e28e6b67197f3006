import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { IdxFormatError, parseIdx, readIdx } from './idx.js';

/** Builds an IDX file: magic, big-endian dims, then the payload as given. */
function idx(typeCode: number, dims: number[], payload: Uint8Array): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint8(2, typeCode);
  header.setUint8(3, dims.length);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  return Buffer.concat([new Uint8Array(header.buffer), payload]);
}

const pixels = Uint8Array.from({ length: 2 * 3 * 2 }, (_, i) => i * 20);

describe('parseIdx', () => {
  it('parses raw ubyte data', () => {
    const t = parseIdx(idx(0x08, [2, 3, 2], pixels));
    expect(t.dtype).toBe('uint8');
    expect(t.dims).toEqual([2, 3, 2]);
    expect(Array.from(t.data)).toEqual(Array.from(pixels));
  });

  it('parses gzip data identically', () => {
    const t = parseIdx(gzipSync(idx(0x08, [2, 3, 2], pixels)));
    expect(t.dims).toEqual([2, 3, 2]);
    expect(Array.from(t.data)).toEqual(Array.from(pixels));
  });

  it('decodes big-endian multi-byte types', () => {
    const be = new DataView(new ArrayBuffer(12));
    be.setInt16(0, -2);
    be.setInt16(2, 300);
    be.setFloat32(4, 1.5);
    be.setFloat32(8, -0.25);
    const i16 = parseIdx(idx(0x0b, [2], new Uint8Array(be.buffer, 0, 4)));
    const f32 = parseIdx(idx(0x0d, [2], new Uint8Array(be.buffer, 4, 8)));
    expect(i16.data).toEqual(Int16Array.of(-2, 300));
    expect(f32.data).toEqual(Float32Array.of(1.5, -0.25));
  });

  it('rejects bad magic', () => {
    const bytes = idx(0x08, [2, 3, 2], pixels);
    bytes[0] = 0x50;
    expect(() => parseIdx(bytes, 'x.idx')).toThrow(/^x\.idx: bad magic 50 00 08 03/);
  });

  it('rejects an unknown type code', () => {
    expect(() => parseIdx(idx(0x07, [1], new Uint8Array(1)), 'x.idx')).toThrow(/unknown IDX type code 0x07/);
  });

  it('rejects truncated headers and data, and trailing bytes', () => {
    const bytes = idx(0x08, [2, 3, 2], pixels);
    expect(() => parseIdx(bytes.subarray(0, 2), 'x')).toThrow(/too short/);
    expect(() => parseIdx(bytes.subarray(0, 10), 'x')).toThrow(/truncated header: 3 dims need 16 bytes, file has 10/);
    expect(() => parseIdx(bytes.subarray(0, bytes.length - 1), 'x')).toThrow(/truncated: .* say 12 data bytes but file has 11/);
    expect(() => parseIdx(Buffer.concat([bytes, new Uint8Array(3)]), 'x')).toThrow(/trailing bytes: .* file has 15/);
  });

  it('fails fast on a header declaring huge dims, before allocating', () => {
    const bytes = idx(0x0e, [0xffffffff, 0xffffffff, 0xffffffff], new Uint8Array(8));
    expect(() => parseIdx(bytes, 'huge.idx')).toThrow(IdxFormatError);
    expect(() => parseIdx(bytes, 'huge.idx')).toThrow(/huge\.idx: truncated: dims \[4294967295, 4294967295, 4294967295\] of float64/);
  });

  it('reports corrupt gzip', () => {
    const gz = gzipSync(idx(0x08, [2, 3, 2], pixels));
    expect(() => parseIdx(gz.subarray(0, gz.length - 6), 'x.gz')).toThrow(/^x\.gz: gzip data is corrupt/);
    const garbled = Uint8Array.from(gz);
    garbled.fill(0xff, 10, 20);
    expect(() => parseIdx(garbled, 'x.gz')).toThrow(/gzip data is corrupt/);
  });
});

describe('readIdx', () => {
  it('reads a file and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idx-'));
    const good = join(dir, 'good.gz');
    const bad = join(dir, 'bad');
    writeFileSync(good, gzipSync(idx(0x08, [12], pixels)));
    writeFileSync(bad, idx(0x08, [13], pixels));
    expect(readIdx(good).dims).toEqual([12]);
    expect(() => readIdx(bad)).toThrow(`${bad}: truncated`);
    expect(() => readIdx(join(dir, 'none'))).toThrow(`${join(dir, 'none')}: cannot read file`);
  });
});
