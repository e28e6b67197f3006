import * as tf from '@tensorflow/tfjs-core';
import { inferShapes, rng, type Graph, type Shape } from '@condense/ir';
import type { LossContext, StepContext, TrainingContribution } from '@condense/tfjs';
import { LogitCache } from './cache.js';
import { hintLoss, kdLoss, nstLoss } from './losses.js';
import { teacherFor, type Teacher } from './teacher.js';

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

export interface FeatureOptions {
  /** Node of the teacher whose output is the target. */
  teacherTap: string;
  /** Node of the student whose output is matched to it. */
  studentTap: string;
  /** Factor on the loss; >= 0. */
  weight: number;
}

export interface HintOptions extends FeatureOptions {
  /** 'auto': a learned 1x1 conv / linear map when the channel counts differ; 'always'; 'none' (counts must agree). */
  adapter?: 'auto' | 'always' | 'none';
  /** Seeds the adapter's initialisation. Default 1. */
  seed?: number;
}

export interface HintContribution extends TrainingContribution {
  /** The adapter's shapes ([Cs, Ct] kernel, [Ct] bias), or undefined when the features are compared directly. */
  adapterShape(): { kernel: number[]; bias: number[] } | undefined;
}

/** Logit caches shared by every KD contribution of a teacher graph (they hold raw logits, so any T reuses them). */
const caches = new WeakMap<Graph, LogitCache>();

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
  let cache: LogitCache | undefined;
  const stats: KdStats = { teacherExamples: 0, cachedExamples: 0 };

  const teacherLogits = (ctx: LossContext): tf.Tensor => {
    const n = ctx.x.shape[0] as number;
    if (!cache || ctx.batchIndices.length !== n) {
      stats.teacherExamples += n;
      return teacher.run(ctx.x).logits;
    }
    const sums = cache.checksums(ctx.x);
    const missing = cache.missing(ctx.batchIndices, sums);
    if (missing.length === n) {
      cache.store(ctx.batchIndices, sums, missing, teacher.run(ctx.x).logits.dataSync() as Float32Array);
    } else if (missing.length > 0) {
      const rows = tf.gather(ctx.x, missing);
      cache.store(ctx.batchIndices, sums, missing, teacher.run(rows).logits.dataSync() as Float32Array);
      rows.dispose();
    }
    stats.teacherExamples += missing.length;
    stats.cachedExamples += n - missing.length;
    return cache.gather(ctx.batchIndices);
  };

  return {
    name,
    taskLossWeight: 1 - o.alpha,
    begin(ctx) {
      const model = activate(teacher, ctx, name);
      if (useCache) {
        const classes = model.outputShape.at(-1) as number;
        cache = caches.get(teacherGraph);
        if (cache?.classes !== classes) caches.set(teacherGraph, (cache = new LogitCache(classes)));
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

/**
 * FitNets hint: weight * mean((adapter(student tap) - teacher tap)^2). The adapter (a 1x1 conv on
 * feature maps, a linear map on vectors: both a matmul on the channel axis) is a variable of the
 * contribution, trained with the student and disposed at the end: it never enters the graph.
 */
export function hintContribution(teacherGraph: Graph, student: Graph, o: HintOptions, name = 'distill.hint'): HintContribution {
  checkWeight(o.weight, name);
  const teacher = teacherFor(teacherGraph);
  teacher.addTap(o.teacherTap, `${name}: teacherTap`);
  checkTap(student, o.studentTap, name);
  const mode = o.adapter ?? 'auto';
  let adapter: { kernel: tf.Variable; bias: tf.Variable } | undefined;

  const shapes = () => {
    const s = tapShape(student, o.studentTap, 'student');
    const t = tapShape(teacherGraph, o.teacherTap, 'teacher');
    if (s.length !== t.length || s.slice(1, -1).some((d, i) => d !== t[i + 1])) {
      throw new Error(`${name}: student tap '${o.studentTap}' [${s.slice(1).join(', ')}] and teacher tap '${o.teacherTap}' [${t.slice(1).join(', ')}] must agree on every axis but channels`);
    }
    const [cs, ct] = [s.at(-1) as number, t.at(-1) as number];
    if (mode === 'none' && cs !== ct) throw new Error(`${name}: adapter 'none' needs equal channel counts, student '${o.studentTap}' has ${cs}, teacher '${o.teacherTap}' ${ct}`);
    return { cs, ct, needed: mode === 'always' || (mode === 'auto' && cs !== ct) };
  };
  shapes();
  const key = `${name}/${o.studentTap}->${o.teacherTap}`;

  return {
    name,
    taps: [o.studentTap],
    variables() {
      const { cs, ct, needed } = shapes();
      if (needed && !adapter) adapter = makeAdapter(cs, ct, o.seed ?? 1, key);
      return adapter ? new Map([[`${key}/kernel`, adapter.kernel], [`${key}/bias`, adapter.bias]]) : new Map();
    },
    begin(ctx) {
      const now = tapShape(ctx.graph, o.studentTap, 'student').at(-1);
      const want = adapter ? adapter.kernel.shape[0] : shapes().ct;
      if (now !== want) throw new Error(`${name}: student tap '${o.studentTap}' has ${now} channels in the graph being trained, the hint was set up for ${want} (the graph changed after the distill stage)`);
      activate(teacher, ctx, name);
    },
    loss(ctx) {
      const target = teacher.run(ctx.x).taps[o.teacherTap];
      const s = ctx.taps[o.studentTap];
      return tf.tidy(() => tf.mul(hintLoss(adapter ? applyAdapter(s, adapter) : s, target), o.weight) as tf.Scalar);
    },
    end() {
      teacher.release();
      adapter?.kernel.dispose();
      adapter?.bias.dispose();
      adapter = undefined;
    },
    adapterShape: () => {
      const { cs, ct, needed } = shapes();
      return needed ? { kernel: [cs, ct], bias: [ct] } : undefined;
    },
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
  if (s.length !== 4 || t.length !== 4) throw new Error(`${name}: NST needs feature maps [H, W, C]: student '${o.studentTap}' is [${s.slice(1).join(', ')}], teacher '${o.teacherTap}' [${t.slice(1).join(', ')}]`);
  if (s[1] !== t[1] || s[2] !== t[2]) throw new Error(`${name}: student tap '${o.studentTap}' is ${s[1]}x${s[2]}, teacher tap '${o.teacherTap}' ${t[1]}x${t[2]}: NST needs the same spatial size`);
  return {
    name,
    taps: [o.studentTap],
    begin: (ctx) => void activate(teacher, ctx, name),
    loss(ctx) {
      // Outside any tidy: the teacher's outputs are shared with the other contributions of this step.
      const target = teacher.run(ctx.x).taps[o.teacherTap];
      return tf.tidy(() => tf.mul(nstLoss(ctx.taps[o.studentTap], target), o.weight) as tf.Scalar);
    },
    end: () => teacher.release(),
  };
}

/** Compile (or share) the teacher and check it fits the student being trained. */
function activate(teacher: Teacher, ctx: StepContext, name: string) {
  const model = teacher.acquire();
  const student = ctx.model;
  const fail = (msg: string) => {
    teacher.release();
    throw new Error(`${name}: ${msg}`);
  };
  const [ti, si] = [model.inputShapes[0], student.inputShapes[0]];
  if (ti.length !== si.length || ti.some((d, i) => d !== si[i])) fail(`the teacher '${teacher.graph.name}' takes inputs [${ti.join(', ')}], the student '${ctx.graph.name}' [${si.join(', ')}]`);
  const [tc, sc] = [model.outputShape.at(-1), student.outputShape.at(-1)];
  if (tc !== sc) fail(`the teacher '${teacher.graph.name}' has ${tc} outputs, the student '${ctx.graph.name}' ${sc}`);
  return model;
}

function checkWeight(w: number, name: string): void {
  if (!(Number.isFinite(w) && w >= 0)) throw new Error(`${name}: weight must be a finite number >= 0, got ${w}`);
}

function checkTap(graph: Graph, tap: string, name: string): void {
  if (!graph.nodes.some((n) => n.name === tap)) {
    throw new Error(`${name}: studentTap '${tap}' is not a node of the student '${graph.name}' (nodes: ${graph.nodes.map((n) => n.name).join(', ')})`);
  }
}

/** The shape of a node's output, batch axis first (null). */
function tapShape(graph: Graph, tap: string, who: string): number[] {
  const shape: Shape | undefined = inferShapes(graph).get(tap);
  if (!shape) throw new Error(`no node '${tap}' in the ${who} '${graph.name}'`);
  return shape.map((d) => d ?? -1);
}

let adapterCount = 0;

/** Glorot-uniform kernel [cs, ct] and zero bias, as Keras initialises a 1x1 conv or a dense layer. */
function makeAdapter(cs: number, ct: number, seed: number, key: string) {
  const r = rng(seed);
  const limit = Math.sqrt(6 / (cs + ct));
  const id = `${key}#${++adapterCount}`;
  return tf.tidy(() => ({
    kernel: tf.variable(tf.tensor2d(Float32Array.from({ length: cs * ct }, () => (r() * 2 - 1) * limit), [cs, ct]), true, `${id}/kernel`),
    bias: tf.variable(tf.zeros([ct]), true, `${id}/bias`),
  }));
}

/** A matmul on the last (channel) axis: a 1x1 convolution on [N, H, W, C], a dense layer on [N, C]. */
function applyAdapter(x: tf.Tensor, a: { kernel: tf.Variable; bias: tf.Variable }): tf.Tensor {
  const cs = x.shape.at(-1) as number;
  const flat = tf.reshape(x, [-1, cs]);
  const y = tf.add(tf.matMul(flat, a.kernel), a.bias);
  return tf.reshape(y, [...x.shape.slice(0, -1), a.kernel.shape[1] as number]);
}
