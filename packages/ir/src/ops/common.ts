/** Attribute readers and shape checks that the op definitions share. */
import { formatShape } from '../errors.js';
import { isActivation } from './activations.js';
import { fail, type ChannelValues, type OpContext } from './registry.js';
import type { Attrs, Shape } from '../types.js';

export type Padding = 'same' | 'valid';

/** A number or a list of one or two; anything else comes back as NaN, which checkPositive names. */
export const pair = (v: unknown, dflt: number): [number, number] => {
  if (v === undefined) return [dflt, dflt];
  if (typeof v === 'number') return [v, v];
  if (!Array.isArray(v)) return [NaN, NaN];
  const a = v as number[];
  return [a[0], a[1] ?? a[0]];
};
/** A 1-D window attribute: n or [n]. */
export const single = (v: unknown, dflt: number): number => (v === undefined ? dflt : typeof v === 'number' ? v : (v as number[])[0]);
export const strides2 = (attrs: Attrs): [number, number] => pair(attrs.strides, 1);
export const dilation2 = (attrs: Attrs): [number, number] => pair(attrs.dilation, 1);
export const pool2 = (attrs: Attrs): [number, number] => pair(attrs.poolSize, 2);

/** Output length of a windowed op along one spatial axis (TF semantics). */
export function windowOut(size: number, k: number, stride: number, dilation: number, padding: Padding): number {
  const eff = (k - 1) * dilation + 1;
  return padding === 'same' ? Math.ceil(size / stride) : Math.ceil((size - eff + 1) / stride);
}

export function checkPositive(ctx: OpContext, what: string, v: [number, number]) {
  if (!v.every((d) => Number.isInteger(d) && d >= 1)) fail(ctx, `${what} must be positive integers, got [${v.join(', ')}]`);
}

export function rank(ctx: OpContext, i: number, r: number): Shape {
  const s = ctx.inputs[i];
  if (s.length !== r) fail(ctx, `expects a rank-${r} input (batch included), got ${formatShape(s)}`);
  return s;
}

export function lastDim(ctx: OpContext, s: Shape): number {
  const c = s[s.length - 1];
  if (c === null) fail(ctx, 'the channel dimension must be known');
  return c;
}

export function checkActivation(ctx: OpContext, key: string) {
  const fn = ctx.node.attrs[key];
  if (fn !== undefined && !isActivation(fn)) fail(ctx, `unknown activation '${String(fn)}'`);
}

/** A per-channel op that keeps a constant channel's value (pooling, dropout) and passes factors as `scale` says. */
export const keepsConstant =
  (scale: ChannelValues['scale']): (() => ChannelValues) =>
  () => ({ scale, constant: (k) => k });

/** Output height and width; an unknown (null) input size gives an unknown output size. */
export function spatialOut(ctx: OpContext, k: [number, number], strides: [number, number], dilation: [number, number]): [number | null, number | null] {
  const [, h, w] = ctx.inputs[0];
  checkPositive(ctx, 'strides', strides);
  checkPositive(ctx, 'dilation', dilation);
  const padding = (ctx.node.attrs.padding ?? 'valid') as Padding;
  if (padding !== 'same' && padding !== 'valid') fail(ctx, `padding must be 'same' or 'valid', got '${String(padding)}'`);
  const ho = h === null ? null : windowOut(h, k[0], strides[0], dilation[0], padding);
  const wo = w === null ? null : windowOut(w, k[1], strides[1], dilation[1], padding);
  if ((ho !== null && ho < 1) || (wo !== null && wo < 1)) fail(ctx, `window ${k[0]}x${k[1]} does not fit the ${h ?? '?'}x${w ?? '?'} input`);
  return [ho, wo];
}

/** Output positions per example of a 2-D op (an unknown size counts as 1, as dense counts positions). */
export const spatialPositions = (out: Shape): number => (out[1] ?? 1) * (out[2] ?? 1);

/** `attrs.groups` of a grouped conv (1: an ordinary one). */
export const convGroups = (attrs: Attrs): number => (attrs.groups as number | undefined) ?? 1;

/** Input channels per group of a conv with `cout` outputs; fails unless the groups divide both sides. */
export function groupInputs(ctx: OpContext, cout: number): number {
  const g = convGroups(ctx.node.attrs);
  const cin = lastDim(ctx, ctx.inputs[0]);
  if (!Number.isInteger(g) || g < 1 || cin % g !== 0 || cout % g !== 0)
    fail(ctx, `groups = ${String(g)} must be a positive integer dividing the ${cin} input and ${cout} output channels`);
  return cin / g;
}

/** The shape of the op's `role` param (its kernel by default); one of the wrong rank fails here, naming it. */
export function kernelOf(ctx: OpContext, r: number, role = 'kernel'): number[] {
  const k = ctx.param(role);
  if (!k) fail(ctx, `missing param role '${role}'`);
  if (k.shape.length !== r) fail(ctx, `param '${k.name}' (role '${role}') must be rank ${r}, got shape [${k.shape.join(', ')}]`);
  return k.shape;
}

/** Keras-style sides of a 2-D padding or cropping: n, [h, w] or [[top, bottom], [left, right]]; `dflt` on every side when absent. */
export function sides2d(p: unknown, dflt: number): [[number, number], [number, number]] {
  if (p === undefined || typeof p === 'number') {
    const n = p ?? dflt;
    return [
      [n, n],
      [n, n],
    ];
  }
  const a = p as (number | number[])[];
  const side = (v: number | number[]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);
  return [side(a[0]), side(a[1])];
}

/** A ZeroPadding2D's padding (default 1 on every side). */
export const zeroPadding = (p: unknown) => sides2d(p, 1);
