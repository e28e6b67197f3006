import { describe, expect, it } from 'vitest';
import * as ir from '@condense/ir';
import { readmeExamples, runExample } from '../../../tools/readme-examples.js';
import * as reconstruct from './index.js';

// The README's ```ts blocks run as written.
const MODULES: Record<string, unknown> = { '@condense/ir': ir, '@condense/reconstruct': reconstruct };
const examples = readmeExamples(new URL('../README.md', import.meta.url));

describe('README examples run', () => {
  it('has an example', () => expect(examples.length).toBeGreaterThanOrEqual(1));
  for (const example of examples) {
    it(`example ${example.index}: ${example.title}`, async () => {
      const lines = await runExample(example, MODULES);
      expect(lines.join('\n')).toMatch(/fc1: output error [\d.]+% rounded to nearest, [\d.]+% with GPTQ; statistics \d+ bytes/);
      expect(lines.at(-1)).toBe('4');
    });
  }
});
