import { cloneGraph, type Graph } from '@condense/ir';
import { checkContracts, checkPipeline, ContractError, measuresEachStage, trains } from './contract.js';
import type { DataKind, FinetuneOptions, PipelineContext, PipelineData, PipelineSources, StageContext } from './context.js';
import { agreement } from './data/agreement.js';
import { collect, hasTargets, modelSpec } from './data/batches.js';
import { dataSource, isDataSource, type DataSource } from './data/source.js';
import type { PipelineEvent } from './events.js';
import type { Plugin, StageResult } from './plugin.js';
import { RUNTIME_HINT, type Runtime, type TrainingContribution } from './runtime.js';
import { LayerPass } from './layerwise/pass.js';
import { snapshot, type Snapshot } from './snapshot.js';

/** One fine-tune a stage ran through `ctx.finetune`. */
export interface FinetuneRecord {
  /** The options it ran with, defaults applied. */
  options: FinetuneOptions;
  /** Epochs the runtime ran. */
  epochs: number;
  finalLoss: number;
  trainAccuracy: number;
  /** It recovered against the original model's outputs (the data had no targets). */
  labelFree?: boolean;
}

export interface StageRecord {
  index: number;
  name: string;
  options: unknown;
  details?: Record<string, unknown>;
  notes: string[];
  /** Epochs the stage trained, over all its fine-tunes. */
  epochs: number;
  /** Every fine-tune the stage ran, in order. */
  finetunes: FinetuneRecord[];
}

export interface PipelineResult {
  graph: Graph;
  original: Graph;
  /** Index 0 is the input model; then one per stage. */
  snapshots: Snapshot[];
  stages: StageRecord[];
  artifacts: Record<string, Uint8Array>;
}

export interface Pipeline {
  stages: Plugin[];
  /**
   * Check the stage order against the contracts without running anything; with the model, also
   * against the state it carries and each stage's own `check` of it (as `run` does first).
   */
  check(ctx?: PipelineContext, graph?: Graph): void;
  run(graph: Graph, ctx?: PipelineContext): Promise<PipelineResult>;
}

export const DEFAULT_FINETUNE: FinetuneOptions = {
  epochs: 1,
  batchSize: 128,
  optimizer: 'adam',
  learningRate: 1e-3,
  momentum: 0.9,
  weightDecay: 0,
  schedule: 'constant',
};

/** An ordered list of stages; `run` works on a copy of the model and records a snapshot per stage. */
export function pipeline(stages: Plugin[]): Pipeline {
  return {
    stages,
    check: (ctx = {}, graph) => (graph ? checkPipeline(stages, ctx, graph) : checkContracts(stages, ctx)),
    run: (graph, ctx = {}) => runPipeline(stages, graph, ctx),
  };
}

/** Which earlier stages' training contributions are active at a stage. */
export class Contributions {
  private active: { plugin: Plugin; items: TrainingContribution[]; scope: 'next' | 'all' }[] = [];
  add(plugin: Plugin, items: TrainingContribution[]) {
    if (items.length > 0) this.active.push({ plugin, items, scope: plugin.trainingScope ?? 'next' });
  }
  current(): TrainingContribution[] {
    return this.active.flatMap((a) => a.items);
  }
  /** A stage that trains consumed the 'next'-scoped ones. */
  consumeNext() {
    this.active = this.active.filter((a) => a.scope === 'all');
  }
}

async function runPipeline(stages: Plugin[], input: Graph, ctx: PipelineContext): Promise<PipelineResult> {
  checkPipeline(stages, ctx, input);
  const original = cloneGraph(input);
  let graph = cloneGraph(input);
  const data = sources(ctx.data);
  await checkTargets(stages, data, ctx);
  for (const [kind, source] of Object.entries(data)) await ctx.runtime?.check?.(input, source, { task: ctx.task, what: kind });
  const emit = (e: PipelineEvent) => ctx.onEvent?.(e);
  const contributions = new Contributions();
  const result: PipelineResult = { graph, original, snapshots: [], stages: [], artifacts: {} };
  const measure = await measurer(original, data, ctx);

  result.snapshots.push(await measure(snapshot(graph, 0, 'input', 0), graph));

  for (const [i, plugin] of stages.entries()) {
    ctx.signal?.throwIfAborted();
    emit({ type: 'stageStart', index: i + 1, name: plugin.name, total: stages.length });
    const started = performance.now();
    const notes: string[] = [];
    const finetunes: FinetuneRecord[] = [];
    const stageCtx = stageContext({ plugin, index: i, total: stages.length, original, data, ctx, emit, notes, finetunes, contributions });
    const out: StageResult = (await plugin.apply?.(graph, stageCtx)) ?? {};
    if (out.graph) graph = out.graph;
    if (trains(plugin)) contributions.consumeNext();
    contributions.add(plugin, plugin.training?.(graph, stageCtx) ?? []);
    Object.assign(result.artifacts, out.artifacts ?? {});
    notes.push(...(out.notes ?? []));
    const epochs = finetunes.reduce((n, f) => n + f.epochs, 0);
    const snap = snapshot(graph, i + 1, plugin.name, performance.now() - started, epochs);
    if (out.storedBytes !== undefined) snap.bytes = out.storedBytes;
    await measure(snap, graph);
    if (notes.length) snap.notes = notes;
    result.snapshots.push(snap);
    result.stages.push({ index: i + 1, name: plugin.name, options: plugin.options, details: out.details, notes, epochs, finetunes });
    emit({ type: 'stageEnd', index: i + 1, name: plugin.name, snapshot: snap });
  }
  result.graph = graph;
  return result;
}

/** The context's data as sources, named by use for errors. */
export function sources(data: PipelineData = {}): PipelineSources {
  const out: PipelineSources = {};
  for (const kind of ['train', 'validation', 'test', 'calibration'] as const) {
    const d = data[kind];
    if (d !== undefined) out[kind] = dataSource(d, isDataSource(d) ? d.name : `${kind} data`);
  }
  return out;
}

/** Refuse before any work a fine-tune that needs targets the training data lacks. */
async function checkTargets(stages: Plugin[], data: PipelineSources, ctx: PipelineContext): Promise<void> {
  if (ctx.labelFree !== false || !data.train || !stages.some(trains)) return;
  if (!(await hasTargets(data.train))) {
    throw new ContractError(
      `${data.train.name} has no targets and labelFree is false: give targets, or let the fine-tunes recover label-free (labelFree: 'auto')`,
    );
  }
}

/**
 * What every snapshot records besides the cost model: test metrics (when test data with targets
 * was given) and the output agreement with the original model on the first examples available.
 */
async function measurer(original: Graph, data: PipelineSources, ctx: PipelineContext): Promise<(snap: Snapshot, graph: Graph) => Promise<Snapshot>> {
  const runtime = ctx.runtime;
  const test = data.test;
  const evaluates = measuresEachStage(ctx) && test !== undefined && (ctx.evaluateEachStage === true || (await hasTargets(test)));
  const probe = data.test ?? data.validation ?? data.calibration ?? data.train;
  const limit = ctx.agreement === false ? 0 : (ctx.agreement ?? DEFAULT_AGREEMENT_EXAMPLES);
  const reference = runtime && probe && limit > 0 ? await runtime.predict(original, probe, { limit }) : undefined;
  return async (snap, graph) => {
    if (evaluates) {
      const r = await (runtime as Runtime).evaluate(graph, test as DataSource, { task: ctx.task });
      if (r.accuracy !== undefined) snap.accuracy = r.accuracy;
      snap.loss = r.loss;
      snap.metrics = r.metrics;
    }
    if (reference && snap.index > 0) snap.agreement = agreement(reference, await (runtime as Runtime).predict(graph, probe as DataSource, { limit }));
    return snap;
  };
}

/** Examples the output agreement is measured on, by default. */
export const DEFAULT_AGREEMENT_EXAMPLES = 1000;

/** Examples calibration reads from a stream of unknown size, by default. */
export const DEFAULT_CALIBRATION_EXAMPLES = 1024;

interface StageSetup {
  plugin: Plugin;
  index: number;
  total: number;
  original: Graph;
  data: PipelineSources;
  ctx: PipelineContext;
  emit: (e: PipelineEvent) => void;
  notes: string[];
  /** Filled with every fine-tune the stage runs. */
  finetunes: FinetuneRecord[];
  contributions: Contributions;
}

export function stageContext(s: StageSetup): StageContext {
  const where = `stage ${s.index + 1} (${s.plugin.name})`;
  const requireData = (kind: DataKind): DataSource => {
    const source = s.data[kind] ?? (kind === 'calibration' ? s.data.train : undefined);
    if (!source) throw new Error(`${where} needs ${kind} data, and the pipeline was given none`);
    return source;
  };
  const runtime = (task: string): Runtime => {
    if (!s.ctx.runtime) throw new Error(`${where} ${task}, and the pipeline was given no runtime: ${RUNTIME_HINT}`);
    return s.ctx.runtime;
  };
  const finetune = async (graph: Graph, options: Partial<FinetuneOptions> = {}, extra: TrainingContribution[] = []) => {
    const resolved = { ...DEFAULT_FINETUNE, ...options, ...(s.ctx.batchSize ? { batchSize: s.ctx.batchSize } : {}) };
    const r = await runtime('fine-tunes').train(graph, requireData('train'), {
      ...resolved,
      contributions: [...s.contributions.current(), ...extra],
      seed: s.ctx.seed ?? 1,
      task: s.ctx.task,
      teacher: s.original,
      labelFree: s.ctx.labelFree,
      signal: s.ctx.signal,
      onEpoch: (e) => s.emit({ type: 'epoch', index: s.index + 1, ...e }),
    });
    s.finetunes.push({
      options: resolved,
      epochs: r.epochs,
      finalLoss: r.finalLoss,
      trainAccuracy: r.trainAccuracy,
      ...(r.labelFree ? { labelFree: true } : {}),
    });
    return r;
  };
  const examples = async (kind: DataKind, graph: Graph, limit?: number) => {
    const source = requireData(kind);
    const n = limit ?? (kind === 'calibration' ? s.ctx.calibration : undefined) ?? source.count ?? DEFAULT_CALIBRATION_EXAMPLES;
    const batch = await collect(source, modelSpec(graph), n);
    if (!batch) throw new Error(`${where}: ${source.name} has no examples`);
    return batch;
  };
  return {
    stage: { index: s.index + 1, name: s.plugin.name, total: s.total },
    data: s.data,
    original: s.original,
    teacher: s.ctx.teacher ?? s.original,
    seed: s.ctx.seed ?? 1,
    signal: s.ctx.signal,
    emit: s.emit,
    log: (message) => {
      s.notes.push(message);
      s.emit({ type: 'log', index: s.index + 1, message });
    },
    requireData,
    examples,
    evaluate: (graph, data, request) =>
      runtime('evaluates').evaluate(graph, data === undefined ? requireData('test') : dataSource(data, 'evaluation data'), { task: s.ctx.task, ...request }),
    finetune,
    layerPass: (graph, examples, options) => {
      const r = runtime('runs the model layer by layer');
      if (!r.forward) throw new Error(`${where} runs the model layer by layer, and runtime '${r.name}' has no forward()`);
      return new LayerPass(r.forward.bind(r), graph, examples, options);
    },
  };
}
