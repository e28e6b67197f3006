import type { ForwardRequest, Runtime, Split, TrainingContribution as AnyContribution, TrainRequest } from '@condense/core';
import type { Graph } from '@condense/ir';
import { ensureBackend } from './backend/index.js';
import { forwardNodes } from './exec/forward.js';
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
 * quantization and frozen params honoured, contributions as its `TrainingContribution`),
 * evaluates top-1 accuracy and cross-entropy, and runs parts of a graph for layer-wise stages
 * (`forward`, see `forwardNodes`), on the backend in use (else the best available).
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
    async forward(graph: Graph, request: ForwardRequest) {
      await ensureBackend();
      return forwardNodes(graph, request);
    },
  };
}
