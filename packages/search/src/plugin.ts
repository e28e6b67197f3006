import { buildPipeline, definePlugin, finetuneSchema, imageSplit, Type, type Capability, type Registry, type Split, type StageContext } from '@condense/core';
import type { Graph } from '@condense/ir';
import { ensureBackend, type BackendChoice } from '@condense/tfjs';
import { fmt, searchBudget, type BudgetResult, type SearchEvent } from './budget.js';
import { inProcessRunner } from './host.js';
import { workerPool } from './pool.js';
import { queueRunner } from './queue.js';
import { DEFAULT_EXECUTORS, pluginRegistry } from './recipe-trial.js';
import { METHODS, type Method } from './space.js';
import { sliceOf } from './split.js';
import { parseTarget } from './target.js';
import type { TrialRunner } from './trial.js';

const BudgetOptions = Type.Object(
  {
    target: Type.String({
      description:
        "size=20x | bytes=200kB | macs=3x | params=100k (non-zero) | latency=2x (timed on the workers' backend); Nx is relative to the model before this stage",
    }),
    maxDrop: Type.Number({ minimum: 0, exclusiveMaximum: 100, default: 1, description: 'points of validation accuracy the result may lose' }),
    methods: Type.Optional(
      Type.Array(Type.Union(METHODS.map((m) => Type.Literal(m))), { description: 'default: prune + bits for size/bytes, prune for params, channels for macs' }),
    ),
    levels: Type.Optional(
      Type.Object(
        {
          prune: Type.Optional(Type.Array(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }), { description: 'sparsities tried per layer' })),
          bits: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 16 }), { description: 'k-means index bits tried per layer' })),
          channels: Type.Optional(
            Type.Array(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }), { description: 'fractions of channels tried per group' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    ops: Type.Optional(Type.Array(Type.String(), { description: 'op types searched (default dense, conv2d, depthwiseConv2d)' })),
    include: Type.Optional(Type.Array(Type.String())),
    exclude: Type.Optional(Type.Array(Type.String())),
    validation: Type.Optional(
      Type.Integer({ minimum: 1, description: 'training examples held out (the last ones) to measure trials on; default min(5000, a sixth of them)' }),
    ),
    samples: Type.Integer({ minimum: 1, default: 2000, description: 'validation examples per sensitivity / correction trial' }),
    steps: Type.Integer({ minimum: 0, default: 3, description: 'greedy correction steps with real measurements' }),
    latency: Type.Optional(
      Type.Object(
        { batch: Type.Integer({ minimum: 1, default: 32 }), runs: Type.Integer({ minimum: 1, default: 10 }), warmup: Type.Integer({ minimum: 0, default: 3 }) },
        { additionalProperties: false, description: 'latency targets: median of `runs` timed passes over one batch' },
      ),
    ),
    verify: Type.Optional(finetuneSchema({ description: 'fine-tune the chosen recipe in a verification trial (the rest of the training data)' })),
    workers: Type.Integer({ minimum: 0, default: 1, description: 'trials at once on worker threads (0 or 1: in this thread)' }),
    queue: Type.Optional(Type.String({ description: 'redis://HOST:PORT: run the trials on `condense worker` processes instead' })),
  },
  { additionalProperties: false },
);

type Options = (typeof BudgetOptions)['static'];

/** State the chosen stages leave, by method. */
const PROVIDES: Record<Method, Capability> = { prune: 'mask', bits: 'codebook', channels: 'structure' };

/** Where the trials run. */
async function openRunner(o: Options, backend: string): Promise<TrialRunner> {
  if (o.queue) return queueRunner({ url: o.queue });
  const init = { backend: backend as BackendChoice };
  if (o.workers > 1) return workerPool({ workers: o.workers, modules: [DEFAULT_EXECUTORS], init: { ...init, wasmThreads: 1 }, name: 'search' });
  return inProcessRunner({ modules: [DEFAULT_EXECUTORS], init });
}

/** The training data in memory as labelled images (the trials' data format). */
async function labelledImages(ctx: StageContext, graph: Graph): Promise<Split> {
  const set = imageSplit(await ctx.examples('train', graph), 'search.budget: training data');
  if (!set.labels) throw new Error('search.budget: the training data has no class labels; the search measures accuracy against them');
  return { images: set.images, labels: Uint8Array.from(set.labels), count: set.count, shape: set.shape };
}

/** Hold out the last `n` training examples for validation. */
function holdOut(train: Split, n: number | undefined): { validation: Split; rest: Split } {
  const count = Math.min(n ?? Math.min(5000, Math.floor(train.count / 6)), train.count - 1);
  if (count < 1) throw new Error(`search.budget: the training data has ${train.count} examples, too few to hold out validation data`);
  return { validation: sliceOf(train, train.count - count, train.count), rest: sliceOf(train, 0, train.count - count) };
}

/** Trial progress as pipeline progress events. */
function progress(ctx: StageContext): (e: SearchEvent) => void {
  let label = 'search';
  return (e) => {
    if (e.type === 'phase') label = `search: ${e.phase}`;
    else if (e.type === 'trialFinished') ctx.emit({ type: 'progress', index: ctx.stage.index, label, done: e.done, total: e.total });
    else if (e.type === 'trialRetried') ctx.log(`trial ${e.id} retried (attempt ${e.attempt}): ${e.reason}`);
  };
}

/** Run the chosen recipe's stages inside this one (same context: data, runtime, logs). */
async function applyChosen(graph: Graph, r: BudgetResult, ctx: StageContext, registry: Registry): Promise<Graph> {
  for (const stage of buildPipeline(r.recipe, registry, 'search.budget: the chosen recipe').stages) {
    const out = await stage.apply?.(graph, ctx);
    if (out?.graph) graph = out.graph;
  }
  return graph;
}

function summary(r: BudgetResult): string[] {
  const { metric, before, unchanged, limit, text } = r.target;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const points = (x: number) => `${(x * 100).toFixed(2)} points`;
  const final = r.verified ?? r.measured;
  return [
    `target ${text}: ${fmt(metric, before)} -> at most ${fmt(metric, limit)}; ${r.trials} trials in ${(r.ms / 1000).toFixed(1)} s${unchanged !== before ? `; the unchanged model by the cost model (zeros stored sparsely): ${fmt(metric, unchanged)}` : ''}`,
    `predicted ${fmt(metric, r.predicted.value)}, loss +${r.predicted.lossIncrease.toFixed(4)}; measured one-shot ${fmt(metric, r.measured.value)}, accuracy ${pct(r.measured.accuracy)} (baseline ${pct(r.baseline.accuracy)})`,
    ...r.corrections.map((c) => `correction ${c.step}: ${c.move} -> ${fmt(metric, c.value)}, loss ${c.loss.toFixed(4)}`),
    ...(r.meetsTarget
      ? []
      : [
          `MISSED the target: the chosen recipe measures ${fmt(metric, r.measured.value)} after ${r.corrections.length} correction steps (raise steps, or add levels)`,
        ]),
    r.verified
      ? `verified with ${r.verified.epochs} epochs of fine-tuning: ${fmt(metric, final.value)}, accuracy ${pct(r.verified.accuracy)}, drop ${points(r.drop)}: ${r.withinMaxDrop ? 'within' : 'NOT within'} the max drop of ${points(r.maxDrop)}`
      : `one-shot drop ${points(r.drop)} before any fine-tuning (max drop ${points(r.maxDrop)}: judge it on the final model, or set verify)`,
    ...(r.latency ? [`latency: median of ${r.latency.runs} passes over a batch of ${r.latency.batch}, timed on ${r.latency.timedOn.join('; ')}`] : []),
    `chosen: ${JSON.stringify(r.config)}`,
  ];
}

export const budget = definePlugin({
  name: 'search.budget',
  description:
    'Automatic per-layer budgets to a target (size, bytes, MACs, non-zero params) within an accuracy drop: one-shot sensitivity curves as trials (in this thread, on worker threads, or on BullMQ workers), a knapsack allocation over them, a greedy correction (steps and trades between layers) with real measurements; applies the chosen prune/quantize/filter stages and reports them as a recipe.',
  schema: BudgetOptions,
  create: (o) => {
    const target = parseTarget(o.target, 'search.budget: target');
    const methods = o.methods;
    const provides = [...new Set((methods ?? (['prune', 'bits', 'channels'] as Method[])).map((m) => PROVIDES[m]))];
    return {
      contract: { requires: ['labels'], provides, conflicts: ['codebook', 'quant', 'encoded'] },
      async apply(graph, ctx) {
        const { validation, rest } = holdOut(await labelledImages(ctx, graph), o.validation);
        const backend = await ensureBackend();
        const runner = await openRunner(o, backend);
        let r: BudgetResult;
        try {
          r = await searchBudget(
            { graph, validation, train: rest, runner, signal: ctx.signal, onEvent: progress(ctx) },
            {
              target,
              maxDrop: o.maxDrop / 100,
              methods,
              levels: o.levels,
              ops: o.ops,
              include: o.include,
              exclude: o.exclude,
              samples: o.samples,
              steps: o.steps,
              latency: o.latency,
              finetune: o.verify,
              seed: ctx.seed,
            },
          );
        } finally {
          await runner.close();
        }
        const chosen = await applyChosen(graph, r, ctx, await pluginRegistry());
        return {
          graph: chosen,
          details: {
            search: { ...r, curves: undefined, runner: runner.name },
            searchCurves: r.curves,
            // The report's sensitivity chart reads this shape (accuracy per sparsity).
            sensitivity: r.curves
              .filter((c) => c.method === 'prune')
              .map((c) => ({ layer: c.unit, points: c.points.map((p) => ({ sparsity: p.level, accuracy: p.accuracy })) })),
            chosenRecipe: r.recipe,
          },
          notes: [...summary(r), `trials ran on ${runner.name}`],
        };
      },
    };
  },
});
