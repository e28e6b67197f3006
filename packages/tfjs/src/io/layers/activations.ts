/**
 * Activation layers: Activation (tfjs-layers' core) and ReLU, LeakyReLU, ELU, Softmax, PReLU (its
 * advanced_activations). Keras 3's hard_sigmoid and hard_silu have no tfjs-layers identifier and
 * are written as the layers that compute them.
 */
import { sharedAxes, type Attrs } from '@condense/ir';
import { brief } from '../errors.js';
import { activationLayers, activationOf } from './activation-attrs.js';
import { axisOf, isLastAxis, layer, need } from './config.js';
import type { LayerFamily } from './family.js';

export const activations: LayerFamily = {
  name: 'activations',
  mappings: {
    activation: {
      kerasClass: ['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'Softmax'],
      masking: 'propagate',
      fromKeras(l, ctx) {
        const add = (attrs: Attrs) => ctx.addNode({ name: l.name, op: 'activation', inputs: ctx.inputs, attrs });
        const c = l.config;
        switch (l.className) {
          case 'Activation':
            return void add({ ...activationOf(c.activation, ctx) });
          case 'ELU': {
            const alpha = c.alpha ?? 1;
            if (typeof alpha !== 'number') ctx.fail(`alpha must be a number, got ${brief(alpha)}`);
            return void add(alpha === 1 ? { fn: 'elu' } : { fn: 'elu', alpha });
          }
          case 'LeakyReLU': {
            const alpha = c.alpha ?? c.negative_slope ?? 0.3;
            if (typeof alpha !== 'number') ctx.fail(`alpha must be a number, got ${brief(alpha)}`);
            return void add({ fn: 'leakyRelu', alpha });
          }
          case 'Softmax': {
            if (!isLastAxis(axisOf(c.axis, -1, 'axis', ctx), ctx.inputShapes[0].length))
              ctx.fail(`axis ${brief(c.axis)} is not supported (only the last axis)`);
            return void add({ fn: 'softmax' });
          }
          default: {
            // ReLU: max_value 6 is relu6, a negative slope is a leaky relu; other clips and thresholds have no IR op.
            const max = c.max_value ?? null;
            const slope = c.negative_slope ?? 0;
            const threshold = c.threshold ?? 0;
            if (threshold !== 0) ctx.fail(`threshold ${brief(threshold)} is not supported`);
            if (typeof slope !== 'number') ctx.fail(`negative_slope must be a number, got ${brief(slope)}`);
            if (max === null) return void add(slope === 0 ? { fn: 'relu' } : { fn: 'leakyRelu', alpha: slope });
            if (max === 6 && slope === 0) return void add({ fn: 'relu6' });
            ctx.fail(`max_value ${brief(max)} with negative_slope ${slope} is not supported (only max_value 6 or none)`);
          }
        }
      },
      toKeras: (node, ctx) => activationLayers(node.attrs.fn, node.attrs, ctx.original?.className, ctx.inputs[0], ctx.name, ctx),
    },

    prelu: {
      kerasClass: 'PReLU',
      kerasWeightOrder: () => ['alpha'],
      fromKeras(l, ctx) {
        const shared = l.config.shared_axes ?? [];
        const axes = typeof shared === 'number' ? [shared] : shared;
        if (!Array.isArray(axes) || !axes.every((a) => Number.isInteger(a))) ctx.fail(`shared_axes ${brief(shared)} must be a list of axes`);
        const attrs = (axes as number[]).length ? { sharedAxes: axes as number[] } : {};
        ctx.addNode({ name: l.name, op: 'prelu', inputs: ctx.inputs, attrs, params: { alpha: ctx.weight('alpha') } });
      },
      toKeras: (node, ctx) => {
        const shared = sharedAxes(node.attrs);
        return layer(ctx, 'PReLU', { shared_axes: shared.length ? shared : null }, { alpha: need(ctx, 'alpha') });
      },
    },
  },
};
