import { cloneGraph, type Graph } from '@condense/ir';
import { checkContracts, checkPipeline, measuresEachStage, trains } from './contract.js';
import type { FinetuneOptions, PipelineContext, PipelineData, Split, StageContext } from './context.js';
import type { PipelineEvent } from './events.js';
import type { Plugin, StageResult } from './plugin.js';
import { RUNTIME_HINT, type Runtime, type TrainingContribution } from './runtime.js';
import { snapshot, type Snapshot } from './snapshot.js';

/** One fine-tune a stage ran through `ctx.finetune`. */
export interface FinetuneRecord {
  /** The options it ran with, defaults applied. */
  options: FinetuneOptions;
  /** Epochs the runtime ran. */
  epochs: number;
  finalLoss: number;
  trainAccuracy: number;
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
  const data = ctx.data ?? {};
  const emit = (e: PipelineEvent) => ctx.onEvent?.(e);
  const measure = measuresEachStage(ctx);
  const contributions = new Contributions();
  const result: PipelineResult = { graph, original, snapshots: [], stages: [], artifacts: {} };
  const evaluate = (g: Graph) => (ctx.runtime as Runtime).evaluate(g, data.test as Split);

  const first = snapshot(graph, 0, 'input', 0);
  if (measure) Object.assign(first, await evaluate(graph));
  result.snapshots.push(first);

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
    if (measure) Object.assign(snap, await evaluate(graph));
    if (notes.length) snap.notes = notes;
    result.snapshots.push(snap);
    result.stages.push({ index: i + 1, name: plugin.name, options: plugin.options, details: out.details, notes, epochs, finetunes });
    emit({ type: 'stageEnd', index: i + 1, name: plugin.name, snapshot: snap });
  }
  result.graph = graph;
  return result;
}

interface StageSetup {
  plugin: Plugin;
  index: number;
  total: number;
  original: Graph;
  data: PipelineData;
  ctx: PipelineContext;
  emit: (e: PipelineEvent) => void;
  notes: string[];
  /** Filled with every fine-tune the stage runs. */
  finetunes: FinetuneRecord[];
  contributions: Contributions;
}

export function stageContext(s: StageSetup): StageContext {
  const where = `stage ${s.index + 1} (${s.plugin.name})`;
  const requireData = (kind: keyof PipelineData): Split => {
    const split = s.data[kind] ?? (kind === 'calibration' ? s.data.train : undefined);
    if (!split) throw new Error(`${where} needs ${kind} data, and the pipeline was given none`);
    return split;
  };
  const runtime = (task: string): Runtime => {
    if (!s.ctx.runtime) throw new Error(`${where} ${task}, and the pipeline was given no runtime: ${RUNTIME_HINT}`);
    return s.ctx.runtime;
  };
  const finetune = async (graph: Graph, options: Partial<FinetuneOptions> = {}, extra: TrainingContribution[] = []) => {
    const resolved = { ...DEFAULT_FINETUNE, ...options };
    const r = await runtime('fine-tunes').train(graph, requireData('train'), {
      ...resolved,
      contributions: [...s.contributions.current(), ...extra],
      seed: s.ctx.seed ?? 1,
      signal: s.ctx.signal,
      onEpoch: (e) => s.emit({ type: 'epoch', index: s.index + 1, ...e }),
    });
    s.finetunes.push({ options: resolved, epochs: r.epochs, finalLoss: r.finalLoss, trainAccuracy: r.trainAccuracy });
    return r;
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
    evaluate: (graph, split) => runtime('evaluates').evaluate(graph, split ?? requireData('test')),
    finetune,
  };
}
