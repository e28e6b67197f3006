/** Reference token and sequence ops: embedding, notEqual, and the recurrent layers. */
import { GraphError } from '../../errors.js';
import { sizeOf } from '../../graph.js';
import { activationScalar } from '../../ops/activations.js';
import { GATES, recurrentAttrs, type RecurrentOp } from '../../ops/recurrent.js';
import type { OpContext } from '../../ops/registry.js';
import { paramData, required, shapeOf, type Kernel } from './kernel.js';

export const embedding: Kernel = ([ids], ctx, out) => {
  const table = required(ctx, 'embeddings');
  const [vocab, d] = shapeOf(ctx, 'embeddings');
  const y = new Float64Array(sizeOf(out));
  ids.data.forEach((id, i) => {
    if (!(Number.isInteger(id) && id >= 0 && id < vocab)) throw new GraphError(`reference: id ${id} is outside the vocabulary 0..${vocab - 1}`, ctx.node.name);
    for (let j = 0; j < d; j++) y[i * d + j] = table[id * d + j];
  });
  return y;
};

export const notEqual: Kernel = ([x], ctx) => {
  const value = (ctx.node.attrs.value as number | undefined) ?? 0;
  return x.data.map((v) => (v !== value ? 1 : 0));
};

/** One step's new state from z = x W + b (all gates) and the state; returns the new h (and c for an lstm). */
type Step = (zx: Float64Array, h: Float64Array, c: Float64Array) => void;

function stepOf(op: RecurrentOp, ctx: OpContext, units: number): Step {
  const a = recurrentAttrs(ctx.node.attrs);
  const act = activationScalar(a.activation) as (x: number) => number;
  const gate = activationScalar(a.recurrentActivation) as (x: number) => number;
  const u = required(ctx, 'recurrentKernel');
  const g = GATES[op] * units;
  const bias = paramData(ctx, 'bias');
  // A resetAfter gru's recurrent bias is the second row of its bias.
  const recurrentBias = op === 'gru' && a.resetAfter && bias ? bias.subarray(g) : undefined;
  /** h U for the gate columns [from, from + units), plus the recurrent bias. */
  const hu = (h: Float64Array, from: number) => {
    const r = new Float64Array(units);
    for (let j = 0; j < units; j++) {
      let acc = recurrentBias ? recurrentBias[from + j] : 0;
      for (let i = 0; i < units; i++) acc += h[i] * u[i * g + from + j];
      r[j] = acc;
    }
    return r;
  };
  if (op === 'simpleRnn') {
    return (zx, h) => {
      const r = hu(h, 0);
      for (let j = 0; j < units; j++) h[j] = act(zx[j] + r[j]);
    };
  }
  if (op === 'lstm') {
    return (zx, h, c) => {
      const r = [0, 1, 2, 3].map((k) => hu(h, k * units));
      for (let j = 0; j < units; j++) {
        const [i, f, cc, o] = [0, 1, 2, 3].map((k) => zx[k * units + j] + r[k][j]);
        c[j] = gate(f) * c[j] + gate(i) * act(cc);
        h[j] = gate(o) * act(c[j]);
      }
    };
  }
  return (zx, h) => {
    const rz = hu(h, 0);
    const rr = hu(h, units);
    const z = Float64Array.from({ length: units }, (_, j) => gate(zx[j] + rz[j]));
    const reset = Float64Array.from({ length: units }, (_, j) => gate(zx[units + j] + rr[j]));
    // resetAfter: r * (h U_h + b); otherwise (r * h) U_h.
    const rh = a.resetAfter
      ? hu(h, 2 * units).map((v, j) => reset[j] * v)
      : hu(
          h.map((v, j) => reset[j] * v),
          2 * units,
        );
    for (let j = 0; j < units; j++) h[j] = z[j] * h[j] + (1 - z[j]) * act(zx[2 * units + j] + rh[j]);
  };
}

export const recurrent =
  (op: RecurrentOp): Kernel =>
  ([x, mask], ctx, out) => {
    const [n, t, cin] = x.shape;
    const [units] = shapeOf(ctx, 'recurrentKernel');
    const a = recurrentAttrs(ctx.node.attrs);
    const w = required(ctx, 'kernel');
    const g = GATES[op] * units;
    const bias = paramData(ctx, 'bias');
    const step = stepOf(op, ctx, units);
    const y = new Float64Array(sizeOf(out));
    for (let b = 0; b < n; b++) {
      const h = new Float64Array(units);
      const c = new Float64Array(units);
      let last = new Float64Array(units);
      for (let s = 0; s < t; s++) {
        const time = a.goBackwards ? t - 1 - s : s;
        const zx = new Float64Array(g);
        for (let j = 0; j < g; j++) {
          let acc = bias ? bias[j] : 0;
          for (let i = 0; i < cin; i++) acc += x.data[(b * t + time) * cin + i] * w[i * g + j];
          zx[j] = acc;
        }
        const keep = !mask || mask.data[b * t + time] !== 0;
        if (keep) {
          step(zx, h, c);
          last = h.slice();
        }
        if (a.returnSequences) {
          const at = a.alignOutputs ? time : s;
          const value = keep || !a.zeroMaskedOutputs ? last : new Float64Array(units);
          y.set(value, (b * t + at) * units);
        }
      }
      if (!a.returnSequences) y.set(last, b * units);
    }
    return y;
  };
