/**
 * Activations in Keras configs, both ways, from the IR's activation table: the `activation` field
 * of a weighted layer (Dense, Conv2D, ...) and the standalone activation layers.
 */
import {
  KERAS_ACTIVATION_IDS, activationAlpha, activationDef, activationFacts, fromKerasActivation, isActivation, kerasActivationId,
  type ActivationFn, type Attrs, type Node,
} from '@condense/ir';
import { brief, isObject, type Json, type JsonObject } from '../errors.js';
import type { FromKerasContext, KerasLayerSpec, ToKerasContext } from '../mapping.js';

/** IR activation attrs: the function plus what Keras implies by its name (exec reads `alpha`, `approximate`). */
export type ActivationAttrs = { fn: ActivationFn; alpha?: number; approximate?: boolean };

export function activationOf(v: Json | undefined, ctx: FromKerasContext, field = 'activation'): ActivationAttrs {
  if (v === undefined || v === null) return { fn: 'linear' };
  // Keras 3 may serialize a built-in activation as {class_name: 'function', config: 'relu', ...}.
  const id = typeof v === 'string' ? v : isObject(v) && typeof v.config === 'string' ? v.config : undefined;
  if (id === undefined) ctx.fail(`${field} ${brief(v)} is not a built-in activation`);
  const attrs = fromKerasActivation(id, ctx.kerasVersion);
  if (!attrs) ctx.fail(`${field} '${id}' is not supported (supported: ${KERAS_ACTIVATION_IDS.join(', ')})`);
  return attrs;
}

/** Fused activation attrs of a weighted layer: none for linear. */
export function fusedActivation(config: JsonObject, ctx: FromKerasContext): Attrs {
  const { fn, ...extra } = activationOf(config.activation, ctx);
  return fn === 'linear' ? {} : { activation: fn, ...extra };
}

/** tfjs-layers' activation identifier for an IR activation and its attrs; undefined when it has none. */
export function tfjsActivationId(fn: unknown, attrs: Attrs): string | undefined {
  if (fn === undefined || fn === 'linear') return 'linear';
  if (!isActivation(fn) || !activationFacts(fn, attrs).tfjsLayers) return undefined;
  return kerasActivationId(fn);
}

/** A standalone Keras layer for an IR activation: the source's ReLU/Softmax/ELU class when it had one, LeakyReLU or Activation. */
export function activationLayer(fn: unknown, attrs: Attrs, was: string | undefined, ctx: ToKerasContext): { className: string; config: JsonObject } {
  const alpha = attrs.alpha as number | undefined;
  if (fn === 'leakyRelu') return { className: 'LeakyReLU', config: { alpha: activationAlpha('leakyRelu', attrs) } };
  if (fn === 'relu6' && was === 'ReLU') return { className: 'ReLU', config: { max_value: 6 } };
  if (fn === 'relu' && was === 'ReLU') return { className: 'ReLU', config: { max_value: null } };
  if (fn === 'softmax' && was === 'Softmax') return { className: 'Softmax', config: { axis: -1 } };
  if (fn === 'elu' && was === 'ELU' && (alpha ?? 1) === 1) return { className: 'ELU', config: { alpha: 1 } };
  const id = tfjsActivationId(fn, attrs);
  const shown = { fn, ...(alpha !== undefined ? { alpha } : {}), ...(attrs.approximate ? { approximate: true } : {}) };
  if (id === undefined) return ctx.fail(`activation ${brief(shown)} has no TF.js layer that tf.loadLayersModel can load (ELU only with alpha 1, gelu only exact)`);
  return { className: 'Activation', config: { activation: id } };
}

/**
 * A weighted layer with the node's fused activation: in its config when tfjs-layers has that
 * activation, else as a separate activation layer after it (e.g. a fused leaky relu).
 */
export function withActivation(spec: KerasLayerSpec, node: Node, ctx: ToKerasContext): KerasLayerSpec[] {
  const id = tfjsActivationId(node.attrs.activation, node.attrs);
  if (id !== undefined) return [{ ...spec, config: { ...spec.config, activation: id } }];
  const pre = ctx.uniqueName(`${ctx.name}_preact`);
  const act = activationLayer(node.attrs.activation, node.attrs, undefined, ctx);
  return [{ ...spec, name: pre, config: { ...spec.config, activation: 'linear' } }, { ...act, name: ctx.name, inputs: [pre] }];
}
