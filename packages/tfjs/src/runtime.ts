import * as tf from '@tensorflow/tfjs-core';
import {
  hasTargets,
  modelSpec,
  type DataSource,
  type ForwardRequest,
  type LabelFreeOptions,
  type LatencyRequest,
  type LatencyResult,
  type Runtime,
  type TrainingContribution as AnyContribution,
  type TrainRequest,
} from '@condense/core';
import type { Graph } from '@condense/ir';
import { describeBackend, ensureBackend } from './backend/index.js';
import { labelFreeContribution } from './distill/index.js';
import { compile, forwardNodes } from './exec/index.js';
import { evaluate, predictData, preflight, train, type TrainingContribution } from './train/index.js';

export interface TfjsRuntimeOptions {
  /** Examples per evaluation batch; default 512. */
  evaluateBatchSize?: number;
}

const HOOKS = ['loss', 'transformGradients', 'afterStep', 'variables', 'begin', 'end'] as const;

/** Check that a contribution the pipeline carries is one this trainer can run; errors name it and the field. */
export function asTfjsContribution(c: AnyContribution): TrainingContribution {
  const t = c as TrainingContribution;
  const where = `tfjs runtime: training contribution '${c.name}'`;
  for (const hook of HOOKS) {
    if (t[hook] !== undefined && typeof t[hook] !== 'function') throw new Error(`${where}: '${hook}' must be a function, got ${typeof t[hook]}`);
  }
  if (t.taps !== undefined && !(Array.isArray(t.taps) && t.taps.every((n) => typeof n === 'string')))
    throw new Error(`${where}: 'taps' must be a list of node names`);
  if (t.taskLossWeight !== undefined && !Number.isFinite(t.taskLossWeight)) throw new Error(`${where}: 'taskLossWeight' must be a finite number`);
  return t;
}

/** The label-free options a request asks for, or undefined when it trains on targets. */
async function labelFreeOf(data: DataSource, r: TrainRequest): Promise<LabelFreeOptions | undefined> {
  const setting = r.labelFree ?? 'auto';
  if (setting === false) return undefined;
  if (setting === 'auto' && (await hasTargets(data))) return undefined;
  if (!r.teacher) throw new Error(`tfjs runtime: ${data.name} has no targets and the request names no teacher for label-free recovery`);
  return typeof setting === 'object' ? setting : {};
}

/**
 * condense's `Runtime` on TF.js: fine-tunes with this package's trainer (masks, codebooks,
 * quantization and frozen params honoured, contributions as its `TrainingContribution`), with
 * label-free recovery against the request's teacher when the data has no targets; evaluates the
 * task's loss and metrics; predicts every output; runs parts of a graph for layer-wise stages
 * (`forward`, see `forwardNodes`). On the backend in use (else the best available).
 *
 *   await pipeline(stages).run(graph, { data, runtime: tfjsRuntime() });
 */
export function tfjsRuntime(options: TfjsRuntimeOptions = {}): Runtime {
  return {
    name: 'tfjs',
    async train(graph: Graph, data: DataSource, r: TrainRequest) {
      await ensureBackend();
      const contributions = r.contributions.map(asTfjsContribution);
      const labelFree = await labelFreeOf(data, r);
      if (labelFree) contributions.push(labelFreeContribution(r.teacher as Graph, graph, labelFree));
      const summary = await train(graph, data, {
        epochs: r.epochs,
        batchSize: r.batchSize,
        optimizer: r.optimizer === 'sgd' ? { type: 'sgd', momentum: r.momentum } : 'adam',
        learningRate: r.learningRate,
        weightDecay: r.weightDecay,
        schedule: { type: r.schedule },
        augment: r.augment,
        shuffleBuffer: r.shuffleBuffer,
        task: r.task,
        seed: r.seed,
        signal: r.signal,
        contributions,
        onEvent: (e) => {
          if (e.type === 'epochEnd')
            r.onEpoch?.({ epoch: e.epoch + 1, epochs: r.epochs, loss: e.loss ?? NaN, accuracy: e.accuracy, samplesPerSec: e.samplesPerSec });
        },
      });
      return { epochs: summary.epochs, finalLoss: summary.finalLoss, trainAccuracy: summary.trainAccuracy, ...(labelFree ? { labelFree: true } : {}) };
    },
    async evaluate(graph, data, request = {}) {
      await ensureBackend();
      const r = await evaluate(graph, data, { batchSize: options.evaluateBatchSize ?? 512, task: request.task, limit: request.limit });
      return { ...(Number.isNaN(r.accuracy) ? {} : { accuracy: r.accuracy }), loss: r.loss, metrics: r.metrics, count: r.count };
    },
    async check(graph, data, request) {
      if (!data.repeatable) return; // a one-shot iterator is not read twice
      await ensureBackend();
      await preflight(data, modelSpec(graph), graph, request.task, request.what);
    },
    async predict(graph, data, request = {}) {
      await ensureBackend();
      return predictData(graph, data, { limit: request.limit, batchSize: options.evaluateBatchSize ?? 512 });
    },
    async forward(graph: Graph, request: ForwardRequest) {
      await ensureBackend();
      return forwardNodes(graph, request);
    },
    latency: (graph, request) => measureLatency(graph, request),
  };
}

/** Median time of inference passes over one constant batch (the output read back each time, so async backends finish). */
export async function measureLatency(graph: Graph, r: LatencyRequest): Promise<LatencyResult> {
  await ensureBackend();
  const model = compile(graph);
  const inputs = model.inputShapes.map((shape) => tf.fill([r.batch, ...shape], 0.5));
  try {
    const pass = async () => {
      const out = model.predict(inputs);
      await out.output.data();
      for (const t of [...out.outputs, ...(out.logits ? [out.logits] : []), ...Object.values(out.taps)]) t.dispose();
    };
    for (let i = 0; i < (r.warmup ?? 2); i++) await pass();
    const samples: number[] = [];
    for (let i = 0; i < r.runs; i++) {
      const t0 = performance.now();
      await pass();
      samples.push(performance.now() - t0);
    }
    const sorted = [...samples].sort((a, b) => a - b);
    return { msPerBatch: sorted[Math.floor(sorted.length / 2)], samples, batch: r.batch, backend: describeBackend() };
  } finally {
    for (const t of inputs) t.dispose();
    model.dispose();
  }
}
