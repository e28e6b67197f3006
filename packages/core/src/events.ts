import type { Snapshot } from './snapshot.js';

/** Progress of a pipeline run, for progress bars and reports. */
export type PipelineEvent =
  | { type: 'stageStart'; index: number; name: string; total: number }
  | { type: 'stageEnd'; index: number; name: string; snapshot: Snapshot }
  | { type: 'epoch'; index: number; epoch: number; epochs: number; loss: number; accuracy?: number; samplesPerSec?: number }
  | { type: 'step'; index: number; step: number; steps: number; loss?: number }
  | { type: 'progress'; index: number; label: string; done: number; total: number }
  | { type: 'log'; index: number; message: string };
