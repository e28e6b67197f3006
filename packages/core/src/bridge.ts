import type { Graph } from '@condense/ir';
import { ensureBackend, evaluate, train, type TrainingContribution } from '@condense/tfjs';
import type { FinetuneOptions, Split } from './context.js';

/** The pipeline's only contact with training and evaluation, so the rest of core stays framework-neutral. */

const asData = (s: Split) => ({ x: s.images, y: s.labels, count: s.count, shape: [...s.shape] });

export async function runEvaluate(graph: Graph, split: Split): Promise<{ accuracy: number; loss: number }> {
  await ensureBackend();
  const r = await evaluate(graph, asData(split), { batchSize: 512 });
  return { accuracy: r.accuracy, loss: r.loss };
}

export interface FinetuneHooks {
  seed: number;
  signal?: AbortSignal;
  onEpoch?: (e: { epoch: number; epochs: number; loss: number; accuracy?: number; samplesPerSec?: number }) => void;
}

export async function runFinetune(
  graph: Graph,
  split: Split,
  options: FinetuneOptions,
  contributions: TrainingContribution[],
  hooks: FinetuneHooks,
): Promise<{ finalLoss: number; trainAccuracy: number }> {
  await ensureBackend();
  const summary = await train(graph, asData(split), {
    epochs: options.epochs,
    batchSize: options.batchSize,
    optimizer: options.optimizer === 'sgd' ? { type: 'sgd', momentum: options.momentum } : 'adam',
    learningRate: options.learningRate,
    weightDecay: options.weightDecay,
    schedule: { type: options.schedule },
    augment: options.augment,
    seed: hooks.seed,
    signal: hooks.signal,
    contributions,
    onEvent: (e) => {
      if (e.type === 'epochEnd') hooks.onEpoch?.({ epoch: e.epoch + 1, epochs: options.epochs, loss: e.loss ?? NaN, accuracy: e.accuracy, samplesPerSec: e.samplesPerSec });
    },
  });
  return { finalLoss: summary.finalLoss, trainAccuracy: summary.trainAccuracy };
}
