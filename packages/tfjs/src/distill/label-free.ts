import * as tf from '@tensorflow/tfjs-core';
import { outputActivation, type LabelFreeOptions } from '@condense/core';
import type { Graph } from '@condense/ir';
import type { LossContext, TrainingContribution } from '../train/contribution.js';
import { cachedOutputs, DEFAULT_CACHE_BYTES, OutputCache } from './cache.js';
import { activateTeacher, hintContribution, type HintContribution } from './features.js';
import { kdLoss } from './losses.js';
import { teacherFor } from './teacher.js';

/** How an output is matched to the teacher's: softened KL (softmax), BCE against its probabilities (sigmoid), MSE (the rest). */
export type MatchKind = 'kl' | 'bce' | 'mse';

export interface LabelFreeStats {
  /** Examples the teacher ran on. */
  teacherExamples: number;
  /** Examples whose teacher outputs came from the cache. */
  cachedExamples: number;
  /** The match of every output, in output order. */
  matches: MatchKind[];
  /** Examples the cache holds within its memory budget. */
  cacheCapacity: number;
}

export interface LabelFreeContribution extends TrainingContribution {
  stats(): LabelFreeStats;
}

export const DEFAULT_LABEL_FREE_TEMPERATURE = 2;

/** Teacher-output caches per teacher graph, shared by the label-free fine-tunes of a run (same data: no teacher pass after the first epoch). */
const caches = new WeakMap<Graph, OutputCache>();

export const matchOf = (activation: string): MatchKind => (activation === 'softmax' ? 'kl' : activation === 'sigmoid' ? 'bce' : 'mse');

/** BCE of the student's probabilities against the teacher's (soft targets), batch mean. */
function softBce(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  const p = tf.clipByValue(student, 1e-7, 1 - 1e-7);
  return tf.mean(tf.neg(tf.add(tf.mul(teacher, tf.log(p)), tf.mul(tf.sub(1, teacher), tf.log(tf.sub(1, p)))))) as tf.Scalar;
}

/**
 * Label-free recovery: the model before compression (`teacherGraph`) is the target. Per output,
 * softmax: T^2 KL(teacher_T || student_T) (the distillation loss with alpha 1); sigmoid: binary
 * cross-entropy against the teacher's probabilities; otherwise MSE to the teacher's output; plus
 * optional FitNets hints. Task losses get weight 0 (the teacher replaces any targets). Teacher
 * outputs are cached per example within `cacheBytes`, shared by every fine-tune on the teacher.
 */
export function labelFreeContribution(teacherGraph: Graph, student: Graph, o: LabelFreeOptions = {}, name = 'label-free'): LabelFreeContribution {
  const temperature = o.temperature ?? DEFAULT_LABEL_FREE_TEMPERATURE;
  if (!(Number.isFinite(temperature) && temperature > 0)) throw new Error(`${name}: temperature must be > 0, got ${temperature}`);
  const budget = o.cacheBytes ?? DEFAULT_CACHE_BYTES;
  if (!(budget >= 0)) throw new Error(`${name}: cacheBytes must be >= 0, got ${budget}`);
  const teacher = teacherFor(teacherGraph);
  const matches = teacherGraph.outputs.map((out) => matchOf(outputActivation(teacherGraph, out)));
  const hints: HintContribution[] = (o.hints ?? []).map((h, i) =>
    hintContribution(teacherGraph, student, { teacherTap: h.teacherTap, studentTap: h.studentTap, weight: h.weight ?? 1 }, `${name}.hint${i + 1}`),
  );
  let cache: OutputCache | undefined;
  let shapes: number[][] = [];
  const stats = { teacherExamples: 0, cachedExamples: 0 };

  const targets = (ctx: LossContext): tf.Tensor[] => {
    const n = ctx.x.shape[0] as number;
    if (!cache) {
      stats.teacherExamples += n;
      return teacher.run(ctx.inputs).outputs;
    }
    const r = cachedOutputs(cache, ctx.inputs, ctx.batchIndices, shapes, (xs) => teacher.run(xs).outputs);
    stats.teacherExamples += r.computed;
    stats.cachedExamples += n - r.computed;
    return r.outputs;
  };

  return {
    name,
    taskLossWeight: 0,
    taps: [...new Set(hints.flatMap((h) => h.taps ?? []))],
    variables() {
      return new Map(hints.flatMap((h) => [...(h.variables?.() ?? new Map())]));
    },
    begin(ctx) {
      const model = activateTeacher(teacher, ctx, name);
      shapes = model.outputShapes;
      if (budget > 0) {
        cache = caches.get(teacherGraph);
        if (!cache?.fits(shapes) || cache.budgetBytes !== budget) caches.set(teacherGraph, (cache = new OutputCache(shapes, budget)));
        cache.setVersion(teacher.version);
      }
      for (const h of hints) h.begin?.(ctx);
    },
    loss(ctx) {
      const t = targets(ctx);
      const terms = matches.map((m, k) => {
        if (m === 'kl') return kdLoss(ctx.outputLogits[k] ?? ctx.outputs[k], t[k], { temperature, alpha: 1 });
        if (m === 'bce') return softBce(ctx.outputs[k], t[k]);
        return tf.mean(tf.squaredDifference(ctx.outputs[k], t[k])) as tf.Scalar;
      });
      for (const h of hints) if (h.loss) terms.push(h.loss(ctx));
      return (terms.length === 1 ? terms[0] : tf.addN(terms)) as tf.Scalar;
    },
    end(ctx) {
      for (const h of hints) h.end?.(ctx);
      teacher.release();
      cache?.dispose();
    },
    stats: () => ({ ...stats, matches, cacheCapacity: cache?.capacity ?? 0 }),
  };
}
