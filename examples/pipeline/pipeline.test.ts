import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPipeline, createRegistry, parseRecipe, pipeline } from '@condense/core';
import { FASHION_MNIST_EMBEDDED_DIR } from '@condense/datasets';
import { lenet300100 } from '@condense/ir';
import { saveModel } from '@condense/tfjs';
import { main } from '@condense/cli';
import * as codec from '@condense/codec';
import * as distill from '@condense/distill';
import * as prune from '@condense/prune';
import * as quantize from '@condense/quantize';
import * as sparsity from '@condense/sparsity';
import * as thinet from '@condense/thinet';
import { slimAndDeepCompress, thinAndDeepCompressLenet5 } from './compress.mjs';

const recipePath = new URL('./recipe.yaml', import.meta.url).pathname;
const chains = [
  { recipe: recipePath, code: slimAndDeepCompress, packages: ['codec', 'distill', 'prune', 'quantize', 'sparsity'] },
  {
    recipe: new URL('./recipe-lenet5.yaml', import.meta.url).pathname,
    code: thinAndDeepCompressLenet5,
    packages: ['codec', 'distill', 'prune', 'quantize', 'thinet'],
  },
];

const stagesOf = (p: ReturnType<typeof pipeline>) => p.stages.map((s) => ({ name: s.name, options: s.options }));

describe('examples/pipeline', () => {
  for (const chain of chains) {
    it(`${chain.recipe.split('/').pop()} and its code describe the same pipeline, stage by stage, defaults included`, async () => {
      const registry = createRegistry().register(
        ...codec.plugins,
        ...distill.plugins,
        ...prune.plugins,
        ...quantize.plugins,
        ...sparsity.plugins,
        ...thinet.plugins,
      );
      const fromRecipe = buildPipeline(parseRecipe(await readFile(chain.recipe, 'utf8'), chain.recipe), registry, chain.recipe);
      expect(stagesOf(pipeline(chain.code()))).toEqual(stagesOf(fromRecipe));
      const packages = new Set(fromRecipe.stages.map((s) => s.name.split('.')[0]).filter((p) => p !== 'finetune'));
      expect([...packages].sort()).toEqual(chain.packages);
    });
  }

  it('runs from the condense CLI and writes a container', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'condense-pipeline-'));
    await saveModel(lenet300100(1), join(dir, 'model'));
    const out: string[] = [];
    const code = await main(
      [
        'compress',
        '--recipe',
        recipePath,
        '--model',
        join(dir, 'model'),
        '--out',
        join(dir, 'out'),
        '--data',
        FASHION_MNIST_EMBEDDED_DIR,
        '--limit-train',
        '1000',
        '--limit-test',
        '500',
        '--quiet',
      ],
      (s) => out.push(s),
      (s) => out.push(s),
    );
    expect(code, out.join('\n')).toBe(0);
    expect(await readdir(join(dir, 'out'))).toEqual(expect.arrayContaining(['model.cdz', 'report.json']));
    const report = JSON.parse(await readFile(join(dir, 'out', 'report.json'), 'utf8'));
    expect(report.stages.map((s: { stage: string }) => s.stage)).toEqual([
      'input',
      'distill.kd',
      'sparsity.sss',
      'finetune',
      'prune.magnitude',
      'finetune',
      'quantize.kmeans',
      'quantize.float16',
      'finetune',
      'codec.deepCompression',
    ]);
    expect(report.stages.at(-1).accuracy).toBeGreaterThan(0.5);
  });
});
