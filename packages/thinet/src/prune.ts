/**
 * The ThiNet stage over the shared structured-pruning driver (@condense/core `pruneGroups`):
 * the driver plans the channel groups and removes; this file brings the calibration samples,
 * the ranking (ThiNet's, or a baseline's), the compensation and the per-layer report.
 */
import {
  l1FilterImportance,
  parseOptions,
  pruneGroups,
  randomImportance,
  SkipGroup,
  type FinetuneOptions,
  type Importance,
  type RemovalStep,
} from '@condense/core';
import { cloneGraph, cost, type ChannelGroup, type Graph } from '@condense/ir';
import { compensate, type ConsumerReport } from './compensation.js';
import { UnsupportedConsumer } from './contrib.js';
import { resolveOptions, ThinetSchema, type ImportanceName, type ResolvedOptions, type ThinetInput } from './options.js';
import { pickCalibration, Sampler, type CalibrationSet, type PassFactory } from './sampling.js';
import { thinetImportance } from './scoring.js';

/** What pruning needs from its surroundings (a pipeline stage context provides it). */
export interface PruneEnv {
  /** ThiNet and compensation need it; the baselines use it, when given, to report reconstruction errors. */
  calibration?: CalibrationSet;
  /**
   * Opens a layer pass over the calibration images (needed with `calibration`): in a pipeline,
   * `ctx.layerPass`; standalone, `(g, x, o) => new LayerPass(tfjsRuntime().forward!, g, x, { batchSize: PASS_BATCH, ...o })`.
   */
  pass?: PassFactory;
  finetune?(graph: Graph, options: Partial<FinetuneOptions>): Promise<unknown>;
  log?(message: string): void;
}

export interface LayerReport {
  /** The channel group: the producer's name, or the coupled producers joined by '+'. */
  layer: string;
  producers: string[];
  channelsBefore: number;
  channelsAfter: number;
  /** Removed channels (indices before removal), in the order chosen. */
  removed: number[];
  consumers: ConsumerReport[];
  /** Mean over the next layers of the relative reconstruction error before rescaling (when calibration data was available). */
  reconstructionError?: number;
  /** The same after the least-squares rescaling. */
  reconstructionErrorLS?: number;
}

export interface PruneReport {
  importance: ImportanceName;
  layers: LayerReport[];
  skipped: { layer: string; reason: string }[];
  macsBefore: number;
  macsAfter: number;
  paramsBefore: number;
  paramsAfter: number;
  calibrationImages: number;
}

/** The ranking an importance name stands for (ThiNet's needs the run's samples). */
function rankingOf(name: ImportanceName, sampler: Sampler | undefined): Importance {
  if (name === 'l1') return l1FilterImportance;
  if (name === 'random') return randomImportance;
  return thinetImportance(sampler as Sampler);
}

function checkEnv(o: ResolvedOptions, env: PruneEnv, who: string): void {
  if ((o.finetune || o.finetuneBetween) && !env.finetune) throw new Error(`${who}: fine-tuning was asked for, and no training data was given`);
  if (env.calibration && !env.pass) throw new Error(`${who}: calibration data needs a way to run the model (env.pass: a layer pass over the images)`);
  if (env.calibration) return;
  if (o.importance === 'thinet') throw new Error(`${who}: needs calibration data (a few images per class)`);
  for (const f of ['leastSquares', 'biasCorrection'] as const) if (o[f]) throw new Error(`${who}: ${f} needs calibration data`);
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

function layerRow(step: RemovalStep, consumers: ConsumerReport[]): LayerReport {
  const { group, kept, removed } = step;
  const row: LayerReport = { layer: group.id, producers: group.producers, channelsBefore: group.size, channelsAfter: kept.length, removed, consumers };
  if (consumers.length) row.reconstructionError = mean(consumers.map((c) => c.error));
  if (consumers.some((c) => c.errorLS !== undefined)) row.reconstructionErrorLS = mean(consumers.map((c) => c.errorLS ?? c.error));
  return row;
}

/**
 * Prune channel groups layer by layer: rank the channels (ThiNet's greedy reconstruction
 * criterion, smallest filter L1 norm, or at random), rescale the kept ones by least squares and
 * correct the next layer's bias (when asked), and remove them from every coupled param (bias,
 * batch norm, the next layers' input rows, through flatten and add). Edits `graph` in place.
 */
export async function pruneChannels(graph: Graph, options: ThinetInput = {}, env: PruneEnv = {}, who = 'thinet'): Promise<PruneReport> {
  const o = resolveOptions(parseOptions(ThinetSchema, options, who));
  checkEnv(o, env, who);
  const seed = o.seed ?? 1;
  const calib = env.calibration ? pickCalibration(env.calibration, o.imagesPerClass, seed) : undefined;
  if (calib?.count === 0) throw new Error(`${who}: the calibration set is empty`);
  const before = cost(graph).totals;
  const sampler =
    calib &&
    new Sampler(
      calib,
      { samplesPerImage: o.samplesPerImage, means: o.biasCorrection },
      env.pass as PassFactory,
      o.target === 'original' ? cloneGraph(graph) : undefined,
    );
  const compensated = new WeakMap<ChannelGroup, ConsumerReport[]>();
  const layers: LayerReport[] = [];

  const hooks = {
    async compensate(step: RemovalStep) {
      const grams = await sampler?.of(step.graph, step.group, step.seed);
      if (grams === undefined) return;
      if (grams instanceof UnsupportedConsumer) {
        // A baseline can still remove without contributions; compensation cannot.
        if (o.leastSquares || o.biasCorrection) throw new SkipGroup(grams.message);
        return;
      }
      compensated.set(
        step.group,
        grams.map((g) => compensate(step.graph, step.group, g, step.kept, o)),
      );
    },
    async afterRemove(step: RemovalStep) {
      const row = layerRow(step, compensated.get(step.group) ?? []);
      layers.push(row);
      env.log?.(describeLayer(row));
      const between = o.finetuneBetween;
      if (between && step.index < step.total - 1 && (between.epochs ?? 1) > 0) {
        env.log?.(`fine-tuning ${between.epochs} epoch(s) after '${step.group.id}'`);
        await env.finetune?.(graph, between);
        // Every layer moved: both passes start again, and the reference follows the fine-tuned model.
        sampler?.restart(sampler.reference ? cloneGraph(graph) : undefined);
      }
    },
  };
  let skipped: PruneReport['skipped'];
  try {
    ({ skipped } = await pruneGroups(graph, rankingOf(o.importance, sampler), { ...o, seed }, hooks, who));
  } finally {
    sampler?.dispose();
  }

  if (o.finetune && (o.finetune.epochs ?? 1) > 0) {
    env.log?.(`final fine-tune: ${o.finetune.epochs} epoch(s)`);
    await env.finetune?.(graph, o.finetune);
  }
  const after = cost(graph).totals;
  return {
    importance: o.importance,
    layers,
    skipped,
    macsBefore: before.macs,
    macsAfter: after.macs,
    paramsBefore: before.params,
    paramsAfter: after.params,
    calibrationImages: calib?.count ?? 0,
  };
}

const fmt = (x: number) => (x < 1e-3 && x > 0 ? x.toExponential(2) : x.toFixed(4));

/** One line per layer for logs and notes. */
export function describeLayer(r: LayerReport): string {
  let s = `${r.layer}: ${r.channelsBefore} -> ${r.channelsAfter} channels`;
  if (r.reconstructionError !== undefined) s += `, reconstruction error ${fmt(r.reconstructionError)}`;
  if (r.reconstructionErrorLS !== undefined) s += ` (after least squares ${fmt(r.reconstructionErrorLS)})`;
  for (const c of r.consumers) if (c.note) s += `; ${c.consumer}: ${c.note}`;
  return s;
}
