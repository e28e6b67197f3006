import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRegistry, parseRecipe, buildPipeline, registerModule } from '@condense/core';
import { cost, lenet300100 } from '@condense/ir';
import { saveModel } from '@condense/tfjs';
import { main } from '@condense/cli';
import * as plugin from './index.js';

/** The Fashion-MNIST subset the datasets package ships. */
const FASHION_MNIST = new URL('../../../packages/datasets/data/fashion-mnist-subset', import.meta.url).pathname;

const recipe = new URL('../recipe.yaml', import.meta.url).pathname;

describe('condense-plugin-random', () => {
  it('registers both plugins through the public registry API', () => {
    const registry = createRegistry();
    expect(registerModule(registry, plugin).sort()).toEqual(['random.channels', 'random.prune']);
  });

  it('removes channels for real and prunes at random from a recipe', async () => {
    const registry = createRegistry();
    plugin.register(registry);
    const text = 'stages:\n  - random.channels: { fraction: 0.5 }\n  - random.prune: { sparsity: 0.5, seed: 3 }';
    const result = await buildPipeline(parseRecipe(text), registry).run(lenet300100());
    expect(result.graph.params.get('fc1/kernel')!.shape).toEqual([784, 150]);
    expect(result.graph.params.get('fc2/kernel')!.shape).toEqual([150, 50]);
    const t = cost(result.graph).totals;
    expect(t.params).toBeLessThan(cost(lenet300100()).totals.params / 2);
    const k = result.graph.params.get('fc1/kernel')!;
    expect(k.data.filter((v) => v === 0).length).toBe(Math.round(0.5 * k.data.length));
  });

  it('runs from the condense CLI with the built-in finetune on Fashion-MNIST', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'condense-example-'));
    await saveModel(lenet300100(), join(dir, 'model'));
    const out: string[] = [];
    const code = await main(
      [
        'compress',
        '--recipe',
        recipe,
        '--model',
        join(dir, 'model'),
        '--out',
        join(dir, 'out'),
        '--data',
        FASHION_MNIST,
        '--limit-train',
        '1000',
        '--limit-test',
        '500',
        '--backend',
        'cpu',
        '--quiet',
      ],
      (s) => out.push(s),
      (s) => out.push(s),
    );
    expect(code, out.join('\n')).toBe(0);
    const files = await readdir(join(dir, 'out'));
    expect(files).toEqual(expect.arrayContaining(['model.json', 'model.cir', 'report.json', 'report.html']));
    const report = JSON.parse(await readFile(join(dir, 'out', 'report.json'), 'utf8'));
    expect(report.stages.map((s: { stage: string }) => s.stage)).toEqual(['input', 'random.channels', 'random.prune', 'finetune']);
    expect(report.stages[3].accuracy).toBeGreaterThan(0.3);
  });

  it('refuses an impossible order before any work, naming both stages', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'condense-example-'));
    await saveModel(lenet300100(), join(dir, 'model'));
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'stages:\n  - codec.deepCompression: {}\n  - random.prune: { sparsity: 0.5 }\n');
    const err: string[] = [];
    const code = await main(
      ['compress', '--recipe', bad, '--model', join(dir, 'model'), '--out', join(dir, 'out'), '--backend', 'cpu'],
      () => {},
      (s) => err.push(s),
    );
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/stage 2 \(random\.prune\).*stage 1 \(codec\.deepCompression\)/);
  });
});
