/** tfjs-layers' normalization layers: BatchNormalization. */
import type { Param } from '@condense/ir';
import { brief } from '../errors.js';
import { axisOf, isLastAxis, layer, need } from './config.js';
import type { LayerFamily } from './family.js';

export const normalization: LayerFamily = {
  name: 'normalization',
  mappings: {
    batchNorm: {
      kerasClass: 'BatchNormalization',
      kerasWeightOrder: (l) => [...(l.config.scale !== false ? ['gamma'] : []), ...(l.config.center !== false ? ['beta'] : []), 'moving_mean', 'moving_variance'],
      fromKeras(l, ctx) {
        const rank = ctx.inputShapes[0].length;
        if (!isLastAxis(axisOf(l.config.axis, -1, 'axis', ctx), rank)) ctx.fail(`axis ${brief(l.config.axis)} is not supported (only the channel axis, -1)`);
        if (l.config.renorm === true) ctx.fail('batch renormalization is not supported');
        const params: Record<string, Param> = { movingMean: ctx.weight('moving_mean'), movingVariance: ctx.weight('moving_variance') };
        if (l.config.scale !== false) params.gamma = ctx.weight('gamma');
        if (l.config.center !== false) params.beta = ctx.weight('beta');
        const epsilon = typeof l.config.epsilon === 'number' ? l.config.epsilon : 1e-3;
        ctx.addNode({ name: l.name, op: 'batchNorm', inputs: ctx.inputs, attrs: { epsilon }, params });
      },
      toKeras(node, ctx) {
        const gamma = ctx.param('gamma');
        const beta = ctx.param('beta');
        const momentum = typeof ctx.original?.config.momentum === 'number' ? ctx.original.config.momentum : 0.99;
        const config = { axis: -1, momentum, epsilon: (node.attrs.epsilon as number | undefined) ?? 1e-3, center: !!beta, scale: !!gamma };
        return layer(ctx, 'BatchNormalization', config, { gamma, beta, moving_mean: need(ctx, 'movingMean'), moving_variance: need(ctx, 'movingVariance') });
      },
    },
  },
};
