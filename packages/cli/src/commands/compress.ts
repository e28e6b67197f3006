import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildPipeline, buildReport, parseRecipe, writeReport, type PipelineResult } from '@condense/core';
import { saveModel, tfjsRuntime } from '@condense/tfjs';
import { serializeGraph } from '@condense/ir';
import { writeFileAtomic } from '@condense/core';
import { loadRunData } from '../data.js';
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
  --data D          training data: a folder of images (one subfolder per class gives
                    labels; a flat folder is unlabeled: fine-tunes recover label-free
                    against the original model), .npy / .npz, a .csv of numbers (an extra
                    last column is the label), an IDX file or a Fashion-MNIST directory.
                    Without --data (or a recipe 'data' section) the run uses no data:
                    fine for data-free recipes (weight-level methods, the container)
  --val V           validation data, same forms
  --test T          test data, same forms: every snapshot is evaluated on it
  --limit N         read the first N examples of each set (--limit-train, --limit-test per set)
  --batch-size N    examples per batch in every fine-tune and evaluation
  --input-range R   what pixel values 0..255 map to: 0,1 (default) | -1,1 | 0,255
  --mean M --std S  per-channel normalisation after the range, e.g. --mean 0.485,0.456,0.406
  --calibration N   examples calibration-only stages read (default: all of a set in memory)
  --seed N          seed for shuffling and initialisation (default 1)
  --backend B       node | wasm | cpu (default: best available; also CONDENSE_BACKEND)
  --force           replace a non-empty --out
  --quiet           no progress output`,
  options: {
    recipe: { type: 'string' },
    model: { type: 'string' },
    out: { type: 'string' },
    data: { type: 'string' },
    val: { type: 'string' },
    test: { type: 'string' },
    limit: { type: 'string' },
    'limit-train': { type: 'string' },
    'limit-test': { type: 'string' },
    'batch-size': { type: 'string' },
    'input-range': { type: 'string' },
    mean: { type: 'string' },
    std: { type: 'string' },
    calibration: { type: 'string' },
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
    const str = (k: string) => values[k] as string | undefined;
    const { data, describe } = await loadRunData(
      { data: str('data'), val: str('val'), test: str('test'), limit: intOption(values, 'limit'), limitTrain: intOption(values, 'limit-train'), limitTest: intOption(values, 'limit-test'), inputRange: str('input-range'), mean: str('mean'), std: str('std'), recipe: recipe.data, recipeDir: dirname(recipePath) },
      graph,
    );
    const seed = intOption(values, 'seed') ?? 1;
    const batchSize = intOption(values, 'batch-size') ?? recipe.data?.batchSize;
    const calibration = intOption(values, 'calibration') ?? recipe.data?.calibration;
    const runtime = tfjsRuntime(batchSize ? { evaluateBatchSize: batchSize } : {});
    const ctx = { data, runtime, seed, task: recipe.task, ...(batchSize ? { batchSize } : {}), ...(calibration ? { calibration } : {}) };
    run.check(ctx);
    print(`condense compress: ${graph.name} with ${recipe.name ?? recipePath} (${run.stages.length} stages) on ${backend}; ${describe}`);
    const result = await run.run(graph, { ...ctx, onEvent: progressPrinter(process.stderr, Boolean(values.quiet)) });
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
