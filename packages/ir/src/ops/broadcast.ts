import { formatShape } from '../errors.js';
import { fail, type OpContext } from './registry.js';
import type { Param, Shape } from '../types.js';

/**
 * Checks that an operand param of shape `p` broadcasts into the per-example part of `x` (TF
 * broadcasting, right-aligned, without growing it) and returns its shape, so that the param spec
 * accepts it as stored: a scalar, [C], [1, 1, C], [H, W, C], ...
 */
export function broadcastInto(ctx: OpContext, role: string, x: Shape): number[] {
  const p = ctx.param(role);
  if (!p) fail(ctx, `missing param role '${role}'`);
  const per = x.slice(1);
  const fits =
    p.shape.length <= per.length &&
    p.shape.every((d, i) => {
      const xd = per[per.length - p.shape.length + i];
      return d === 1 || xd === null || d === xd;
    });
  if (!fits) fail(ctx, `param '${p.name}' (role '${role}') of shape [${p.shape.join(', ')}] does not broadcast into the input ${formatShape(x)}`);
  return p.shape;
}

/** The value an operand takes at channel c when it varies by channel only (scalar, [C], [1, 1, C]); undefined otherwise. */
export function channelValue(p: Param | undefined, c: number): number | undefined {
  if (!p) return undefined;
  const lead = p.shape.slice(0, -1);
  if (lead.some((d) => d !== 1)) return undefined;
  const last = p.shape.at(-1) ?? 1;
  return p.data[last === 1 ? 0 : c];
}

/** For element i of a row-major tensor of shape `x`, the element of a right-aligned broadcasting operand of shape `p`. */
export function broadcastIndex(x: readonly number[], p: readonly number[]): (i: number) => number {
  const off = x.length - p.length;
  const strides = p.map((_, k) => p.slice(k + 1).reduce((a, b) => a * b, 1));
  const xStrides = x.map((_, k) => x.slice(k + 1).reduce((a, b) => a * b, 1));
  return (i) => {
    let j = 0;
    for (let k = 0; k < p.length; k++) {
      if (p[k] === 1) continue;
      j += (Math.floor(i / xStrides[off + k]) % x[off + k]) * strides[k];
    }
    return j;
  };
}
