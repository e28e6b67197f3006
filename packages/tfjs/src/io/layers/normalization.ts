/**
 * tfjs-layers' normalization layers: BatchNormalization, LayerNormalization; and Keras'
 * preprocessing Rescaling and Normalization. tfjs-layers has no Normalization: it is written as
 * the BatchNormalization (x - mean) / sqrt(variance + 0), the variance floored at 1e-14, which
 * computes the same up to float32 rounding (a multiply by rsqrt instead of a divide; the notes say so).
 */
import { NORMALIZATION_EPSILON, rescaleOf, type Param } from '@condense/ir';
import { brief, type Json } from '../errors.js';
import type { FromKerasContext } from '../mapping.js';
import { axisOf, isLastAxis, layer, need } from './config.js';
import type { LayerFamily } from './family.js';

function lastAxisOnly(v: Json | undefined, ctx: FromKerasContext) {
  const rank = ctx.inputShapes[0].length;
  const axes = Array.isArray(v) ? v : [v ?? -1];
  if (axes.length !== 1 || !Number.isInteger(axes[0]) || !isLastAxis(axes[0] as number, rank)) ctx.fail(`axis ${brief(v)} is not supported (only the channel axis, -1)`);
}

/** A statistic as a [C] param: a weight of shape [C] (or [1, ..., C]), or the config's list. */
function statistic(ctx: FromKerasContext, role: 'mean' | 'variance', config: Json | undefined, name: string): Param {
  const c = ctx.inputShapes[0].at(-1) as number;
  if (Array.isArray(config) || typeof config === 'number') {
    const values = typeof config === 'number' ? new Array<number>(c).fill(config) : config;
    if (values.length !== c || !values.every((v) => typeof v === 'number')) ctx.fail(`${role} ${brief(config)} must be a number or ${c} numbers`);
    return { name: `${name}/${role}`, shape: [c], data: Float32Array.from(values as number[]) };
  }
  const w = ctx.weight(role);
  if (w.data.length !== c) ctx.fail(`weight '${w.name}' has shape [${w.shape.join(', ')}], expected ${c} values`);
  return w.shape.length === 1 ? w : { ...w, shape: [c] };
}

export const normalization: LayerFamily = {
  name: 'normalization',
  mappings: {
    normalization: {
      kerasClass: 'Normalization',
      masking: 'propagate',
      kerasWeightOrder: (l) => (l.config.mean == null ? ['mean', 'variance', 'count'] : []),
      fromKeras(l, ctx) {
        lastAxisOnly(l.config.axis, ctx);
        if (l.config.invert === true) ctx.fail('invert = true is not supported');
        const mean = statistic(ctx, 'mean', l.config.mean, l.name);
        const variance = statistic(ctx, 'variance', l.config.variance, l.name);
        ctx.weight('count', true); // the adapt() sample count: no part of the function
        ctx.addNode({ name: l.name, op: 'normalization', inputs: ctx.inputs, params: { mean, variance } });
      },
      toKeras(_node, ctx) {
        const variance = need(ctx, 'variance');
        const floored = { ...variance, data: variance.data.map((v) => Math.max(v, NORMALIZATION_EPSILON ** 2)) };
        ctx.note('tfjs-layers has no Normalization; written as a BatchNormalization (epsilon 0), equal up to float32 rounding');
        return layer(ctx, 'BatchNormalization', { axis: -1, epsilon: 0, center: false, scale: false }, { moving_mean: need(ctx, 'mean'), moving_variance: floored });
      },
    },

    batchNorm: {
      kerasClass: 'BatchNormalization',
      masking: 'propagate',
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

    layerNorm: {
      kerasClass: 'LayerNormalization',
      masking: 'propagate',
      kerasWeightOrder: (l) => [...(l.config.scale !== false ? ['gamma'] : []), ...(l.config.center !== false ? ['beta'] : [])],
      fromKeras(l, ctx) {
        lastAxisOnly(l.config.axis, ctx);
        if (l.config.rms_scaling === true) ctx.fail('rms_scaling = true is not supported');
        const params: Record<string, Param> = {};
        if (l.config.scale !== false) params.gamma = ctx.weight('gamma');
        if (l.config.center !== false) params.beta = ctx.weight('beta');
        const epsilon = typeof l.config.epsilon === 'number' ? l.config.epsilon : 1e-3;
        ctx.addNode({ name: l.name, op: 'layerNorm', inputs: ctx.inputs, attrs: { epsilon }, params });
      },
      toKeras(node, ctx) {
        const gamma = ctx.param('gamma');
        const beta = ctx.param('beta');
        const config = { axis: -1, epsilon: (node.attrs.epsilon as number | undefined) ?? 1e-3, center: !!beta, scale: !!gamma };
        return layer(ctx, 'LayerNormalization', config, { gamma, beta });
      },
    },

    rescaling: {
      kerasClass: 'Rescaling',
      masking: 'propagate',
      fromKeras(l, ctx) {
        const num = (v: Json | undefined, dflt: number, field: string) => {
          const x = v ?? dflt;
          if (!(typeof x === 'number' || (Array.isArray(x) && x.every((e) => typeof e === 'number')))) ctx.fail(`${field} ${brief(v)} must be a number or a list of numbers`);
          return x as number | number[];
        };
        ctx.addNode({ name: l.name, op: 'rescaling', inputs: ctx.inputs, attrs: { scale: num(l.config.scale, 1, 'scale'), offset: num(l.config.offset, 0, 'offset') } });
      },
      toKeras: (node, ctx) => layer(ctx, 'Rescaling', rescaleOf(node.attrs)),
    },
  },
};
