import * as tf from '@tensorflow/tfjs-core';
import type { Graph } from '@condense/ir';
import {
  activateTeacher,
  cachedOutputs,
  checkTap,
  checkWeight,
  kdLoss,
  OutputCache,
  tapShape,
  teacherFor,
  type FeatureOptions,
  type LossContext,
  type TrainingContribution,
} from '@condense/tfjs';
import { nstLoss } from './losses.js';

export { hintContribution, type FeatureOptions, type HintOptions, type HintContribution } from '@condense/tfjs';

export interface KdOptions {
  /** Softmax temperature T of both teacher and student in the soft loss; > 0. */
  temperature: number;
  /** Weight of the soft loss (times T^2); the task cross-entropy gets 1 - alpha. In [0, 1]. */
  alpha: number;
  /** Cache the teacher's logits per dataset index (default true). */
  cache?: boolean;
}

export interface KdStats {
  /** Examples whose teacher logits were computed by running the teacher. */
  teacherExamples: number;
  /** Examples served from the logit cache. */
  cachedExamples: number;
}

export interface KdContribution extends TrainingContribution {
  stats(): KdStats;
}

/** Teacher-output caches shared by every KD contribution of a teacher graph (they hold raw logits, so any T reuses them). */
const caches = new WeakMap<Graph, OutputCache>();

/**
 * Hinton knowledge distillation: adds alpha * T^2 * KL(teacher_T || student_T) and weights the
 * trainer's cross-entropy by 1 - alpha. The teacher is frozen and runs in inference mode; its
 * logits are cached per dataset index (checked against a checksum of the input), so later epochs
 * do not run it again.
 */
export function kdContribution(teacherGraph: Graph, o: KdOptions, name = 'distill.kd'): KdContribution {
  if (!(Number.isFinite(o.temperature) && o.temperature > 0)) throw new Error(`${name}: temperature must be > 0, got ${o.temperature}`);
  if (!(o.alpha >= 0 && o.alpha <= 1)) throw new Error(`${name}: alpha must be in [0, 1], got ${o.alpha}`);
  const teacher = teacherFor(teacherGraph);
  const useCache = o.cache ?? true;
  let cache: OutputCache | undefined;
  let shape: number[] = [];
  const stats: KdStats = { teacherExamples: 0, cachedExamples: 0 };

  const teacherLogits = (ctx: LossContext): tf.Tensor => {
    const n = ctx.x.shape[0] as number;
    if (!cache) {
      stats.teacherExamples += n;
      return teacher.run(ctx.inputs).logits;
    }
    const r = cachedOutputs(cache, ctx.inputs, ctx.batchIndices, [shape], (xs) => [teacher.run(xs).logits]);
    stats.teacherExamples += r.computed;
    stats.cachedExamples += n - r.computed;
    return r.outputs[0];
  };

  return {
    name,
    taskLossWeight: 1 - o.alpha,
    begin(ctx) {
      const model = activateTeacher(teacher, ctx, name);
      shape = model.outputShape;
      if (useCache) {
        cache = caches.get(teacherGraph);
        if (!cache?.fits([shape])) caches.set(teacherGraph, (cache = new OutputCache([shape])));
        cache.setVersion(teacher.version);
      }
    },
    loss: (ctx) => kdLoss(ctx.logits ?? ctx.output, teacherLogits(ctx), o),
    end() {
      teacher.release();
      cache?.dispose();
    },
    stats: () => ({ ...stats }),
  };
}

/** Neuron Selectivity Transfer: weight * MMD^2 (polynomial kernel, d = 2, c = 0) between normalised teacher and student maps. */
export function nstContribution(teacherGraph: Graph, student: Graph, o: FeatureOptions, name = 'distill.nst'): TrainingContribution {
  checkWeight(o.weight, name);
  const teacher = teacherFor(teacherGraph);
  teacher.addTap(o.teacherTap, `${name}: teacherTap`);
  checkTap(student, o.studentTap, name);
  const s = tapShape(student, o.studentTap, 'student');
  const t = tapShape(teacherGraph, o.teacherTap, 'teacher');
  if (s.length !== 4 || t.length !== 4)
    throw new Error(
      `${name}: NST needs feature maps [H, W, C]: student '${o.studentTap}' is [${s.slice(1).join(', ')}], teacher '${o.teacherTap}' [${t.slice(1).join(', ')}]`,
    );
  if (s[1] !== t[1] || s[2] !== t[2])
    throw new Error(
      `${name}: student tap '${o.studentTap}' is ${s[1]}x${s[2]}, teacher tap '${o.teacherTap}' ${t[1]}x${t[2]}: NST needs the same spatial size`,
    );
  return {
    name,
    taps: [o.studentTap],
    begin: (ctx) => void activateTeacher(teacher, ctx, name),
    loss(ctx) {
      // Outside any tidy: the teacher's outputs are shared with the other contributions of this step.
      const target = teacher.run(ctx.inputs).taps[o.teacherTap];
      return tf.tidy(() => tf.mul(nstLoss(ctx.taps[o.studentTap], target), o.weight) as tf.Scalar);
    },
    end: () => teacher.release(),
  };
}
