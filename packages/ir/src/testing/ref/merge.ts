/** Reference elementwise merges, broadcasting dimensions of 1. */
import { sizeOf } from '../../graph.js';
import { MERGES, type MergeOp } from '../../ops/merge.js';
import type { RefTensor } from '../../ops/registry.js';
import type { Kernel } from './kernel.js';

/** Values of `t` at every position of `out` (its dimensions of 1 repeated). */
function broadcast(t: RefTensor, out: number[]): Float64Array {
  if (sizeOf(t.shape) === sizeOf(out)) return t.data;
  const strides = t.shape.map((d, i) => (d === 1 ? 0 : sizeOf(t.shape.slice(i + 1))));
  const y = new Float64Array(sizeOf(out));
  for (let o = 0; o < y.length; o++) {
    let rest = o;
    let src = 0;
    for (let a = out.length - 1; a >= 0; a--) {
      src += (rest % out[a]) * strides[a];
      rest = Math.floor(rest / out[a]);
    }
    y[o] = t.data[src];
  }
  return y;
}

export const merge =
  (op: MergeOp | 'add'): Kernel =>
  (inputs, _ctx, out) => {
    const f = op === 'add' ? MERGES.average : MERGES[op];
    const [first, ...rest] = inputs.map((t) => broadcast(t, out));
    const y = first.slice();
    for (const t of rest) for (let i = 0; i < y.length; i++) y[i] = f(y[i], t[i]);
    if (op === 'average') for (let i = 0; i < y.length; i++) y[i] /= inputs.length;
    return y;
  };
