import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { buildPipeline, buildReport, parseRecipe, writeReport, type PipelineResult, type Recipe, type WrittenModel } from '@condense/core';
import { exists, writeFileAtomic } from '@condense/files';
import { parseMaxDrop, parseTarget } from '@condense/search';
import { saveModel, tfjsRuntime } from '@condense/tfjs';
import { serializeGraph } from '@condense/ir';
import { stringify as toYaml } from 'yaml';
import { loadRunData } from '../data.js';
import { UserError } from '../errors.js';
import { loadAnyModel, modelInput } from '../models.js';
import { checkNotAnInput, checkOutputDir, writeOutputDir, type Input } from '../output.js';
import { progressPrinter } from '../progress.js';
import { loadRegistry, pluginOptions, type NamedPlugin } from '../registry.js';
import { useBackend } from '../backend.js';
import { stageTable, writtenSummary } from '../table.js';
import { intOption, maxElementsOption, type Command, type CommandContext } from './command.js';

export const compress: Command = {
  name: 'compress',
  summary: 'run a recipe on a model and write the compressed model and its report',
  usage: `condense compress (--recipe R | --target T) --model M --out DIR [options]

  --recipe R        YAML or JSON recipe (see \`condense schema\`)
  --model M         model.json (or its directory), a .cir IR file or a .cdz container
  --out DIR         output directory: model.json + shards, model.cdz when the recipe encodes,
                    model.cir, report.json, report.html, and recipe.yaml when a search chose it
  --target T        search per-layer budgets to a target: size=20x | bytes=200kB | macs=3x |
                    params=100k | latency=2x (a search.budget stage, then --epochs of
                    fine-tuning, and for size/bytes the container model.cdz, which stores
                    what the target counts; with --recipe, sets its search.budget stages)
  --max-drop P      points of validation accuracy the search may lose (default 1)
  --epochs N        fine-tuning after the search, without --recipe (default 2)
  --workers N       search trials at once on worker threads (default: one per core)
  --queue URL       run the search trials on \`condense worker --queue URL\` processes (BullMQ)
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
  --plugin P        load a plugin module or package folder (repeatable); installed plugin
                    packages are found in the project that installed condense, never in the
                    working directory
  --max-elements N  refuse a container declaring more than N weights (default 67108864)
  --force           replace a non-empty --out (never one holding an input: model, recipe,
                    data, a teacher or any file a stage names)
  --quiet           no progress output`,
  options: {
    recipe: { type: 'string' },
    queue: { type: 'string' },
    workers: { type: 'string' },
    epochs: { type: 'string' },
    'max-drop': { type: 'string' },
    target: { type: 'string' },
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
    plugin: { type: 'string', multiple: true },
    'max-elements': { type: 'string' },
    force: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  async run({ values, print }) {
    const recipePath = values.recipe as string | undefined;
    const modelPath = values.model as string | undefined;
    const out = values.out as string | undefined;
    if ((!recipePath && !values.target) || !modelPath || !out) throw new UserError('compress needs --recipe or --target, and --model and --out');
    const recipeText = recipePath
      ? await readFile(recipePath, 'utf8').catch(() => {
          throw new UserError(`${recipePath}: cannot read the recipe`);
        })
      : undefined;
    const source = recipePath ?? '--target';
    const recipe = withSearchOptions(recipeText === undefined ? targetRecipe(values) : parseRecipe(recipeText, source), values, source);
    const recipeDir = recipePath ? dirname(recipePath) : '.';
    const plugins = [...pluginOptions(values), ...recipePlugins(recipe, recipeDir, source)];
    const inputs: Input[] = [
      { what: 'model', path: modelInput(modelPath) },
      ...(recipePath ? [{ what: 'recipe', path: recipePath }] : []),
      ...(['data', 'val', 'test'] as const).flatMap((k) => (typeof values[k] === 'string' ? [{ what: 'data', path: values[k] as string }] : [])),
      ...plugins.map((p) => ({ what: 'plugin', path: p.path })),
      ...(await stageFiles(recipe, source)),
    ];
    await checkOutputDir(out, Boolean(values.force), inputs);
    const { registry } = await loadRegistry(plugins);
    const run = buildPipeline(recipe, registry, source);
    const backend = await useBackend(values.backend as string | undefined);
    const graph = await loadAnyModel(modelPath, { maxElements: maxElementsOption(values) });
    const str = (k: string) => values[k] as string | undefined;
    const { data, describe, paths } = await loadRunData(
      {
        data: str('data'),
        val: str('val'),
        test: str('test'),
        limit: intOption(values, 'limit'),
        limitTrain: intOption(values, 'limit-train'),
        limitTest: intOption(values, 'limit-test'),
        inputRange: str('input-range'),
        mean: str('mean'),
        std: str('std'),
        recipe: recipe.data,
        recipeDir,
      },
      graph,
    );
    // Every data file or folder actually read (the recipe's own data section included).
    await checkNotAnInput(out, '--out', [...inputs, ...paths.map((path) => ({ what: 'data', path }))]);
    const seed = intOption(values, 'seed') ?? 1;
    const batchSize = intOption(values, 'batch-size') ?? recipe.data?.batchSize;
    const calibration = intOption(values, 'calibration') ?? recipe.data?.calibration;
    const runtime = tfjsRuntime(batchSize ? { evaluateBatchSize: batchSize } : {});
    const ctx = { data, runtime, seed, task: recipe.task, ...(batchSize ? { batchSize } : {}), ...(calibration ? { calibration } : {}) };
    run.check(ctx, graph);
    print(`condense compress: ${graph.name} with ${recipe.name ?? source} (${run.stages.length} stages) on ${backend}; ${describe}`);
    const result = await run.run(graph, { ...ctx, onEvent: progressPrinter(process.stderr, Boolean(values.quiet)) });
    const chosen = chosenRecipe(recipe, result);
    const { files, written } = await writeResult(out, result, { backend, recipe: chosen ? stringify(chosen) : (recipeText ?? stringify(recipe)) }, chosen);
    for (const s of result.stages.filter((st) => st.name === 'search.budget')) print(`\n${s.notes.join('\n')}`);
    print(`\n${stageTable(result.snapshots)}\n`);
    print(writtenSummary(written, result.snapshots[0].float32Bytes));
    const verdict = maxDropVerdict(result);
    if (verdict) print(verdict);
    print(`wrote ${out}: ${files.join(', ')}`);
  },
};

/** A recipe's `plugins:` entries, relative to the recipe file. */
function recipePlugins(recipe: Recipe, recipeDir: string, source: string): NamedPlugin[] {
  return (recipe.plugins ?? []).map((p, i) => ({ path: resolve(recipeDir, p), where: `${source}: plugins[${i}]` }));
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

/**
 * The recipe `compress --target` runs: a search, then fine-tuning; for a size target also the
 * container, since the bytes the search counts (bit-packed codes, sparse zeros) are what
 * model.cdz stores, where stock model.json stores a byte or more per weight.
 */
function targetRecipe(values: CommandContext['values']): Recipe {
  const epochs = intOption(values, 'epochs') ?? 2;
  const sizeTarget = isBytesTarget(String(values.target));
  return {
    name: `search ${String(values.target)}`,
    stages: [
      { plugin: 'search.budget', options: {} },
      ...(epochs > 0 ? [{ plugin: 'finetune', options: { epochs } }] : []),
      ...(sizeTarget ? [{ plugin: 'codec.deepCompression', options: {} }] : []),
    ],
  };
}

/** Whether a target counts stored bytes (size=Nx, bytes=...); a malformed one is left for the search stage to refuse by name. */
function isBytesTarget(text: string): boolean {
  try {
    return parseTarget(text).metric === 'bytes';
  } catch {
    return false;
  }
}

/** The command line's --target, --max-drop, --workers and --queue, set on every search.budget stage. */
function withSearchOptions(recipe: Recipe, values: CommandContext['values'], source: string): Recipe {
  const searches = recipe.stages.filter((s) => s.plugin === 'search.budget');
  const given = ['target', 'max-drop', 'workers', 'queue'].filter((k) => values[k] !== undefined);
  if (searches.length === 0) {
    if (given.length) throw new UserError(`${source} has no search.budget stage for --${given.join(', --')}`);
    return recipe;
  }
  const set: Record<string, unknown> = { workers: intOption(values, 'workers') ?? availableParallelism() };
  if (values.target !== undefined) set.target = String(values.target);
  if (values['max-drop'] !== undefined) set.maxDrop = parseMaxDrop(String(values['max-drop'])) * 100;
  if (values.queue !== undefined) set.queue = String(values.queue);
  return { ...recipe, stages: recipe.stages.map((s) => (s.plugin === 'search.budget' ? { ...s, options: { ...s.options, ...set } } : s)) };
}

/** The recipe with each search.budget stage replaced by the stages it chose: runs again without searching. */
function chosenRecipe(recipe: Recipe, result: PipelineResult): Recipe | undefined {
  if (!recipe.stages.some((s) => s.plugin === 'search.budget')) return undefined;
  const stages = recipe.stages.flatMap((s, i) =>
    s.plugin === 'search.budget' ? ((result.stages[i].details?.chosenRecipe as Recipe | undefined)?.stages ?? []) : [s],
  );
  return { name: `${recipe.name ?? 'recipe'} (chosen by search.budget)`, stages };
}

/** Whether the final model kept within the searches' max drop on the test data. */
function maxDropVerdict(result: PipelineResult): string | undefined {
  const search = result.stages.find((s) => s.name === 'search.budget');
  const [first, last] = [result.snapshots[0], result.snapshots[result.snapshots.length - 1]];
  if (!search || first.accuracy === undefined || last.accuracy === undefined) return undefined;
  const maxDrop = (search.options as { maxDrop: number }).maxDrop;
  const drop = (first.accuracy - last.accuracy) * 100;
  const pct = (a: number) => `${(a * 100).toFixed(2)}%`;
  return `max drop ${maxDrop} points: ${drop <= maxDrop ? 'met' : 'MISSED'} on the test data (accuracy ${pct(first.accuracy)} -> ${pct(last.accuracy)}, ${drop >= 0 ? `${drop.toFixed(2)} points lost` : `${(-drop).toFixed(2)} points gained`})`;
}

/** A recipe as YAML, in the `- plugin: { options }` form `parseRecipe` reads. */
function stringify(recipe: Recipe): string {
  const doc = {
    ...(recipe.name ? { name: recipe.name } : {}),
    ...(recipe.description ? { description: recipe.description } : {}),
    stages: recipe.stages.map((s) => (Object.keys(s.options).length ? { [s.plugin]: s.options } : s.plugin)),
  };
  return toYaml(doc);
}

/** Everything a run produces, written atomically into `out`; `chosen` (a searched recipe) as recipe.yaml. */
export async function writeResult(
  out: string,
  result: PipelineResult,
  meta: { backend: string; recipe?: string; title?: string },
  chosen?: Recipe,
): Promise<{ files: string[]; written: WrittenModel }> {
  const files: string[] = [];
  let written: WrittenModel | undefined;
  // Shard names unlike the current output's, so its model.json never points at a new shard while files move in.
  const avoidNames = await readdir(out).catch(() => [] as string[]);
  await writeOutputDir(out, async (dir) => {
    if (chosen) {
      await writeFileAtomic(join(dir, 'recipe.yaml'), stringify(chosen));
      files.push('recipe.yaml');
    }
    const saved = await saveModel(result.graph, dir, { avoidNames });
    files.push(...saved.files.map((f) => f.split('/').at(-1) as string));
    written = { file: 'model.json', bytes: saved.weightBytes, weights: saved.encodings, notes: saved.notes };
    await writeFileAtomic(join(dir, 'model.cir'), serializeGraph(result.graph));
    files.push('model.cir');
    for (const [name, bytes] of Object.entries(result.artifacts)) {
      if (basename(name) !== name || name.startsWith('.')) throw new UserError(`a stage produced the artifact '${name}', which is not a plain file name`);
      await writeFileAtomic(join(dir, name), bytes);
      files.push(name);
    }
    await writeReport(dir, buildReport(result, { ...meta, written }));
    files.push('report.json', 'report.html');
  });
  return { files, written: written as WrittenModel };
}
