import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { buildPipeline, buildReport, parseRecipe, writeReport, type PipelineResult, type Recipe } from '@condense/core';
import { exists, writeFileAtomic } from '@condense/files';
import { saveModel, tfjsRuntime } from '@condense/tfjs';
import { serializeGraph } from '@condense/ir';
import { dataMismatch, loadData } from '../data.js';
import { UserError } from '../errors.js';
import { loadAnyModel, modelInput } from '../models.js';
import { checkNotAnInput, checkOutputDir, writeOutputDir, type Input } from '../output.js';
import { progressPrinter } from '../progress.js';
import { loadRegistry, pluginOptions, type NamedPlugin } from '../registry.js';
import { useBackend } from '../backend.js';
import { stageTable } from '../table.js';
import { intOption, maxElementsOption, type Command } from './command.js';

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
  --plugin P        load a plugin module or package folder (repeatable); installed plugin
                    packages are found in the project that installed condense, never in the
                    working directory
  --max-elements N  refuse a container declaring more than N weights (default 67108864)
  --force           replace a non-empty --out (never one holding an input: model, recipe,
                    data, a teacher or any file a stage names)
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
    plugin: { type: 'string', multiple: true },
    'max-elements': { type: 'string' },
    force: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  async run({ values, print }) {
    const recipePath = values.recipe as string | undefined;
    const modelPath = values.model as string | undefined;
    const out = values.out as string | undefined;
    if (!recipePath || !modelPath || !out) throw new UserError('compress needs --recipe, --model and --out');
    const recipeText = await readFile(recipePath, 'utf8').catch(() => {
      throw new UserError(`${recipePath}: cannot read the recipe`);
    });
    const recipe = parseRecipe(recipeText, recipePath);
    const plugins = [...pluginOptions(values), ...recipePlugins(recipe, recipePath)];
    const inputs: Input[] = [
      { what: 'model', path: modelInput(modelPath) },
      { what: 'recipe', path: recipePath },
      ...(typeof values.data === 'string' ? [{ what: 'data', path: values.data }] : []),
      ...plugins.map((p) => ({ what: 'plugin', path: p.path })),
      ...(await stageFiles(recipe, recipePath)),
    ];
    await checkOutputDir(out, Boolean(values.force), inputs);
    const { registry } = await loadRegistry(plugins);
    const run = buildPipeline(recipe, registry, recipePath);
    const backend = await useBackend(values.backend as string | undefined);
    const graph = await loadAnyModel(modelPath, { maxElements: maxElementsOption(values) });
    const loaded = await loadData({ data: values.data as string | undefined, limitTrain: intOption(values, 'limit-train'), limitTest: intOption(values, 'limit-test') });
    // The data folder actually read (FASHION_MNIST_DIR or a default one included).
    await checkNotAnInput(out, '--out', [...inputs, { what: 'data', path: loaded.source.dir }]);
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

/** A recipe's `plugins:` entries, relative to the recipe file. */
function recipePlugins(recipe: Recipe, recipePath: string): NamedPlugin[] {
  return (recipe.plugins ?? []).map((p, i) => ({ path: resolve(dirname(recipePath), p), where: `${recipePath}: plugins[${i}]` }));
}

/** Files a recipe's stages name (a distillation teacher, ...): any string option that is an existing path. */
async function stageFiles(recipe: Recipe, recipePath: string): Promise<Input[]> {
  const found: Input[] = [];
  const visit = async (v: unknown, what: string): Promise<void> => {
    if (typeof v === 'string') {
      if (v !== '' && (await exists(v).catch(() => false))) found.push({ what, path: v });
    } else if (Array.isArray(v)) {
      for (const x of v) await visit(x, what);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) await visit(x, `${what}.${k}`);
    }
  };
  for (const [i, s] of recipe.stages.entries()) await visit(s.options, `${recipePath} stage ${i + 1} (${s.plugin}) option`);
  return found;
}

/** Everything a run produces, written atomically into `out`. */
export async function writeResult(out: string, result: PipelineResult, meta: { backend: string; recipe?: string; title?: string }): Promise<string[]> {
  const files: string[] = [];
  // Shard names unlike the current output's, so its model.json never points at a new shard while files move in.
  const avoidNames = await readdir(out).catch(() => [] as string[]);
  await writeOutputDir(out, async (dir) => {
    const saved = await saveModel(result.graph, dir, { avoidNames });
    files.push(...saved.files.map((f) => f.split('/').at(-1) as string));
    await writeFileAtomic(join(dir, 'model.cir'), serializeGraph(result.graph));
    files.push('model.cir');
    for (const [name, bytes] of Object.entries(result.artifacts)) {
      if (basename(name) !== name || name.startsWith('.')) throw new UserError(`a stage produced the artifact '${name}', which is not a plain file name`);
      await writeFileAtomic(join(dir, name), bytes);
      files.push(name);
    }
    await writeReport(dir, buildReport(result, meta));
    files.push('report.json', 'report.html');
  });
  return files;
}
