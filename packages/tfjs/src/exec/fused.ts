/** A node's fused activation: applied inside a tf.fused kernel when it can be, else after. */
import type * as tf from '@tensorflow/tfjs-core';
import { activationAlpha, isActivation, type Attrs } from '@condense/ir';
import { activate, FUSABLE } from './activations.js';

export type FusedActivation = NonNullable<(typeof FUSABLE)[keyof typeof FUSABLE]>;

/** Keras/tfjs-layers default: LeakyReLU alpha 0.3. */
export const leakyAlpha = (attrs: Attrs): number => activationAlpha('leakyRelu', attrs);

/** The tf.fused name of the node's activation if tf.fused can apply it, else undefined. */
export function fusedActivation(attrs: Attrs): FusedActivation | undefined {
  const fn = (attrs.activation as string | undefined) ?? 'linear';
  if (!isActivation(fn) || (fn === 'elu' && activationAlpha('elu', attrs) !== 1)) return undefined;
  return FUSABLE[fn];
}

/** Apply the node's `attrs.activation` unless it was fused into the kernel. */
export function finish(y: tf.Tensor, attrs: Attrs, fused: FusedActivation | undefined): tf.Tensor {
  if (fused) return y;
  return activate((attrs.activation as string | undefined) ?? 'linear', y, attrs);
}

export const padding = (attrs: Attrs): 'same' | 'valid' => (attrs.padding as 'same' | 'valid' | undefined) ?? 'valid';
