import * as tf from '@tensorflow/tfjs-core';
import type { LatencyRequest, LatencyResult, Runtime, Split, TrainingContribution as AnyContribution, TrainRequest } from '@condense/core';
import type { Graph } from '@condense/ir';
import { describeBackend, ensureBackend } from './backend/index.js';
import { compile } from './exec/index.js';
import { evaluate, train, type Dataset, type TrainingContribution } from './train/index.js';

export interface TfjsRuntimeOptions {
  /** Examples per evaluation batch; default 512. */
  evaluateBatchSize?: number;
}

const asDataset = (s: Split): Dataset => ({ x: s.images, y: s.labels, count: s.count, shape: [...s.shape] });

const HOOKS = ['loss', 'transformGradients', 'afterStep', 'variables', 'begin', 'end'] as const;

/** Check that a contribution the pipeline carries is one this trainer can run; errors name it and the field. */
export function asTfjsContribution(c: AnyContribution): TrainingContribution {
  const t = c as TrainingContribution;
  const where = `tfjs runtime: training contribution '${c.name}'`;
  for (const hook of HOOKS) {
    if (t[hook] !== undefined && typeof t[hook] !== 'function') throw new Error(`${where}: '${hook}' must be a function, got ${typeof t[hook]}`);
  }
  if (t.taps !== undefined && !(Array.isArray(t.taps) && t.taps.every((n) => typeof n === 'string'))) throw new Error(`${where}: 'taps' must be a list of node names`);
  if (t.taskLossWeight !== undefined && !Number.isFinite(t.taskLossWeight)) throw new Error(`${where}: 'taskLossWeight' must be a finite number`);
  return t;
}

/**
 * condense's `Runtime` on TF.js: fine-tunes with this package's trainer (masks, codebooks,
 * quantization and frozen params honoured, contributions as its `TrainingContribution`) and
 * evaluates top-1 accuracy and cross-entropy, on the backend in use (else the best available).
 *
 *   await pipeline(stages).run(graph, { data, runtime: tfjsRuntime() });
 */
export function tfjsRuntime(options: TfjsRuntimeOptions = {}): Runtime {
  return {
    name: 'tfjs',
    async train(graph: Graph, data: Split, r: TrainRequest) {
      await ensureBackend();
      const summary = await train(graph, asDataset(data), {
        epochs: r.epochs,
        batchSize: r.batchSize,
        optimizer: r.optimizer === 'sgd' ? { type: 'sgd', momentum: r.momentum } : 'adam',
        learningRate: r.learningRate,
        weightDecay: r.weightDecay,
        schedule: { type: r.schedule },
        augment: r.augment,
        seed: r.seed,
        signal: r.signal,
        contributions: r.contributions.map(asTfjsContribution),
        onEvent: (e) => {
          if (e.type === 'epochEnd') r.onEpoch?.({ epoch: e.epoch + 1, epochs: r.epochs, loss: e.loss ?? NaN, accuracy: e.accuracy, samplesPerSec: e.samplesPerSec });
        },
      });
      return { epochs: summary.epochs, finalLoss: summary.finalLoss, trainAccuracy: summary.trainAccuracy };
    },
    async evaluate(graph: Graph, data: Split) {
      await ensureBackend();
      const r = evaluate(graph, asDataset(data), { batchSize: options.evaluateBatchSize ?? 512 });
      return { accuracy: r.accuracy, loss: r.loss };
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
