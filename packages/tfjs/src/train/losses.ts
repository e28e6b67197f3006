import * as tf from '@tensorflow/tfjs-core';
import type { ArrayTensor, LossConfig, LossName } from '@condense/core';
import { crossEntropy } from './metrics.js';

/** What a loss sees of one output: its value (after the activation) and, for a softmax output, the logits. */
export interface OutputValue {
  output: tf.Tensor;
  logits?: tf.Tensor;
  /** The output's activation ('softmax', 'sigmoid', 'linear', ...). */
  activation: string;
}

/** A user loss: per-example values [n] (or a scalar mean) from the targets and the output. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor, extra: { logits?: tf.Tensor }) => tf.Tensor;

/** A loss ready to run on one output. */
export interface Loss {
  /** For reports: the loss name. */
  readonly name: string;
  /** Per-example losses [n]. */
  perExample(y: tf.Tensor, v: OutputValue): tf.Tensor1D;
  /** The batch mean (same value as mean(perExample), sometimes by a faster route). */
  mean(y: tf.Tensor, v: OutputValue): tf.Scalar;
  /** Check a batch of targets against the output's per-example shape; errors name `where` and the example. */
  check(y: ArrayTensor, output: readonly number[], where: string, indices: Int32Array): void;
  /** The dtype targets are given to the loss in. */
  readonly targetDtype: 'float32' | 'int32';
  /** Whether the output is probabilities read as logits (for accuracy thresholds): true for logits losses. */
  readonly fromLogits: boolean;
}

const EPS = 1e-7;

/** Mean over every axis but the first: [n, ...] -> [n]. */
function perRow(t: tf.Tensor): tf.Tensor1D {
  return (
    t.rank <= 1
      ? t
      : tf.mean(
          t,
          Array.from({ length: t.rank - 1 }, (_, i) => i + 1),
        )
  ) as tf.Tensor1D;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Targets of the output's shape, or of the output's shape without a trailing 1 (a [n] target for [n, 1]). */
function checkSameShape(y: ArrayTensor, output: readonly number[], where: string): void {
  const got = y.shape.slice(1);
  const same = got.length === output.length && got.every((d, i) => d === output[i]);
  const squeezed = output.at(-1) === 1 && got.length === output.length - 1 && got.every((d, i) => d === output[i]);
  if (!same && !squeezed) throw new Error(`${where}: targets have example shape ${fmt(got)}, the output ${fmt(output)}`);
}

function checkRange(y: ArrayTensor, lo: number, hi: number, integer: boolean, where: string, indices: Int32Array, what: string): void {
  const row = y.values.length / Math.max(y.shape[0], 1);
  for (let i = 0; i < y.values.length; i++) {
    const v = y.values[i];
    if (!(v >= lo && v <= hi) || (integer && !Number.isInteger(v))) {
      throw new Error(
        `${where}: ${what} ${v} at example ${indices[Math.floor(i / row)] ?? Math.floor(i / row)} is out of range ${integer ? `for ${hi + 1} classes` : `[${lo}, ${hi}]`}`,
      );
    }
  }
}

/** Reshape a [n] target to the output's [n, 1]. */
const like = (y: tf.Tensor, out: tf.Tensor) => (y.rank === out.rank ? y : tf.reshape(y, out.shape));

function sparseCategorical(fromLogits: boolean): Loss {
  const logitsOf = (v: OutputValue) => (fromLogits ? (v.logits ?? v.output) : tf.log(tf.clipByValue(v.output, EPS, 1)));
  return {
    name: 'sparseCategoricalCrossentropy',
    targetDtype: 'int32',
    fromLogits,
    perExample: (y, v) => {
      const z = logitsOf(v);
      const k = z.shape.at(-1) as number;
      const lp = tf.sub(z, tf.logSumExp(z, [-1], true));
      return perRow(tf.neg(tf.sum(tf.mul(lp, tf.oneHot(tf.cast(y, 'int32') as tf.Tensor1D, k)), -1)));
    },
    // The trainer's historic route: a custom gradient, the same math, faster on WASM.
    mean: (y, v) => crossEntropy({ output: v.output, logits: fromLogits ? (v.logits ?? v.output) : logitsOf(v) }, y, v.output.shape.at(-1) as number),
    check(y, output, where, indices) {
      const got = y.shape.slice(1);
      const want = output.slice(0, -1);
      if (got.length !== want.length || got.some((d, i) => d !== want[i]))
        throw new Error(`${where}: class-index targets need example shape ${fmt(want)} for the output ${fmt(output)}, got ${fmt(got)}`);
      checkRange(y, 0, (output.at(-1) as number) - 1, true, where, indices, 'label');
    },
  };
}

function categorical(fromLogits: boolean): Loss {
  const logProbs = (v: OutputValue) => {
    if (!fromLogits) return tf.log(tf.clipByValue(tf.div(v.output, tf.sum(v.output, -1, true)), EPS, 1));
    const z = v.logits ?? v.output;
    return tf.sub(z, tf.logSumExp(z, [-1], true));
  };
  const perExample = (y: tf.Tensor, v: OutputValue) => perRow(tf.neg(tf.sum(tf.mul(logProbs(v), y), -1)));
  return {
    name: 'categoricalCrossentropy',
    targetDtype: 'float32',
    fromLogits,
    perExample,
    mean: (y, v) => tf.mean(perExample(y, v)) as tf.Scalar,
    check: (y, output, where) => {
      const got = y.shape.slice(1);
      if (got.length !== output.length || got.some((d, i) => d !== output[i]))
        throw new Error(`${where}: one-hot / probability targets need example shape ${fmt(output)}, got ${fmt(got)}`);
    },
  };
}

function binary(fromLogits: boolean): Loss {
  const perExample = (y: tf.Tensor, v: OutputValue) => {
    const t = like(y, v.output);
    if (fromLogits) {
      // max(z, 0) - z y + log(1 + exp(-|z|)): stable for any z.
      const z = v.output;
      return perRow(tf.add(tf.sub(tf.relu(z), tf.mul(z, t)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))));
    }
    const p = tf.clipByValue(v.output, EPS, 1 - EPS);
    return perRow(tf.neg(tf.add(tf.mul(t, tf.log(p)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, p))))));
  };
  return {
    name: 'binaryCrossentropy',
    targetDtype: 'float32',
    fromLogits,
    perExample,
    mean: (y, v) => tf.mean(perExample(y, v)) as tf.Scalar,
    check(y, output, where, indices) {
      checkSameShape(y, output, where);
      checkRange(y, 0, 1, false, where, indices, 'target');
    },
  };
}

function elementwise(name: LossName, f: (d: tf.Tensor, y: tf.Tensor, p: tf.Tensor) => tf.Tensor): Loss {
  const perExample = (y: tf.Tensor, v: OutputValue) => {
    const t = like(y, v.output);
    return perRow(f(tf.sub(v.output, t), t, v.output));
  };
  return {
    name,
    targetDtype: 'float32',
    fromLogits: false,
    perExample,
    mean: (y, v) => tf.mean(perExample(y, v)) as tf.Scalar,
    check: (y, output, where) => checkSameShape(y, output, where),
  };
}

function huber(delta: number): Loss {
  if (!(delta > 0)) throw new Error(`loss huber: delta must be > 0, got ${delta}`);
  return elementwise('huber', (d) => {
    const a = tf.abs(d);
    const q = tf.minimum(a, delta);
    return tf.add(tf.mul(0.5, tf.square(q)), tf.mul(delta, tf.sub(a, q)));
  });
}

/** Keras's cosine similarity loss: -cos(y, p) along the last axis (so -1 is a perfect match). */
function cosine(): Loss {
  const l2 = (t: tf.Tensor) => tf.div(t, tf.sqrt(tf.maximum(tf.sum(tf.square(t), -1, true), 1e-12)));
  const perExample = (y: tf.Tensor, v: OutputValue) => perRow(tf.neg(tf.sum(tf.mul(l2(like(y, v.output)), l2(v.output)), -1, true)));
  return {
    name: 'cosineSimilarity',
    targetDtype: 'float32',
    fromLogits: false,
    perExample,
    mean: (y, v) => tf.mean(perExample(y, v)) as tf.Scalar,
    check: (y, output, where) => checkSameShape(y, output, where),
  };
}

/** A named loss for an output with this activation (cross-entropies read logits unless the output ends in a softmax / sigmoid). */
export function builtinLoss(c: LossConfig, activation: string): Loss {
  const probabilities = c.fromLogits === undefined ? activation === 'softmax' || activation === 'sigmoid' : !c.fromLogits;
  switch (c.type) {
    case 'sparseCategoricalCrossentropy':
      return sparseCategorical(!probabilities || activation === 'softmax');
    case 'categoricalCrossentropy':
      return categorical(!probabilities || activation === 'softmax');
    case 'binaryCrossentropy':
      return binary(!probabilities);
    case 'meanSquaredError':
      return elementwise('meanSquaredError', (d) => tf.square(d));
    case 'meanAbsoluteError':
      return elementwise('meanAbsoluteError', (d) => tf.abs(d));
    case 'huber':
      return huber(c.delta ?? 1);
    case 'cosineSimilarity':
      return cosine();
    default:
      throw new Error(`unknown loss '${String((c as { type: unknown }).type)}'`);
  }
}

/** A user function as a loss: per-example values [n], or a scalar taken as the batch mean. */
export function userLoss(name: string, fn: LossFn): Loss {
  const run = (y: tf.Tensor, v: OutputValue) => {
    const out = fn(y, v.output, { logits: v.logits });
    if (!(out instanceof tf.Tensor)) throw new Error(`loss '${name}': the function must return a tensor, got ${typeof out}`);
    return out;
  };
  return {
    name,
    targetDtype: 'float32',
    fromLogits: false,
    perExample: (y, v) => {
      const out = run(y, v);
      if (out.rank === 0) throw new Error(`loss '${name}': returns a scalar; per-example weights need one value per example`);
      return perRow(out);
    },
    mean: (y, v) => tf.mean(run(y, v)) as tf.Scalar,
    check: () => {},
  };
}
