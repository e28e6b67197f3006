import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';
import * as core from '@condense/core';
import * as ir from '@condense/ir';
import * as tfjs from '@condense/tfjs';
import { readmeExamples, runExample } from '../../../tools/readme-examples.js';
import * as thinet from './index.js';

// The README's ```ts blocks run as written, on the CPU backend (selectBackend is pinned to it).
const MODULES: Record<string, unknown> = {
  '@condense/core': core,
  '@condense/ir': ir,
  '@condense/tfjs': { ...tfjs, selectBackend: () => tfjs.selectBackend('cpu') },
  '@condense/thinet': thinet,
  'node:assert/strict': assert,
};
const examples = readmeExamples(new URL('../README.md', import.meta.url));

describe('README examples run', () => {
  it('has an example', () => expect(examples.length).toBeGreaterThanOrEqual(1));
  for (const example of examples) {
    it(`example ${example.index}: ${example.title}`, async () => {
      expect((await runExample(example, MODULES)).join('\n')).toMatch(/conv1: 8 -> 4 channels, reconstruction error/);
    });
  }
});
