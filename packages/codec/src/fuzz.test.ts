/**
 * Seeded fuzzing of the decoder. Every input either decodes or throws a CodecError: never another
 * exception, never a hang. Raw bit flips and truncations must always be caught (every byte of a
 * container is covered by a check or a CRC). Structured mutations re-seal the CRCs so that they
 * reach the header validation and the stream decoders.
 */
import { lenet300100, rng, setMask } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { decodeGraph, encodeGraph } from './container.js';
import { CodecError } from './errors.js';
import { flipBits, mutateHeader, mutateStream, randomCodebook, randomMask, zooGraph } from './test-helpers.js';

/** Slowest single decode allowed; a hang or a pathological loop shows up here. */
const MAX_CASE_MS = 500;

interface Tally {
  cases: number;
  decoded: number;
  codes: Record<string, number>;
  slowest: number;
}

function run(tally: Tally, bytes: Uint8Array, label: string): string {
  const t = performance.now();
  let outcome = 'decoded';
  try {
    decodeGraph(bytes);
    tally.decoded++;
  } catch (e) {
    if (!(e instanceof CodecError)) throw new Error(`${label}: ${(e as Error)?.constructor?.name} instead of a CodecError: ${(e as Error)?.message}`);
    outcome = e.code;
    tally.codes[e.code] = (tally.codes[e.code] ?? 0) + 1;
  }
  const ms = performance.now() - t;
  tally.slowest = Math.max(tally.slowest, ms);
  expect(ms, `${label} took ${ms.toFixed(1)} ms`).toBeLessThan(MAX_CASE_MS);
  tally.cases++;
  return outcome;
}

const newTally = (): Tally => ({ cases: 0, decoded: 0, codes: {}, slowest: 0 });

function lenetBytes(): Uint8Array {
  const g = lenet300100(5);
  const next = rng(5);
  for (const [name, keep] of [
    ['fc1/kernel', 0.08],
    ['fc2/kernel', 0.09],
    ['fc3/kernel', 0.26],
  ] as const) {
    const p = g.params.get(name)!;
    setMask(p, randomMask(p.data.length, keep, next));
    randomCodebook(p, 6, next);
  }
  return encodeGraph(g).bytes;
}

describe('decoder fuzzing (seeded)', () => {
  const zoo = encodeGraph(zooGraph(3)).bytes;

  it('catches every random bit flip (2000 cases) and every truncation (400 cases)', () => {
    const next = rng(101);
    const flips = newTally();
    for (let i = 0; i < 2000; i++) expect(run(flips, flipBits(zoo, next), `flip case ${i}`)).not.toBe('decoded');
    const cuts = newTally();
    for (let i = 0; i < 400; i++) expect(run(cuts, zoo.subarray(0, Math.floor(next() * zoo.length)), `truncation case ${i}`)).toBe('TRUNCATED');
    expect(flips.codes.CRC_MISMATCH).toBeGreaterThan(1600);
    console.log('flips', flips.codes, 'slowest', flips.slowest.toFixed(1), 'ms; truncations', cuts.codes);
  });

  it('survives header mutations with a valid CRC (1200 cases): decodes or throws a CodecError', () => {
    const next = rng(202);
    const t = newTally();
    for (let i = 0; i < 1200; i++) run(t, mutateHeader(zoo, next), `header mutation case ${i}`);
    // The mutations must reach deep validation, not stop at one check.
    for (const code of ['BAD_HEADER', 'BAD_PARAM', 'OUT_OF_RANGE', 'SIZE_LIMIT', 'BAD_HUFFMAN', 'CRC_MISMATCH']) expect(t.codes[code], code).toBeGreaterThan(0);
    console.log('header mutations', t.codes, 'decoded', t.decoded, 'slowest', t.slowest.toFixed(1), 'ms');
  });

  it('survives corrupted streams with re-sealed CRCs (800 cases): decodes or throws a CodecError', () => {
    const next = rng(303);
    const t = newTally();
    for (let i = 0; i < 800; i++) run(t, mutateStream(zoo, next), `stream mutation case ${i}`);
    expect(t.codes.BAD_DATA).toBeGreaterThan(0);
    expect(t.decoded).toBeGreaterThan(0);
    console.log('stream mutations', t.codes, 'decoded', t.decoded, 'slowest', t.slowest.toFixed(1), 'ms');
  });

  it('catches bit flips in a LeNet-300-100 container (200 cases) and survives stream damage (100 cases)', () => {
    const lenet = lenetBytes();
    const next = rng(404);
    const t = newTally();
    for (let i = 0; i < 200; i++) expect(run(t, flipBits(lenet, next), `lenet flip case ${i}`)).not.toBe('decoded');
    for (let i = 0; i < 100; i++) run(t, mutateStream(lenet, next), `lenet stream case ${i}`);
    console.log('lenet', t.codes, 'slowest', t.slowest.toFixed(1), 'ms');
  });
});
