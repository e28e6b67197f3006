/** tfjs-layers' core layers: Dense, Dropout, Flatten, Reshape (Activation is in activations.ts, with the other activation layers). */
import { brief } from '../errors.js';
import type { KerasLayer } from '../topology.js';
import { fusedActivation, withActivation } from './activation-attrs.js';
import { biasOf, channelsLast, expectDims, int, layer, need, withBias } from './config.js';
import type { LayerFamily } from './family.js';

/** Keras 3 save order of a kernel-and-bias layer (Dense, Conv2D, DepthwiseConv2D). */
export const kernelBias = (kernel: string) => (l: KerasLayer) => (l.config.use_bias === false ? [kernel] : [kernel, 'bias']);

export const core: LayerFamily = {
  name: 'core',
  mappings: {
    dense: {
      kerasClass: 'Dense',
      masking: 'propagate',
      kerasWeightOrder: kernelBias('kernel'),
      fromKeras(l, ctx) {
        const kernel = ctx.weight('kernel');
        expectDims(kernel, [undefined, int(l.config.units)], ctx);
        const bias = biasOf(l.config, ctx);
        ctx.addNode({ name: l.name, op: 'dense', inputs: ctx.inputs, attrs: fusedActivation(l.config, ctx), params: withBias(kernel, bias) });
      },
      toKeras(node, ctx) {
        const kernel = need(ctx, 'kernel');
        const bias = ctx.param('bias');
        return withActivation(layer(ctx, 'Dense', { units: kernel.shape[1], use_bias: !!bias }, { kernel, bias }), node, ctx);
      },
    },

    dropout: {
      kerasClass: 'Dropout',
      masking: 'propagate',
      fromKeras(l, ctx) {
        const rate = l.config.rate ?? 0;
        if (typeof rate !== 'number') ctx.fail(`rate must be a number, got ${brief(rate)}`);
        const noise = l.config.noise_shape;
        const ok =
          noise === undefined ||
          noise === null ||
          (Array.isArray(noise) && noise.length === ctx.inputShapes[0].length && noise.every((d) => d === null || Number.isInteger(d)));
        if (!ok) ctx.fail(`noise_shape ${brief(noise)} must list one size (or null) per axis of the input`);
        ctx.addNode({
          name: l.name,
          op: 'dropout',
          inputs: ctx.inputs,
          attrs: { rate, ...(Array.isArray(noise) ? { noiseShape: noise as (number | null)[] } : {}) },
        });
      },
      toKeras: (node, ctx) =>
        layer(ctx, 'Dropout', {
          rate: (node.attrs.rate as number | undefined) ?? 0,
          noise_shape: (node.attrs.noiseShape as (number | null)[] | undefined) ?? null,
        }),
    },

    flatten: {
      kerasClass: 'Flatten',
      fromKeras(l, ctx) {
        channelsLast(l.config, ctx);
        ctx.addNode({ name: l.name, op: 'flatten', inputs: ctx.inputs });
      },
      toKeras: (_node, ctx) => layer(ctx, 'Flatten', {}),
    },

    reshape: {
      kerasClass: 'Reshape',
      fromKeras(l, ctx) {
        const t = l.config.target_shape;
        if (!Array.isArray(t) || !t.every((d) => Number.isInteger(d) && ((d as number) > 0 || d === -1)))
          ctx.fail(`target_shape ${brief(t)} must be a list of positive integers (or -1)`);
        ctx.addNode({ name: l.name, op: 'reshape', inputs: ctx.inputs, attrs: { targetShape: t as number[] } });
      },
      toKeras: (node, ctx) => layer(ctx, 'Reshape', { target_shape: node.attrs.targetShape as number[] }),
    },
  },
};
