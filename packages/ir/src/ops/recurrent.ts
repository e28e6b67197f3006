/**
 * Recurrent layers over [N, T, C] (Keras semantics, gate order and weight layouts): lstm, gru and
 * simpleRnn. kernel [C, gates * units], recurrentKernel [units, gates * units], bias [gates * units]
 * (a GRU with resetAfter: [2, 3 * units], the input and the recurrent bias). An optional second
 * input [N, T] is the mask (1 = a step to read, 0 = padding: the state carries over it).
 *
 * Channel groups: the units are the op's output channels; removing unit j takes its column of
 * every gate in kernel, recurrentKernel and bias, and its row of recurrentKernel.
 */
import { formatShape } from '../errors.js';
import { activationFacts, isActivation, type ActivationFn } from './activations.js';
import { kernelOf, lastDim } from './common.js';
import { fail, registerOp, type OpContext } from './registry.js';
import type { Attrs } from '../types.js';

/** Gates per unit, in Keras' order: lstm [i, f, c, o], gru [z, r, h], simpleRnn one. */
export const GATES = { lstm: 4, gru: 3, simpleRnn: 1 } as const;
export type RecurrentOp = keyof typeof GATES;

export interface RecurrentAttrs {
  /** Return the output of every step ([N, T, units]) rather than the last one ([N, units]). */
  returnSequences: boolean;
  /** Read the sequence from its end (Keras go_backwards); returned sequences come in reading order... */
  goBackwards: boolean;
  /** ...unless this is set too: then they are flipped back into the input's time order (a Bidirectional's backward layer). */
  alignOutputs: boolean;
  /** The candidate / output activation (Keras default tanh). */
  activation: ActivationFn;
  /** The gates' activation (Keras default sigmoid; lstm and gru). */
  recurrentActivation: ActivationFn;
  /** gru: apply the reset gate after the recurrent matrix product (Keras 3's default; a [2, 3u] bias). */
  resetAfter: boolean;
  /** Masked steps output 0 (Keras zero_output_for_mask) instead of the previous output. */
  zeroMaskedOutputs: boolean;
}

export function recurrentAttrs(attrs: Attrs): RecurrentAttrs {
  return {
    returnSequences: attrs.returnSequences === true,
    goBackwards: attrs.goBackwards === true,
    alignOutputs: attrs.alignOutputs === true,
    activation: (attrs.activation as ActivationFn | undefined) ?? 'tanh',
    recurrentActivation: (attrs.recurrentActivation as ActivationFn | undefined) ?? 'sigmoid',
    resetAfter: attrs.resetAfter === true,
    zeroMaskedOutputs: attrs.zeroMaskedOutputs === true,
  };
}

const unitsOf = (ctx: OpContext) => kernelOf(ctx, 2, 'recurrentKernel')[0];

function checkActivations(ctx: OpContext, op: RecurrentOp) {
  for (const key of op === 'simpleRnn' ? ['activation'] : ['activation', 'recurrentActivation']) {
    const fn = ctx.node.attrs[key];
    if (fn === undefined) continue;
    if (!isActivation(fn) || !activationFacts(fn).elementwise) fail(ctx, `${key} '${String(fn)}' is not an elementwise activation`);
  }
}

for (const op of Object.keys(GATES) as RecurrentOp[]) {
  const gates = GATES[op];
  const width = (ctx: OpContext) => gates * unitsOf(ctx);
  registerOp({
    op,
    // The sequence, and optionally its mask.
    arity: 'variadic',
    params: {
      kernel: { kind: 'weight', shape: (ctx) => [lastDim(ctx, ctx.inputs[0]), width(ctx)] },
      recurrentKernel: { kind: 'weight', shape: (ctx) => [unitsOf(ctx), width(ctx)] },
      bias: {
        kind: 'bias',
        optional: true,
        shape: (ctx) => (op === 'gru' && recurrentAttrs(ctx.node.attrs).resetAfter ? [2, width(ctx)] : [width(ctx)]),
      },
    },
    inferShape: (ctx) => {
      const [x, mask] = ctx.inputs;
      if (ctx.inputs.length > 2) fail(ctx, `${op} takes a sequence and optionally its mask, got ${ctx.inputs.length} inputs`);
      if (x.length !== 3) fail(ctx, `expects a sequence [batch, steps, features], got ${formatShape(x)}`);
      if (x[1] === null) fail(ctx, `the steps must be known, got ${formatShape(x)}`);
      if (mask && (mask.length !== 2 || mask[1] !== x[1])) fail(ctx, `the mask ${formatShape(mask)} must be [batch, ${x[1]}]`);
      checkActivations(ctx, op);
      const a = recurrentAttrs(ctx.node.attrs);
      if (a.alignOutputs && !a.goBackwards) fail(ctx, 'alignOutputs needs goBackwards');
      if (a.resetAfter && op !== 'gru') fail(ctx, 'resetAfter is a gru attribute');
      const units = unitsOf(ctx);
      return a.returnSequences ? [null, x[1], units] : [null, units];
    },
    // Per step: the input and the recurrent matrix products.
    macs: (ctx) => {
      const [, t, c] = ctx.inputs[0] as number[];
      const units = unitsOf(ctx);
      return t * (c + units) * gates * units;
    },
    channels: {
      kind: 'produce',
      in: [{ role: 'kernel', axis: 0 }],
      out: [
        { role: 'kernel', axis: 1, blocks: gates },
        { role: 'recurrentKernel', axis: 1, blocks: gates },
        { role: 'recurrentKernel', axis: 0 },
        { role: 'bias', axis: -1, blocks: gates },
      ],
    },
  });
}
