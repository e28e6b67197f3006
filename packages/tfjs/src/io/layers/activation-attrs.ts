/**
 * Activations in Keras configs, both ways, from the IR's activation table: the `activation` field
 * of a weighted layer (Dense, Conv2D, ...) and the standalone activation layers.
 */
import {
  KERAS_ACTIVATION_IDS,
  activationAlpha,
  activationFacts,
  fromKerasActivation,
  isActivation,
  kerasActivationId,
  type ActivationFn,
  type Attrs,
  type Node,
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
  if (id === undefined)
    return ctx.fail(`activation ${brief(shown)} has no TF.js layer that tf.loadLayersModel can load (ELU only with alpha 1, gelu only exact)`);
  return { className: 'Activation', config: { activation: id } };
}

/**
 * Keras 3's hard sigmoid and hard swish from layers tfjs-layers has: relu6(x + 3) / 6 as
 * Rescaling(offset 3), ReLU(max 6), Rescaling(1/6); hard swish multiplies x by that.
 */
function composedActivation(fn: unknown, input: string, name: string, ctx: ToKerasContext): KerasLayerSpec[] | undefined {
  if (fn !== 'hardSigmoid6' && fn !== 'hardSwish') return undefined;
  const [plus3, clip] = [ctx.uniqueName(`${name}_plus3`), ctx.uniqueName(`${name}_relu6`)];
  const gate = fn === 'hardSwish' ? ctx.uniqueName(`${name}_gate`) : name;
  const layers: KerasLayerSpec[] = [
    { className: 'Rescaling', name: plus3, config: { scale: 1, offset: 3 }, inputs: [input] },
    { className: 'ReLU', name: clip, config: { max_value: 6 }, inputs: [plus3] },
    { className: 'Rescaling', name: gate, config: { scale: 1 / 6, offset: 0 }, inputs: [clip] },
  ];
  if (fn === 'hardSwish') layers.push({ className: 'Multiply', name, config: {}, inputs: [input, gate] });
  return layers;
}

/** The Keras layers of an activation reading `input` (one, or the composition of a Keras 3 one), the last named `name`. */
export function activationLayers(fn: unknown, attrs: Attrs, was: string | undefined, input: string, name: string, ctx: ToKerasContext): KerasLayerSpec[] {
  return composedActivation(fn, input, name, ctx) ?? [{ ...activationLayer(fn, attrs, was, ctx), name, inputs: [input] }];
}

/**
 * A weighted layer with the node's fused activation: in its config when tfjs-layers has that
 * activation, else as separate activation layers after it (e.g. a fused leaky relu).
 */
export function withActivation(spec: KerasLayerSpec, node: Node, ctx: ToKerasContext): KerasLayerSpec[] {
  const id = tfjsActivationId(node.attrs.activation, node.attrs);
  if (id !== undefined) return [{ ...spec, config: { ...spec.config, activation: id } }];
  const pre = ctx.uniqueName(`${ctx.name}_preact`);
  return [
    { ...spec, name: pre, config: { ...spec.config, activation: 'linear' } },
    ...activationLayers(node.attrs.activation, node.attrs, undefined, pre, ctx.name, ctx),
  ];
}
