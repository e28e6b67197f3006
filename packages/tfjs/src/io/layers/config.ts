/** Readers of Keras layer configs and writers of Keras layer specs that several layer families share. */
import type { Param } from '@condense/ir';
import { brief, type Json, type JsonObject } from '../errors.js';
import type { FromKerasContext, KerasLayerSpec, ToKerasContext } from '../mapping.js';

// ---------------------------------------------------------------- readers

export function pairOf(v: Json | undefined, dflt: number, field: string, ctx: FromKerasContext): [number, number] {
  if (v === undefined || v === null) return [dflt, dflt];
  const a = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 1 ? [v[0], v[0]] : v;
  if (!Array.isArray(a) || a.length !== 2 || !a.every((x) => Number.isInteger(x) && (x as number) > 0))
    ctx.fail(`${field} must be a positive integer or a pair, got ${brief(v)}`);
  return a as [number, number];
}

export function paddingOf(config: JsonObject, ctx: FromKerasContext): 'same' | 'valid' {
  const p = config.padding ?? 'valid';
  if (p !== 'same' && p !== 'valid') ctx.fail(`padding ${brief(p)} is not supported (only 'same' and 'valid')`);
  return p;
}

export function channelsLast(config: JsonObject, ctx: FromKerasContext) {
  const f = config.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last' && f !== 'channelsLast') ctx.fail(`data_format ${brief(f)} is not supported (only channels_last)`);
}

export function axisOf(v: Json | undefined, dflt: number, field: string, ctx: FromKerasContext): number {
  const a = v === undefined || v === null ? dflt : Array.isArray(v) && v.length === 1 ? v[0] : v;
  if (!Number.isInteger(a)) ctx.fail(`${field} must be a single integer axis, got ${brief(v)}`);
  return a as number;
}

/** True when `axis` (possibly negative) is the last axis of a rank-`rank` value. */
export const isLastAxis = (axis: number, rank: number) => axis === -1 || axis === rank - 1;

export function expectDims(p: Param, dims: (number | undefined)[], ctx: FromKerasContext) {
  if (p.shape.length !== dims.length || dims.some((d, i) => d !== undefined && d !== p.shape[i])) {
    ctx.fail(`weight '${p.name}' has shape [${p.shape.join(', ')}], the config implies [${dims.map((d) => d ?? '?').join(', ')}]`);
  }
}

export const int = (v: Json | undefined): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

/** The optional bias of a layer: present unless use_bias is false. */
export const biasOf = (config: JsonObject, ctx: FromKerasContext) => (config.use_bias === false ? undefined : ctx.weight('bias'));

export const withBias = (kernel: Param, bias: Param | undefined): Record<string, Param> => (bias ? { kernel, bias } : { kernel });

// ---------------------------------------------------------------- writers

export const CHANNELS_LAST = 'channels_last';

/** One Keras layer named and wired like the node, with the weights that are present. */
export function layer(ctx: ToKerasContext, className: string, config: JsonObject, weights?: Record<string, Param | undefined>): KerasLayerSpec {
  const w: Record<string, Param> = {};
  for (const [role, p] of Object.entries(weights ?? {})) if (p) w[role] = p;
  return { className, name: ctx.name, config, inputs: ctx.inputs, weights: w };
}

export function need(ctx: ToKerasContext, role: string): Param {
  return ctx.param(role) ?? ctx.fail(`has no '${role}' param`);
}
