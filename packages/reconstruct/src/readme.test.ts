import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as ir from '@condense/ir';
import * as reconstruct from './index.js';

// The README's ```ts blocks run as written.
const MODULES: Record<string, unknown> = { '@condense/ir': ir, '@condense/reconstruct': reconstruct };

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

function compile(source: string): (modules: Record<string, unknown>, console: { log(s: unknown): void }) => Promise<void> {
  const code = source.replace(/import\s*\{([^}]*)\}\s*from\s+'([^']+)';/g, (_, names, mod) => `const {${names}} = modules[${JSON.stringify(mod)}];`);
  const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None } }).outputText;
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  return new AsyncFunction('modules', 'console', js);
}

describe('README examples run', () => {
  it('has an example', () => expect(blocks.length).toBeGreaterThanOrEqual(1));
  blocks.forEach((block, i) => {
    it(`example ${i + 1}`, async () => {
      const lines: string[] = [];
      await compile(block)(MODULES, { log: (s) => lines.push(String(s)) });
      expect(lines.join('\n')).toMatch(/fc1: output error [\d.]+% rounded to nearest, [\d.]+% with GPTQ; statistics \d+ bytes/);
      expect(lines.at(-1)).toBe('4');
    });
  });
});
