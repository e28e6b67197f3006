import { referenceForward, topoSort, type Graph } from '@condense/ir';
import type { PipelineData, StageContext } from './context.js';
import type { PipelineEvent } from './events.js';
import { Contributions, sources, stageContext, type FinetuneRecord } from './pipeline.js';
import { collect, modelSpec } from './data/batches.js';
import type { TaskSpec } from './data/task.js';
import type { NodeValue } from './layerwise/forward.js';
import type { LabelFreeSetting, Runtime, TrainingContribution } from './runtime.js';

export interface TestStageOptions {
  /** The model before the pipeline (`ctx.original`, and the teacher unless `teacher` is given). */
  original?: Graph;
  teacher?: Graph;
  data?: PipelineData;
  /** Needed only when the stage trains or evaluates. */
  runtime?: Runtime;
  seed?: number;
  /** The stage's name in messages; default 'test'. */
  name?: string;
  /** As in the pipeline context. */
  task?: TaskSpec;
  labelFree?: LabelFreeSetting;
  calibration?: number;
  /** Active in `ctx.finetune`, as if earlier stages had contributed them. */
  contributions?: TrainingContribution[];
}

/** A stage context that also keeps what the stage reported. */
export interface TestStageContext extends StageContext {
  /** What the stage logged (`ctx.log`). */
  notes: string[];
  /** Every event the stage emitted. */
  events: PipelineEvent[];
  /** Every fine-tune the stage ran. */
  finetunes: FinetuneRecord[];
}

/**
 * The context a pipeline gives stage 1 of 1, for calling a plugin's `apply` or `training` directly
 * in a test: the same data, fine-tune and evaluate behaviour, no TF.js import and no casts.
 * Reading `ctx.original` or `ctx.teacher` when neither was given fails with a clear message.
 */
export function testStageContext(o: TestStageOptions = {}): TestStageContext {
  const notes: string[] = [];
  const events: PipelineEvent[] = [];
  const finetunes: FinetuneRecord[] = [];
  const contributions = new Contributions();
  const plugin = { name: o.name ?? 'test', options: {}, contract: {} };
  contributions.add(plugin, o.contributions ?? []);
  const ctx = stageContext({
    plugin,
    index: 0,
    total: 1,
    original: o.original as Graph,
    data: sources(o.data),
    ctx: { runtime: o.runtime, seed: o.seed, teacher: o.teacher, task: o.task, labelFree: o.labelFree, calibration: o.calibration },
    emit: (e) => events.push(e),
    notes,
    finetunes,
    contributions,
  });
  const missing = (field: string) => () => {
    throw new Error(`testStageContext: the stage reads ctx.${field}; pass { original } (or { teacher })`);
  };
  if (!o.original) Object.defineProperty(ctx, 'original', { get: missing('original') });
  if (!o.original && !o.teacher) Object.defineProperty(ctx, 'teacher', { get: missing('teacher') });
  return Object.assign(ctx, { notes, events, finetunes });
}

/**
 * A runtime on @condense/ir's reference interpreter (float64, exact, slow): `forward` and
 * `predict`, so that layer-wise stages (and the pipeline's agreement measure) can be tested
 * without TF.js. `train` and `evaluate` refuse.
 */
export function referenceRuntime(): Runtime {
  const refuse = (what: string) => Promise.reject(new Error(`reference runtime: cannot ${what}; it only runs forward and predict`));
  return {
    name: 'reference',
    train: () => refuse('train'),
    evaluate: () => refuse('evaluate'),
    async predict(graph, data, request = {}) {
      const batch = await collect(data, modelSpec(graph), request.limit);
      if (!batch) return graph.outputs.map(() => ({ values: new Float32Array(0), shape: [0], dtype: 'float32' as const }));
      const feeds = new Map(graph.inputs.map((name, i) => [name, { values: Float32Array.from(batch.inputs[i].values), shape: batch.inputs[i].shape }]));
      const nodes = topoSort(graph)
        .filter((n) => !feeds.has(n.name))
        .map((n) => n.name);
      const out = reference(graph, feeds, nodes, graph.outputs);
      return graph.outputs.map((name) => ({ ...(out.get(name) as NodeValue), dtype: 'float32' as const }));
    },
    forward: async (graph, { feeds, nodes, outputs }) => reference(graph, feeds, nodes, outputs),
  };
}

/** `outputs` (fed or among `nodes`) of one batch on the interpreter, as float32. */
function reference(graph: Graph, feeds: ReadonlyMap<string, NodeValue>, nodes: readonly string[], outputs: readonly string[]): Map<string, NodeValue> {
  const batch = feeds.values().next().value?.shape[0] ?? 1;
  const fed = new Map([...feeds].map(([k, v]) => [k, { data: v.values, shape: v.shape }]));
  const values = referenceForward(graph, fed, nodes, batch);
  return new Map(
    outputs.map((o): [string, NodeValue] => {
      const v = values.get(o);
      if (!v) throw new Error(`reference runtime: '${o}' is neither fed nor computed`);
      return [o, { values: Float32Array.from(v.data), shape: v.shape }];
    }),
  );
}
