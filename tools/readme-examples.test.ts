import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readmeExamples, runExample } from './readme-examples.js';

// Every package README's ```ts and ```js blocks run as written, each in a fresh temporary folder, with the
// imports bound to the workspace packages. To stay fast: TF.js on WASM, Fashion-MNIST capped at
// 256/128 examples, every fine-tune at one epoch. Packages that check their examples' output have
// their own readme.test.ts.
const root = new URL('../packages/', import.meta.url);
const OWN_TEST = new Set(['cli', 'ir', 'reconstruct', 'thinet']);
const packages = readdirSync(root).filter((p) => !OWN_TEST.has(p) && existsSync(new URL(`${p}/README.md`, root)));

type Factory = ((o?: Record<string, unknown>) => unknown) & Record<string, unknown>;

/** The module as the examples see it: the same exports, with the caps above. */
function capped(spec: string, mod: Record<string, unknown>): Record<string, unknown> {
  if (spec === '@condense/tfjs') return { ...mod, selectBackend: () => (mod.selectBackend as (b: string) => Promise<unknown>)('wasm') };
  if (spec === '@condense/datasets') {
    const load = mod.loadFashionMnist as (o?: { limit?: { train?: number; test?: number } }) => Promise<unknown>;
    return {
      ...mod,
      loadFashionMnist: (o: { limit?: { train?: number; test?: number } } = {}) =>
        load({ ...o, limit: { train: Math.min(o.limit?.train ?? 256, 256), test: Math.min(o.limit?.test ?? 128, 128) } }),
    };
  }
  if (spec === '@condense/core') {
    const finetune = mod.finetune as Factory;
    const one = Object.assign((o: Record<string, unknown> = {}) => finetune({ ...o, epochs: Math.min(Number(o.epochs ?? 1), 1) }), finetune);
    return { ...mod, finetune: one };
  }
  return mod;
}

async function modulesFor(imports: string[]): Promise<Record<string, unknown>> {
  const tfjs = (await import('@condense/tfjs')) as { selectBackend(b: string): Promise<unknown> };
  await tfjs.selectBackend('wasm');
  const out: Record<string, unknown> = { 'node:assert/strict': assert };
  for (const spec of imports) if (!(spec in out)) out[spec] = capped(spec, (await import(spec)) as Record<string, unknown>);
  return out;
}

describe.each(packages)('%s README examples run', (pkg) => {
  const examples = readmeExamples(new URL(`${pkg}/README.md`, root));
  it('has a runnable example', () => expect(examples.length).toBeGreaterThan(0));
  for (const example of examples) {
    it(`example ${example.index}: ${example.title}`, async () => {
      const modules = await modulesFor(example.imports);
      const cwd = process.cwd();
      process.chdir(mkdtempSync(join(tmpdir(), 'condense-readme-')));
      try {
        await runExample(example, modules);
      } finally {
        process.chdir(cwd);
      }
    });
  }
});
