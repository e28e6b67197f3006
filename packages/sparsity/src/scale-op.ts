/**
 * The `scale` op of SSS (Huang & Wang 2017): y[..., c] = x[..., c] * scale[c]. One factor per
 * channel (a neuron of a dense layer, a channel of a conv); a block factor is the same op with
 * every entry tied to one value (`attrs.structure === 'block'`).
 *
 * Importing this module registers the op everywhere condense needs it: the IR (shapes, cost,
 * channel groups, the reference interpreter), the TF.js executor, and export. Finalisation folds
 * the op away, so the export mapping is only a fallback for graphs saved before finalising.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fail, param, registerOp, type Node, type OpContext, type Param } from '@condense/ir';
import { registerKernel, registerLayerMapping } from '@condense/tfjs';

export const SCALE_OP = 'scale';

/** What a scale node stands for; stored in `attrs.structure`. */
export type StructureKind = 'neuron' | 'channel' | 'block';

function channelsOf(ctx: OpContext): number {
  const c = ctx.inputs[0].at(-1);
  if (c === null || c === undefined) fail(ctx, 'scale needs a known channel (last) dimension');
  return c;
}

registerOp({
  op: SCALE_OP,
  arity: 1,
  params: { scale: { kind: 'other', shape: (ctx) => [channelsOf(ctx)] } },
  inferShape: (ctx) => {
    channelsOf(ctx);
    return ctx.inputs[0];
  },
  // One multiply per element; the op disappears when finalisation folds it.
  macs: (_ctx, out) => out.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1),
  channels: { kind: 'elementwise', params: [{ role: 'scale', axis: 0 }] },
  reference: ([x], ctx) => {
    const s = (ctx.param('scale') as Param).data;
    const c = s.length;
    return { shape: x.shape, data: x.data.map((v, i) => v * s[i % c]) };
  },
  // Linear per channel; a zero factor makes the channel 0 whatever its input.
  channelValues: () => ({
    scale: 'any',
    constant: (k, c, param) => {
      const f = (param('scale') as Param).data[c];
      return f === 0 ? 0 : k === undefined ? undefined : f * k;
    },
  }),
});

registerKernel(SCALE_OP, (_node, [x], p) => tf.mul(x, p.scale));

/**
 * Export fallback: a BatchNormalization layer with gamma = scale, zero mean and beta, unit
 * variance and epsilon 0 computes exactly x * scale in tfjs-layers.
 */
registerLayerMapping(SCALE_OP, {
  toKeras: (_node: Node, ctx) => {
    const s = ctx.param('scale') ?? ctx.fail("has no 'scale' param");
    const n = s.shape[0];
    const constant = (suffix: string, v: number) => param(`${s.name}#${suffix}`, [n], new Float32Array(n).fill(v));
    return {
      className: 'BatchNormalization',
      name: ctx.name,
      inputs: ctx.inputs,
      config: { axis: -1, momentum: 0.99, epsilon: 0, center: false, scale: true },
      weights: { gamma: s, moving_mean: constant('mean', 0), moving_variance: constant('variance', 1) },
    };
  },
});

/** Scale nodes of a graph, optionally of one structure kind. */
export function scaleNodes(nodes: readonly Node[], kind?: StructureKind): Node[] {
  return nodes.filter((n) => n.op === SCALE_OP && (kind === undefined || n.attrs.structure === kind));
}
