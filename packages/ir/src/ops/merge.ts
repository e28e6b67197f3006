/**
 * Elementwise merges besides add (builtin): multiply (a squeeze-and-excitation gate), subtract,
 * average, maximum, minimum. Inputs have one rank and broadcast where a dimension is 1 (the gate
 * [N, 1, 1, C] over [N, H, W, C]); their channels are coupled with the output's.
 */
import { formatShape } from '../errors.js';
import { fail, registerOp, type OpContext } from './registry.js';
import type { Shape } from '../types.js';

/** The broadcast shape of the inputs (same rank; each dimension equal or 1). */
export function broadcastShape(ctx: OpContext): Shape {
  const [first] = ctx.inputs;
  if (ctx.inputs.length < 2) fail(ctx, `${ctx.node.op} needs at least 2 inputs`);
  const out: Shape = [...first];
  for (const s of ctx.inputs.slice(1)) {
    if (s.length !== first.length) fail(ctx, `inputs have different ranks: ${ctx.inputs.map(formatShape).join(' vs ')}`);
    s.forEach((d, i) => {
      const o = out[i];
      if (i === 0 || d === o || d === 1) return;
      if (o === 1) out[i] = d;
      else fail(ctx, `inputs do not broadcast: ${ctx.inputs.map(formatShape).join(' vs ')}`);
    });
  }
  return out;
}

/** The merge ops and how each combines two values (average: the sum, divided by the count after). */
export const MERGES = {
  multiply: (a: number, b: number) => a * b,
  subtract: (a: number, b: number) => a - b,
  average: (a: number, b: number) => a + b,
  maximum: Math.max,
  minimum: Math.min,
} as const;

export type MergeOp = keyof typeof MERGES;

for (const op of Object.keys(MERGES) as MergeOp[]) {
  registerOp({
    op,
    arity: op === 'subtract' ? 2 : 'variadic',
    inferShape: broadcastShape,
    channels: { kind: 'combine' },
  });
}
