import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPipeline, parseRecipe, type PipelineResult } from '@condense/core';
import { lenet300100 } from '@condense/ir';
import { evaluate, saveModel, tfjsRuntime, train } from '@condense/tfjs';
import { readContainer } from '@condense/codec';
import { useBackend } from '../backend.js';
import { loadData } from '../data.js';
import { checkNotAnInput } from '../output.js';
import { UserError } from '../errors.js';
import { progressPrinter, bar } from '../progress.js';
import { loadRegistry } from '../registry.js';
import { stageTable } from '../table.js';
import { intOption, type Command } from './command.js';
import { writeResult } from './compress.js';

/** The recipe shipped in the package's recipes/ (one level above dist/, two above src/commands/). */
const here = dirname(fileURLToPath(import.meta.url));
export const DEMO_RECIPE = [join(here, '..', 'recipes'), join(here, '..', '..', 'recipes')]
  .map((d) => join(d, 'deep-compression-mlp.yaml'))
  .find((f) => existsSync(f)) as string;

export interface DemoOptions {
  out: string;
  data?: string;
  quick?: boolean;
  epochs?: number;
  seed?: number;
  backend?: string;
  force?: boolean;
  quiet?: boolean;
}

export interface DemoResult {
  result: PipelineResult;
  baselineAccuracy: number;
  /** Accuracy of the model decoded from the container file on disk. */
  decodedAccuracy: number;
  containerBytes: number;
  wallMs: number;
  peakRssMiB: number;
}

/** A directory the demo may replace without --force: missing, empty, or an earlier demo's output. */
async function ownsOutput(out: string): Promise<boolean> {
  const { readdir } = await import('node:fs/promises');
  const entries = await readdir(out).catch(() => [] as string[]);
  return entries.length === 0 || (entries.includes('report.json') && entries.includes('model.cdz'));
}

export async function runDemo(o: DemoOptions, print: (s: string) => void): Promise<DemoResult> {
  const t0 = performance.now();
  let peak = process.memoryUsage().rss;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
  try {
    if (!o.force && !(await ownsOutput(o.out))) throw new UserError(`--out ${o.out} is not empty and not an earlier demo's output; pass --force to replace it`);
    const backend = await useBackend(o.backend);
    const { data, describe, source } = await loadData({ data: o.data, limitTrain: o.quick ? 2000 : undefined, limitTest: o.quick ? 500 : undefined });
    await checkNotAnInput(o.out, '--out', [{ what: 'data', path: source.dir }]);
    const seed = o.seed ?? 1;
    const epochs = o.epochs ?? (o.quick ? 2 : 10);
    print(`condense demo: LeNet-300-100, Deep Compression, on ${backend}; ${describe}`);

    const graph = lenet300100(seed);
    const progress = progressPrinter(process.stderr, Boolean(o.quiet));
    progress({ type: 'stageStart', index: 0, name: `train the baseline (${epochs} epochs)`, total: 0 });
    await train(
      graph,
      { x: data.train!.images, y: data.train!.labels, count: data.train!.count, shape: [...data.train!.shape] },
      {
        epochs,
        batchSize: 128,
        learningRate: 1e-3,
        seed,
        onEvent: (e) => {
          if (e.type === 'epochEnd')
            progress({ type: 'epoch', index: 0, epoch: e.epoch + 1, epochs, loss: e.loss ?? NaN, accuracy: e.accuracy, samplesPerSec: e.samplesPerSec });
        },
      },
    );

    const { registry } = await loadRegistry();
    const recipeText = await readFile(DEMO_RECIPE, 'utf8');
    const recipe = parseRecipe(recipeText, DEMO_RECIPE);
    if (o.quick) for (const s of recipe.stages) quicken(s.options);
    const result = await buildPipeline(recipe, registry, DEMO_RECIPE).run(graph, { data, runtime: tfjsRuntime(), seed, onEvent: progress });
    await writeResult(o.out, result, { backend, recipe: recipeText, title: 'condense demo: Deep Compression of LeNet-300-100' });
    // The trained model before compression, for trying other recipes and targets on it.
    await saveModel(result.original, join(o.out, 'trained'));

    const container = join(o.out, 'model.cdz');
    const decoded = await readContainer(container);
    const test = data.test!;
    const decodedAccuracy = (await evaluate(decoded, { x: test.images, y: test.labels, count: test.count, shape: [...test.shape] }, { batchSize: 512 }))
      .accuracy;
    const containerBytes = (await stat(container)).size;
    const baselineAccuracy = result.snapshots[0].accuracy ?? NaN;
    return { result, baselineAccuracy, decodedAccuracy, containerBytes, wallMs: performance.now() - t0, peakRssMiB: peak / 2 ** 20 };
  } finally {
    clearInterval(sample);
  }
}

/** --quick: one fine-tuning epoch and one pruning round wherever a stage trains. */
function quicken(options: Record<string, unknown>) {
  if (typeof options.epochs === 'number') options.epochs = 1;
  if (typeof options.rounds === 'number') options.rounds = 1;
  const ft = options.finetune as Record<string, unknown> | undefined;
  if (ft && typeof ft.epochs === 'number') ft.epochs = 1;
}

export const demo: Command = {
  name: 'demo',
  summary: 'train LeNet-300-100 on Fashion-MNIST, Deep-Compress it, print the table, write demo-out/',
  usage: `condense demo [options]

  Trains LeNet-300-100 (embedded Fashion-MNIST subset, or the full data when found), runs the
  Deep Compression recipe (prune with retraining, k-means 6 bits, centroid training, encoding),
  prints the stage table, writes the container, a stock model.json, report.json and report.html,
  and checks the model decoded from the container file has the accuracy it printed.

  --out DIR      output directory (default demo-out)
  --data DIR     Fashion-MNIST directory
  --epochs N     baseline training epochs (default 10)
  --quick        a small, fast run (2,000 training examples)
  --seed N       (default 1)
  --backend B    node | wasm | cpu
  --force        replace a non-empty --out that is not an earlier demo's output
  --quiet        no progress output`,
  options: {
    out: { type: 'string', default: 'demo-out' },
    data: { type: 'string' },
    epochs: { type: 'string' },
    quick: { type: 'boolean' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    force: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  async run({ values, print }) {
    const r = await runDemo(
      {
        out: values.out as string,
        data: values.data as string | undefined,
        quick: Boolean(values.quick),
        epochs: intOption(values, 'epochs'),
        seed: intOption(values, 'seed'),
        backend: values.backend as string | undefined,
        force: Boolean(values.force),
        quiet: Boolean(values.quiet),
      },
      print,
    );
    const last = r.result.snapshots.at(-1)!;
    const ratio = r.result.snapshots[0].float32Bytes / r.containerBytes;
    print(`\n${stageTable(r.result.snapshots)}\n`);
    print(
      `container ${values.out}/model.cdz: ${r.containerBytes.toLocaleString('en-US')} bytes, ${ratio.toFixed(1)}x smaller than the float32 weights ${bar(Math.min(1, ratio / 50), 10)}`,
    );
    print(
      `accuracy: baseline ${(r.baselineAccuracy * 100).toFixed(2)}%, compressed ${((last.accuracy ?? NaN) * 100).toFixed(2)}%, decoded from the file ${(r.decodedAccuracy * 100).toFixed(2)}%`,
    );
    if (last.accuracy !== undefined && Math.abs(r.decodedAccuracy - last.accuracy) > 1e-9) {
      throw new UserError(`the model decoded from ${values.out}/model.cdz scores ${r.decodedAccuracy}, not the ${last.accuracy} printed`);
    }
    print(`check: the decoded container reproduces the printed accuracy exactly`);
    print(`wall time ${(r.wallMs / 1000).toFixed(1)} s, peak memory ${Math.round(r.peakRssMiB)} MiB; report: ${values.out}/report.html`);
  },
};
