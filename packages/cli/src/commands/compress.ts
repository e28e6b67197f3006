import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { buildPipeline, buildReport, parseRecipe, writeReport, type PipelineResult, type Recipe } from '@condense/core';
import { parseMaxDrop } from '@condense/search';
import { stringify as toYaml } from 'yaml';
import { saveModel, tfjsRuntime } from '@condense/tfjs';
import { serializeGraph } from '@condense/ir';
import { writeFileAtomic } from '@condense/core';
import { loadData } from '../data.js';
import { UserError } from '../errors.js';
import { loadAnyModel } from '../models.js';
import { checkOutputDir, writeOutputDir } from '../output.js';
import { progressPrinter } from '../progress.js';
import { loadRegistry } from '../registry.js';
import { useBackend } from '../backend.js';
import { stageTable } from '../table.js';
import { intOption, type Command, type CommandContext } from './command.js';

export const compress: Command = {
  name: 'compress',
  summary: 'run a recipe on a model and write the compressed model and its report',
  usage: `condense compress --recipe R --model M --out DIR [options]
       condense compress --target T --model M --out DIR [options]

  --recipe R        YAML or JSON recipe (see \`condense schema\`)
  --model M         model.json (or its directory), a .cir IR file or a .cdz container
  --out DIR         output directory: model.json + shards, model.cdz when the recipe encodes,
                    model.cir, report.json, report.html, and recipe.yaml when a search chose it
  --target T        search per-layer budgets to a target: size=20x | bytes=200kB | macs=3x |
                    params=100k (a search.budget stage, then --epochs of fine-tuning; with
                    --recipe, sets the recipe's search.budget stages)
  --max-drop P      points of validation accuracy the search may lose (default 1)
  --epochs N        fine-tuning after the search, without --recipe (default 2)
  --workers N       search trials at once on worker threads (default: one per core)
  --queue URL       run the search trials on \`condense worker --queue URL\` processes (BullMQ)
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
    target: { type: 'string' },
    'max-drop': { type: 'string' },
    epochs: { type: 'string' },
    workers: { type: 'string' },
    queue: { type: 'string' },
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
    if ((!recipePath && !values.target) || !modelPath || !out) throw new UserError('compress needs --recipe or --target, and --model and --out');
    await checkOutputDir(out, Boolean(values.force), [modelPath, ...(recipePath ? [recipePath] : [])]);
    const { registry } = await loadRegistry();
    const recipeText = recipePath
      ? await readFile(recipePath, 'utf8').catch(() => {
          throw new UserError(`${recipePath}: cannot read the recipe`);
        })
      : undefined;
    const source = recipePath ?? '--target';
    const recipe = withSearchOptions(recipeText === undefined ? targetRecipe(values) : parseRecipe(recipeText, source), values, source);
    const run = buildPipeline(recipe, registry, source);
    const backend = await useBackend(values.backend as string | undefined);
    const graph = await loadAnyModel(modelPath);
    const { data, describe } = await loadData({ data: values.data as string | undefined, limitTrain: intOption(values, 'limit-train'), limitTest: intOption(values, 'limit-test') });
    const seed = intOption(values, 'seed') ?? 1;
    const runtime = tfjsRuntime();
    run.check({ data, runtime });
    print(`condense compress: ${graph.name} with ${recipe.name ?? source} (${run.stages.length} stages) on ${backend}; ${describe}`);
    const result = await run.run(graph, { data, runtime, seed, onEvent: progressPrinter(process.stderr, Boolean(values.quiet)) });
    const chosen = chosenRecipe(recipe, result);
    const files = await writeResult(out, result, { backend, recipe: chosen ? stringify(chosen) : (recipeText ?? stringify(recipe)) }, chosen);
    for (const s of result.stages.filter((st) => st.name === 'search.budget')) print(`\n${s.notes.join('\n')}`);
    print(`\n${stageTable(result.snapshots)}\n`);
    const verdict = maxDropVerdict(result);
    if (verdict) print(verdict);
    print(`wrote ${out}: ${files.join(', ')}`);
  },
};

/** The recipe `compress --target` runs: a search, then fine-tuning. */
function targetRecipe(values: CommandContext['values']): Recipe {
  const epochs = intOption(values, 'epochs') ?? 2;
  return { name: `search ${String(values.target)}`, stages: [{ plugin: 'search.budget', options: {} }, ...(epochs > 0 ? [{ plugin: 'finetune', options: { epochs } }] : [])] };
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
  const stages = recipe.stages.flatMap((s, i) => (s.plugin === 'search.budget' ? ((result.stages[i].details?.chosenRecipe as Recipe | undefined)?.stages ?? []) : [s]));
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
  return `max drop ${maxDrop} points: ${drop <= maxDrop ? 'met' : 'MISSED'} on the test data (accuracy ${pct(first.accuracy)} -> ${pct(last.accuracy)}, ${drop.toFixed(2)} points)`;
}

/** A recipe as YAML, in the `- plugin: { options }` form `parseRecipe` reads. */
function stringify(recipe: Recipe): string {
  const doc = { ...(recipe.name ? { name: recipe.name } : {}), ...(recipe.description ? { description: recipe.description } : {}), stages: recipe.stages.map((s) => (Object.keys(s.options).length ? { [s.plugin]: s.options } : s.plugin)) };
  return toYaml(doc);
}

/** Everything a run produces, written atomically into `out`; `chosen` (a searched recipe) as recipe.yaml. */
export async function writeResult(out: string, result: PipelineResult, meta: { backend: string; recipe?: string; title?: string }, chosen?: Recipe): Promise<string[]> {
  const files: string[] = [];
  await writeOutputDir(out, async (dir) => {
    if (chosen) {
      await writeFileAtomic(join(dir, 'recipe.yaml'), stringify(chosen));
      files.push('recipe.yaml');
    }
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
