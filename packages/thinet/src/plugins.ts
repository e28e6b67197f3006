import { definePlugin, imageSplit, type LayerReconstruction, type Registry, type StageContext } from '@condense/core';
import type { Graph } from '@condense/ir';
import { needsCalibration, resolveOptions, thinetSchema, type ImportanceName, type ResolvedOptions } from './options.js';
import { describeLayer, pruneChannels, type PruneEnv, type PruneReport } from './prune.js';
import { PASS_BATCH, type PassFactory } from './sampling.js';

/**
 * The pipeline's stage context as the pruning environment. A baseline ranking that needs no
 * calibration data still measures its errors on it when the data is there and the pipeline's
 * runtime can run the model layer by layer.
 */
async function envOf(graph: Graph, ctx: StageContext, o: ResolvedOptions): Promise<PruneEnv> {
  const d = ctx.data;
  const pass: PassFactory = (g, x, o) => ctx.layerPass(g, x, { batchSize: PASS_BATCH, ...o });
  const given = needsCalibration(o) || ((d.calibration !== undefined || d.train !== undefined) && canPass(graph, pass));
  const calibration = given ? imageSplit(await ctx.examples('calibration', graph), ctx.stage.name) : undefined;
  return {
    calibration,
    pass,
    // Progress only: the per-layer lines become the stage's notes at the end.
    log: (message) => ctx.emit({ type: 'log', index: ctx.stage.index, message }),
    finetune: o.finetune || o.finetuneBetween ? (graph, f) => ctx.finetune(graph, f) : undefined,
  };
}

/** Whether a pass can be opened, i.e. the pipeline has a runtime with forward (opening computes nothing). */
function canPass(graph: Graph, pass: PassFactory): boolean {
  try {
    pass(graph, { count: 1, inputs: graph.inputs.map(() => ({ values: new Float32Array(1), shape: [1] })) }).dispose();
    return true;
  } catch {
    return false;
  }
}

function stageResult(r: PruneReport, deprecated?: string) {
  const notes = deprecated ? [deprecated] : [];
  notes.push(...r.layers.map(describeLayer));
  for (const s of r.skipped) notes.push(`skipped ${s.layer}: ${s.reason}`);
  notes.push(
    `MACs ${r.macsBefore} -> ${r.macsAfter} (${(r.macsBefore / Math.max(r.macsAfter, 1)).toFixed(2)}x fewer), params ${r.paramsBefore} -> ${r.paramsAfter}`,
  );
  return { details: { ...r, reconstruction: reconstructionRows(r) }, notes };
}

/**
 * The report's per-layer reconstruction rows: each next layer's output, its relative error on
 * the calibration samples with the channels removed, before and after the least squares.
 */
function reconstructionRows(r: PruneReport): LayerReconstruction[] {
  return r.layers.flatMap((l) => l.consumers.map((c) => ({ layer: c.consumer, errorBefore: c.error, errorAfter: c.errorLS ?? c.error })));
}

function makePlugin(name: string, description: string, importance: ImportanceName, deprecated?: string) {
  return definePlugin({
    name,
    description,
    schema: thinetSchema(importance),
    create: (options) => {
      const o = resolveOptions(options);
      const trains = Boolean(o.finetune || o.finetuneBetween);
      const labels = trains ? ['labels' as const] : [];
      const tasks = [...(needsCalibration(o) ? ['forward' as const] : []), ...(trains ? ['train' as const] : [])];
      return {
        contract: {
          requires: needsCalibration(o) ? ['calibration' as const, ...labels] : labels,
          provides: ['structure'],
          conflicts: ['codebook', 'encoded'],
          ...(tasks.length ? { runtime: tasks } : {}),
        },
        async apply(graph: Graph, ctx: StageContext) {
          const r = await pruneChannels(graph, { ...options, seed: options.seed ?? ctx.seed }, await envOf(graph, ctx, o), name);
          return stageResult(r, deprecated);
        },
      };
    },
  });
}

export const thinet = makePlugin(
  'thinet',
  'ThiNet (Luo et al. 2017): per layer, remove the channels whose removal the next layer input can best do without (greedy on sampled contributions), rescale the kept ones by least squares, and remove them for real (bias, batch norm, next layer rows, through flatten and add). `importance` swaps the ranking for the L1-norm or random baseline.',
  'thinet',
);

/** @deprecated use `l1Filter` from @condense/prune, or `thinet({ importance: 'l1' })` for the measured baseline. */
export const thinetL1 = makePlugin(
  'thinet.l1norm',
  "Deprecated: use prune.l1Filter, or thinet with importance: 'l1'. Filter pruning baseline (Li et al. 2017): per layer, remove the channels whose filters have the smallest L1 norm, for real.",
  'l1',
  "thinet.l1norm is deprecated: use prune.l1Filter (or thinet with importance: 'l1')",
);

/** @deprecated use `randomFilter` from @condense/prune, or `thinet({ importance: 'random' })` for the measured baseline. */
export const thinetRandom = makePlugin(
  'thinet.random',
  "Deprecated: use prune.randomFilter, or thinet with importance: 'random'. Filter pruning baseline: per layer, remove channels chosen at random (seeded), for real.",
  'random',
  "thinet.random is deprecated: use prune.randomFilter (or thinet with importance: 'random')",
);

export const plugins = [thinet, thinetL1, thinetRandom];

/** Register `thinet` and the deprecated aliases `thinet.l1norm` and `thinet.random`. */
export function register(registry: Registry): void {
  registry.register(...plugins);
}
