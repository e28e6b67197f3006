import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as core from '@condense/core';
import * as ir from '@condense/ir';
import * as tfjs from '@condense/tfjs';
import * as thinet from './index.js';

// The README's ```ts blocks run as written, on the CPU backend (selectBackend is pinned to it).
const MODULES: Record<string, unknown> = {
  '@condense/core': core,
  '@condense/ir': ir,
  '@condense/tfjs': { ...tfjs, selectBackend: () => tfjs.selectBackend('cpu') },
  '@condense/thinet': thinet,
  'node:assert/strict': assert,
};

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

function compile(source: string): (modules: Record<string, unknown>, console: { log(s: string): void }) => Promise<void> {
  const code = source
    .replace(/import\s+(\w+)\s+from\s+'([^']+)';/g, (_, name, mod) => `const ${name} = modules[${JSON.stringify(mod)}];`)
    .replace(/import\s*\{([^}]*)\}\s*from\s+'([^']+)';/g, (_, names, mod) => `const {${names}} = modules[${JSON.stringify(mod)}];`);
  const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None } }).outputText;
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  return new AsyncFunction('modules', 'console', js);
}

describe('README examples run', () => {
  it('has an example', () => expect(blocks.length).toBeGreaterThanOrEqual(1));
  blocks.forEach((block, i) => {
    it(`example ${i + 1}`, async () => {
      const lines: string[] = [];
      await compile(block)(MODULES, { log: (s: string) => lines.push(s) });
      expect(lines.join('\n')).toMatch(/conv1: 8 -> 4 channels, reconstruction error/);
    });
  });
});
