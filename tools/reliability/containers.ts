/** Containers for the reliability tests: a loadable one, and surgery that keeps CRCs and the body layout valid. */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { encodeGraph, loaderOptions } from '@condense/codec';
import { GraphBuilder, rng, setMask, setQuant, type Graph } from '@condense/ir';
import { crc32 } from '../../packages/codec/src/crc32.js';
import { joinContainer, randomCodebook, randomMask, splitContainer } from '../../packages/codec/src/test-helpers.js';

export { joinContainer, splitContainer };

/** A small conv net with pruned, shared and quantized weights, like `compress` writes it. */
export function smallNet(seed = 1): Graph {
  const g = new GraphBuilder('small', [8, 8, 1], seed)
    .conv2d(4, 3, { name: 'conv', activation: 'relu' })
    .maxPool2d(2, { name: 'pool' })
    .flatten({ name: 'flat' })
    .dense(16, { name: 'fc1', activation: 'relu' })
    .dense(3, { name: 'fc2', activation: 'softmax' })
    .build();
  const next = rng(seed);
  const k = g.params.get('fc1/kernel')!;
  setMask(k, randomMask(k.data.length, 0.3, next));
  randomCodebook(k, 4, next);
  const q = g.params.get('fc2/kernel')!;
  q.data.forEach((_, i) => (q.data[i] = Math.round((next() * 2 - 1) * 100) * 0.01));
  setQuant(q, { bits: 8, signed: true, scale: Float32Array.of(0.01), zeroPoint: Int32Array.of(0) });
  return g;
}

/** The small net's container with its TF.js topology, loadable by the loader. */
export const loadableBytes = async (seed = 1): Promise<Uint8Array> => encodeGraph(smallNet(seed), await loaderOptions(smallNet(seed))).bytes;

type Header = ReturnType<typeof splitContainer>['header'];

/**
 * Replace the bytes of some streams and lay the body out again (streams back to back in header
 * order, offsets, lengths, CRCs and bodyBytes updated), so the container stays well-formed.
 */
export function withStreams(
  bytes: Uint8Array,
  edit: (header: Header, streamBytes: (param: string, stream: string) => Uint8Array, set: (param: string, stream: string, b: Uint8Array) => void) => void,
): Uint8Array {
  const { header, body } = splitContainer(bytes);
  const contents = new Map<object, Uint8Array>();
  for (const p of header.params) for (const s of Object.values(p.streams) as { off: number; len: number }[]) contents.set(s, body.slice(s.off, s.off + s.len));
  const ref = (param: string, stream: string) => header.params.find((p: { name: string }) => p.name === param).streams[stream];
  edit(
    header,
    (p, s) => contents.get(ref(p, s))!,
    (p, s, b) => contents.set(ref(p, s), b),
  );
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const p of header.params) {
    for (const s of Object.values(p.streams) as { off: number; len: number; crc: number }[]) {
      const b = contents.get(s)!;
      Object.assign(s, { off, len: b.length, crc: crc32(b) });
      parts.push(b);
      off += b.length;
    }
  }
  const out = new Uint8Array(off);
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  header.bodyBytes = off;
  return joinContainer(header, out);
}

export { tf };
