import type { Split } from '@condense/core';

/** "CSPL": a labelled split as one blob, for trials to reference. */
const MAGIC = 'CSPL';
const VERSION = 1;

interface SplitHeader {
  version: number;
  count: number;
  shape: number[];
}

/** Bytes of a split: magic, u32 header length, JSON header, padding to 4, float32 images, uint8 labels. */
export function encodeSplit(split: Split): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ version: VERSION, count: split.count, shape: [...split.shape] } satisfies SplitHeader));
  const start = align4(8 + header.length);
  const out = new Uint8Array(start + split.images.byteLength + split.labels.byteLength);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, header.length, true);
  out.set(header, 8);
  out.set(new Uint8Array(split.images.buffer, split.images.byteOffset, split.images.byteLength), start);
  out.set(split.labels, start + split.images.byteLength);
  return out;
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** Inverse of `encodeSplit`; errors name `source`. */
export function decodeSplit(bytes: Uint8Array, source = 'data blob'): Split {
  const bad = (why: string) => new Error(`${source}: not a condense data split (${why})`);
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw bad('no CSPL magic');
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  let header: SplitHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as SplitHeader;
  } catch {
    throw bad('unreadable header');
  }
  if (header.version !== VERSION) throw bad(`version ${header.version}, this reader knows ${VERSION}`);
  const values = header.shape.reduce((a, b) => a * b, 1);
  const start = align4(8 + length);
  if (bytes.length !== start + values * 4 + header.count) throw bad(`${bytes.length} bytes for ${header.count} examples of shape [${header.shape}]`);
  // Copies: the blob's buffer may be unaligned or shared.
  const images = new Float32Array(bytes.slice(start, start + values * 4).buffer);
  const labels = bytes.slice(start + values * 4);
  return { images, labels, count: header.count, shape: header.shape };
}

/** Examples [from, to) of a split. */
export function sliceOf(split: Split, from: number, to: number): Split {
  const size = split.images.length / split.count;
  const n = Math.max(0, Math.min(to, split.count) - from);
  return {
    images: split.images.subarray(from * size, (from + n) * size),
    labels: split.labels.subarray(from, from + n),
    count: n,
    shape: [n, ...split.shape.slice(1)],
  };
}
