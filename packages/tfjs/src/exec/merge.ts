/** Elementwise merge kernels (broadcasting): multiply, subtract, average, maximum, minimum. */
import * as tf from '@tensorflow/tfjs-core';
import { MERGES, type MergeOp } from '@condense/ir';
import { registerKernel } from './kernels.js';

const BINARY: Record<MergeOp, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  multiply: tf.mul,
  subtract: tf.sub,
  average: tf.add,
  maximum: tf.maximum,
  minimum: tf.minimum,
};

/** The broadcast shape of the inputs (dimensions equal or 1). */
const broadcastShape = (inputs: tf.Tensor[]) => inputs[0].shape.map((_, i) => Math.max(...inputs.map((t) => t.shape[i])));

export function registerMergeKernels(): void {
  for (const op of Object.keys(MERGES) as MergeOp[]) {
    registerKernel(op, (_node, inputs) => {
      // tf's Maximum / Minimum gradients do not reduce over broadcast dimensions: broadcast first.
      const shape = broadcastShape(inputs);
      const same = op === 'maximum' || op === 'minimum' ? inputs.map((t) => (t.shape.every((d, i) => d === shape[i]) ? t : tf.broadcastTo(t, shape))) : inputs;
      const y = same.slice(1).reduce(BINARY[op], same[0]);
      return op === 'average' ? tf.div(y, inputs.length) : y;
    });
  }
}
