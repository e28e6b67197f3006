import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';
import { readmeExamples, runExample } from '../../../tools/readme-examples.js';
import * as ir from './index.js';

// Every ```ts block of the README is a runnable example.
const MODULES: Record<string, unknown> = { '@condense/ir': ir, 'node:assert/strict': assert };
const examples = readmeExamples(new URL('../README.md', import.meta.url));

describe('README examples run', () => {
  it('has examples', () => expect(examples.length).toBeGreaterThanOrEqual(3));
  for (const example of examples) it(`example ${example.index}: ${example.title}`, () => runExample(example, MODULES));
});
