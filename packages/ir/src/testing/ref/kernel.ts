/** What the reference kernels share: their signature and param readers. */
import { GraphError } from '../../errors.js';
import { referenceActivation, type ActivationFn } from '../../ops/activations.js';
import type { OpContext, RefTensor } from '../../ops/registry.js';

/** A builtin kernel: input tensors and the (batch-resolved) output shape -> output values (float64). */
export type Kernel = (inputs: RefTensor[], ctx: OpContext, out: number[]) => Float64Array;

export function paramData(ctx: OpContext, role: string): Float32Array | undefined {
  return ctx.param(role)?.data;
}

export function required(ctx: OpContext, role: string): Float32Array {
  const d = paramData(ctx, role);
  if (!d) throw new GraphError(`missing param role '${role}'`, ctx.node.name);
  return d;
}

export function shapeOf(ctx: OpContext, role: string): number[] {
  const p = ctx.param(role);
  if (!p) throw new GraphError(`missing param role '${role}'`, ctx.node.name);
  return p.shape;
}

/** The node's fused activation (attrs.activation, with its alpha / approximate), applied in place. */
export function fusedActivation(ctx: OpContext, y: Float64Array, out: number[]): Float64Array {
  const fn = ctx.node.attrs.activation as ActivationFn | undefined;
  return fn === undefined ? y : referenceActivation(fn, y, out[out.length - 1], ctx.node.attrs);
}

export const identity: Kernel = (inputs) => inputs[0].data.slice();

/** A [N, T, C] tensor as [N, 1, T, C] (1-D ops run as their 2-D kernels). */
export const as2d = (t: RefTensor): RefTensor => ({ shape: [t.shape[0], 1, t.shape[1], t.shape[2]], data: t.data });
