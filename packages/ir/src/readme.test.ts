import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as ir from './index.js';

// Every ```ts block of the README is a runnable example: imports are bound to these modules.
const MODULES: Record<string, unknown> = { '@condense/ir': ir, 'node:assert/strict': assert };

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

/** The block as a function of `modules`: imports become destructuring, types are stripped. */
function compile(source: string): (modules: Record<string, unknown>) => void {
  const code = source
    .replace(/import\s+(\w+)\s+from\s+'([^']+)';/g, (_, name, mod) => `const ${name} = modules[${JSON.stringify(mod)}];`)
    .replace(/import\s*\{([^}]*)\}\s*from\s+'([^']+)';/g, (_, names, mod) => `const {${names}} = modules[${JSON.stringify(mod)}];`);
  const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None } }).outputText;
  return new Function('modules', js) as (modules: Record<string, unknown>) => void;
}

describe('README examples run', () => {
  it('has examples', () => expect(blocks.length).toBeGreaterThanOrEqual(3));
  blocks.forEach((block, i) => {
    const first = block.split('\n').find((l) => l.trim() !== '' && !l.startsWith('import')) ?? '';
    it(`example ${i + 1}: ${first.slice(0, 60)}`, () => {
      for (const [, mod] of block.matchAll(/from\s+'([^']+)'/g)) expect(MODULES, `module ${mod}`).toHaveProperty([mod]);
      compile(block)(MODULES);
    });
  });
});
