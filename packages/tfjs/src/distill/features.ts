import * as tf from '@tensorflow/tfjs-core';
import { inferShapes, rng, type Graph, type Shape } from '@condense/ir';
import type { StepContext, TrainingContribution } from '../train/contribution.js';
import { hintLoss } from './losses.js';
import { teacherFor, type Teacher } from './teacher.js';

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
      throw new Error(
        `${name}: student tap '${o.studentTap}' [${s.slice(1).join(', ')}] and teacher tap '${o.teacherTap}' [${t.slice(1).join(', ')}] must agree on every axis but channels`,
      );
    }
    const [cs, ct] = [s.at(-1) as number, t.at(-1) as number];
    if (mode === 'none' && cs !== ct)
      throw new Error(`${name}: adapter 'none' needs equal channel counts, student '${o.studentTap}' has ${cs}, teacher '${o.teacherTap}' ${ct}`);
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
      return adapter
        ? new Map([
            [`${key}/kernel`, adapter.kernel],
            [`${key}/bias`, adapter.bias],
          ])
        : new Map();
    },
    begin(ctx) {
      const now = tapShape(ctx.graph, o.studentTap, 'student').at(-1);
      const want = adapter ? adapter.kernel.shape[0] : shapes().ct;
      if (now !== want)
        throw new Error(
          `${name}: student tap '${o.studentTap}' has ${now} channels in the graph being trained, the hint was set up for ${want} (the graph changed after the distill stage)`,
        );
      activateTeacher(teacher, ctx, name);
    },
    loss(ctx) {
      const target = teacher.run(ctx.inputs).taps[o.teacherTap];
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

/** Compile (or share) the teacher and check it fits the student being trained. */
export function activateTeacher(teacher: Teacher, ctx: StepContext, name: string) {
  const model = teacher.acquire();
  const student = ctx.model;
  const fail = (msg: string) => {
    teacher.release();
    throw new Error(`${name}: ${msg}`);
  };
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  if (model.inputShapes.length !== student.inputShapes.length)
    fail(`the teacher '${teacher.graph.name}' takes ${model.inputShapes.length} inputs, the student '${ctx.graph.name}' ${student.inputShapes.length}`);
  model.inputShapes.forEach((ti, i) => {
    const si = student.inputShapes[i];
    if (!same(ti, si)) fail(`the teacher '${teacher.graph.name}' takes inputs [${ti.join(', ')}], the student '${ctx.graph.name}' [${si.join(', ')}]`);
  });
  if (model.outputShapes.length !== student.outputShapes.length)
    fail(
      `the teacher '${teacher.graph.name}' has ${model.outputShapes.length} outputs (model outputs), the student '${ctx.graph.name}' ${student.outputShapes.length}`,
    );
  model.outputShapes.forEach((to, i) => {
    const so = student.outputShapes[i];
    if (!same(to, so))
      fail(
        `the teacher '${teacher.graph.name}' has ${to.at(-1)} outputs, the student '${ctx.graph.name}' ${so.at(-1)}${model.outputShapes.length > 1 ? ` (output ${i})` : ''}`,
      );
  });
  return model;
}

export function checkWeight(w: number, name: string): void {
  if (!(Number.isFinite(w) && w >= 0)) throw new Error(`${name}: weight must be a finite number >= 0, got ${w}`);
}

export function checkTap(graph: Graph, tap: string, name: string): void {
  if (!graph.nodes.some((n) => n.name === tap)) {
    throw new Error(`${name}: studentTap '${tap}' is not a node of the student '${graph.name}' (nodes: ${graph.nodes.map((n) => n.name).join(', ')})`);
  }
}

/** The shape of a node's output, batch axis first (null). */
export function tapShape(graph: Graph, tap: string, who: string): number[] {
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
    kernel: tf.variable(
      tf.tensor2d(
        Float32Array.from({ length: cs * ct }, () => (r() * 2 - 1) * limit),
        [cs, ct],
      ),
      true,
      `${id}/kernel`,
    ),
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
