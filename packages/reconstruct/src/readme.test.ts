import { describe, expect, it } from 'vitest';
import * as core from '@condense/core';
import * as ir from '@condense/ir';
import * as tfjs from '@condense/tfjs';
import { readmeExamples, runExample } from '../../../tools/readme-examples.js';
import * as reconstruct from './index.js';

// The README's ```ts blocks run as written, on the CPU backend (selectBackend is pinned to it).
const MODULES: Record<string, unknown> = {
  '@condense/core': core,
  '@condense/ir': ir,
  '@condense/reconstruct': reconstruct,
  '@condense/tfjs': { ...tfjs, selectBackend: () => tfjs.selectBackend('cpu') },
};
const examples = readmeExamples(new URL('../README.md', import.meta.url));

/** What each example prints. */
const EXPECTED = [
  (lines: string[]) => {
    expect(lines.join('\n')).toMatch(/^conv1: 4-bit affine, output error [\d.]+% -> [\d.]+% \(\d+ calibration rows/m);
    expect(lines.at(-1)).toBe('128');
  },
  (lines: string[]) => {
    expect(lines.join('\n')).toMatch(/fc1: output error [\d.]+% rounded to nearest, [\d.]+% with GPTQ; statistics \d+ bytes/);
    expect(lines.at(-1)).toBe('4');
  },
];

describe('README examples run', () => {
  it('has its examples', () => expect(examples.length).toBe(EXPECTED.length));
  for (const example of examples) {
    it(`example ${example.index}: ${example.title}`, async () => {
      EXPECTED[example.index - 1](await runExample(example, MODULES));
    });
  }
});
