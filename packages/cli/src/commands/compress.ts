import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPipeline, buildReport, parseRecipe, writeReport, type PipelineResult } from '@condense/core';
import { saveModel, tfjsRuntime } from '@condense/tfjs';
import { serializeGraph } from '@condense/ir';
import { writeFileAtomic } from '@condense/core';
import { dataMismatch, loadData } from '../data.js';
import { UserError } from '../errors.js';
import { loadAnyModel } from '../models.js';
import { checkOutputDir, writeOutputDir } from '../output.js';
import { progressPrinter } from '../progress.js';
import { loadRegistry } from '../registry.js';
import { useBackend } from '../backend.js';
import { stageTable } from '../table.js';
import { intOption, type Command } from './command.js';

export const compress: Command = {
  name: 'compress',
  summary: 'run a recipe on a model and write the compressed model and its report',
  usage: `condense compress --recipe R --model M --out DIR [options]

  --recipe R        YAML or JSON recipe (see \`condense schema\`)
  --model M         model.json (or its directory), a .cir IR file or a .cdz container
  --out DIR         output directory: model.json + shards, model.cdz when the recipe encodes,
                    model.cir, report.json, report.html
  --data D          Fashion-MNIST directory (default: FASHION_MNIST_DIR,
                    /usr/share/datasets/fashion-mnist, then the embedded subset)
  --limit-train N   use the first N training examples
  --limit-test N    use the first N test examples
  --seed N          seed for shuffling and initialisation (default 1)
  --backend B       node | wasm | cpu (default: best available; also CONDENSE_BACKEND)
  --force           replace a non-empty --out
  --quiet           no progress output`,
  options: {
    recipe: { type: 'string' },
    model: { type: 'string' },
    out: { type: 'string' },
    data: { type: 'string' },
    'limit-train': { type: 'string' },
    'limit-test': { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    force: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  async run({ values, print }) {
    const recipePath = values.recipe as string | undefined;
    const modelPath = values.model as string | undefined;
    const out = values.out as string | undefined;
    if (!recipePath || !modelPath || !out) throw new UserError('compress needs --recipe, --model and --out');
    await checkOutputDir(out, Boolean(values.force), [modelPath, recipePath]);
    const { registry } = await loadRegistry();
    const recipeText = await readFile(recipePath, 'utf8').catch(() => {
      throw new UserError(`${recipePath}: cannot read the recipe`);
    });
    const recipe = parseRecipe(recipeText, recipePath);
    const run = buildPipeline(recipe, registry, recipePath);
    const backend = await useBackend(values.backend as string | undefined);
    const graph = await loadAnyModel(modelPath);
    const loaded = await loadData({ data: values.data as string | undefined, limitTrain: intOption(values, 'limit-train'), limitTest: intOption(values, 'limit-test') });
    // A model the dataset cannot feed (most graph models) runs its stages without data: no accuracy, no fine-tuning.
    const mismatch = dataMismatch(graph, loaded.data);
    const data = mismatch ? {} : loaded.data;
    const describe = mismatch ? `no data (${mismatch}: accuracy is not measured and stages that need data cannot run)` : loaded.describe;
    const seed = intOption(values, 'seed') ?? 1;
    const runtime = tfjsRuntime();
    run.check({ data, runtime });
    print(`condense compress: ${graph.name} with ${recipe.name ?? recipePath} (${run.stages.length} stages) on ${backend}; ${describe}`);
    const result = await run.run(graph, { data, runtime, seed, onEvent: progressPrinter(process.stderr, Boolean(values.quiet)) });
    const files = await writeResult(out, result, { backend, recipe: recipeText });
    print(`\n${stageTable(result.snapshots)}\n`);
    print(`wrote ${out}: ${files.join(', ')}`);
  },
};

/** Everything a run produces, written atomically into `out`. */
export async function writeResult(out: string, result: PipelineResult, meta: { backend: string; recipe?: string; title?: string }): Promise<string[]> {
  const files: string[] = [];
  await writeOutputDir(out, async (dir) => {
    const saved = await saveModel(result.graph, dir);
    files.push(...saved.files.map((f) => f.split('/').at(-1) as string));
    await writeFileAtomic(join(dir, 'model.cir'), serializeGraph(result.graph));
    files.push('model.cir');
    for (const [name, bytes] of Object.entries(result.artifacts)) {
      await writeFileAtomic(join(dir, name), bytes);
      files.push(name);
    }
    await writeReport(dir, buildReport(result, meta));
    files.push('report.json', 'report.html');
  });
  return files;
}
