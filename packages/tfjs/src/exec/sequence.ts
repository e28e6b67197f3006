/** Kernels of token and sequence ops: embedding, notEqual (a padding mask), and the recurrent layers. */
import * as tf from '@tensorflow/tfjs-core';
import { GATES, recurrentAttrs, type Node, type RecurrentAttrs, type RecurrentOp } from '@condense/ir';
import { activate } from './activations.js';
import { registerKernel } from './kernels.js';

type Params = Record<string, tf.Tensor>;

function embedding(_node: Node, [ids]: tf.Tensor[], p: Params): tf.Tensor {
  return tf.gather(p.embeddings, ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32'));
}

/** A cell: the gates' input projections of one step and the state -> the new state (h first). */
type Cell = (zx: tf.Tensor2D, state: tf.Tensor2D[]) => tf.Tensor2D[];

/** The cells in Keras' formulation (gate order lstm [i, f, c, o], gru [z, r, h]). */
function cellOf(op: RecurrentOp, a: RecurrentAttrs, u: tf.Tensor2D, recurrentBias: tf.Tensor | undefined): Cell {
  const act = (x: tf.Tensor) => activate(a.activation, x) as tf.Tensor2D;
  const gate = (x: tf.Tensor) => activate(a.recurrentActivation, x) as tf.Tensor2D;
  const units = u.shape[0];
  if (op === 'simpleRnn') return (zx, [h]) => [act(tf.add(zx, tf.matMul(h, u)))];
  if (op === 'lstm') {
    return (zx, [h, c]) => {
      const [i, f, cc, o] = tf.split(tf.add(zx, tf.matMul(h, u)), 4, 1);
      const c2 = tf.add(tf.mul(gate(f), c), tf.mul(gate(i), act(cc))) as tf.Tensor2D;
      return [tf.mul(gate(o), act(c2)) as tf.Tensor2D, c2];
    };
  }
  const [uzr, uh] = tf.split(u, [2 * units, units], 1);
  return (zx, [h]) => {
    const [xzr, xh] = tf.split(zx, [2 * units, units], 1);
    let candidate: tf.Tensor;
    let zr: tf.Tensor;
    if (a.resetAfter) {
      // r * (h U_h + b_h): the reset gate after the recurrent product (Keras 3's default).
      const inner = tf.add(tf.matMul(h, u), recurrentBias as tf.Tensor);
      const [izr, ih] = tf.split(inner, [2 * units, units], 1);
      zr = gate(tf.add(xzr, izr));
      const [, r] = tf.split(zr, 2, 1);
      candidate = act(tf.add(xh, tf.mul(r, ih)));
    } else {
      zr = gate(tf.add(xzr, tf.matMul(h, uzr)));
      const [, r] = tf.split(zr, 2, 1);
      candidate = act(tf.add(xh, tf.matMul(tf.mul(r, h) as tf.Tensor2D, uh)));
    }
    const [z] = tf.split(zr, 2, 1);
    return [tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), candidate)) as tf.Tensor2D];
  };
}

/**
 * A recurrent layer unrolled over the steps: the input projections of all steps in one matMul,
 * then the cell step by step. A masked step keeps the state and repeats the previous output
 * (0 with zeroMaskedOutputs), as Keras.
 */
const recurrent =
  (op: RecurrentOp) =>
  (node: Node, [x, mask]: tf.Tensor[], p: Params): tf.Tensor => {
    const a = recurrentAttrs(node.attrs);
    const [n, t, c] = x.shape;
    const units = p.recurrentKernel.shape[0];
    const width = GATES[op] * units;
    // A resetAfter gru's bias is [input bias; recurrent bias].
    const [inputBias, recurrentBias] = op === 'gru' && a.resetAfter && p.bias ? tf.unstack(p.bias) : [p.bias, undefined];
    const zx = tf.reshape(tf.matMul(tf.reshape(x, [n * t, c]), p.kernel as tf.Tensor2D), [n, t, width]);
    const steps = tf.unstack(inputBias ? tf.add(zx, inputBias) : zx, 1) as tf.Tensor2D[];
    const keeps = mask ? (tf.unstack(tf.reshape(tf.cast(mask, 'float32'), [n, t, 1]), 1) as tf.Tensor2D[]) : undefined;
    const cell = cellOf(op, a, p.recurrentKernel as tf.Tensor2D, recurrentBias);
    let state: tf.Tensor2D[] = Array.from({ length: op === 'lstm' ? 2 : 1 }, () => tf.zeros([n, units]));
    const outputs: tf.Tensor[] = new Array(t);
    for (let s = 0; s < t; s++) {
      const time = a.goBackwards ? t - 1 - s : s;
      const next = cell(steps[time], state);
      const keep = keeps?.[time];
      // keep * new + (1 - keep) * old is exact for a 0/1 mask.
      state = keep ? next.map((v, i) => tf.add(tf.mul(keep, v), tf.mul(tf.sub(1, keep), state[i])) as tf.Tensor2D) : next;
      if (a.returnSequences) outputs[a.alignOutputs ? time : s] = keep && a.zeroMaskedOutputs ? tf.mul(keep, next[0]) : state[0];
    }
    return a.returnSequences ? tf.stack(outputs, 1) : state[0];
  };

export function registerSequenceKernels(): void {
  registerKernel('embedding', embedding);
  registerKernel('notEqual', (node, [x]) => tf.cast(tf.notEqual(x, (node.attrs.value as number | undefined) ?? 0), 'float32'));
  for (const op of Object.keys(GATES) as RecurrentOp[]) registerKernel(op, recurrent(op));
}
