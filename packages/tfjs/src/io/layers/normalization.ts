/**
 * tfjs-layers' normalization layers: BatchNormalization, LayerNormalization; and Keras'
 * preprocessing Rescaling and Normalization. tfjs-layers has no Normalization: it is written as
 * the BatchNormalization (x - mean) / sqrt(variance + 0), the variance floored at 1e-14, which
 * computes the same up to float32 rounding (a multiply by rsqrt instead of a divide; the notes say so).
 */
import { NORMALIZATION_EPSILON, rescaleOf, type Node, type Param } from '@condense/ir';
import { brief, type Json, type JsonObject } from '../errors.js';
import type { FromKerasContext, ToKerasContext } from '../mapping.js';
import { axisOf, isLastAxis, layer, need } from './config.js';
import type { LayerFamily } from './family.js';

function lastAxisOnly(v: Json | undefined, ctx: FromKerasContext) {
  const rank = ctx.inputShapes[0].length;
  const axes = Array.isArray(v) ? v : [v ?? -1];
  if (axes.length !== 1 || !Number.isInteger(axes[0]) || !isLastAxis(axes[0] as number, rank))
    ctx.fail(`axis ${brief(v)} is not supported (only the channel axis, -1)`);
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

/** The scale (gamma) and center (beta) weights a layer's config asks for, in Keras' order. */
const affineRoles = (c: JsonObject) => [...(c.scale !== false ? ['gamma'] : []), ...(c.center !== false ? ['beta'] : [])];

/** A BatchNormalization's or LayerNormalization's gamma / beta params and epsilon. */
function affineOf(c: JsonObject, ctx: FromKerasContext): { params: Record<string, Param>; epsilon: number } {
  const params = Object.fromEntries(affineRoles(c).map((role) => [role, ctx.weight(role)]));
  return { params, epsilon: typeof c.epsilon === 'number' ? c.epsilon : 1e-3 };
}

/** The config fields and weights of the node's gamma / beta. */
function affineConfig(node: Node, ctx: ToKerasContext) {
  const gamma = ctx.param('gamma');
  const beta = ctx.param('beta');
  return { config: { axis: -1, epsilon: (node.attrs.epsilon as number | undefined) ?? 1e-3, center: !!beta, scale: !!gamma }, weights: { gamma, beta } };
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
        return layer(
          ctx,
          'BatchNormalization',
          { axis: -1, epsilon: 0, center: false, scale: false },
          { moving_mean: need(ctx, 'mean'), moving_variance: floored },
        );
      },
    },

    batchNorm: {
      kerasClass: 'BatchNormalization',
      masking: 'propagate',
      kerasWeightOrder: (l) => [...affineRoles(l.config), 'moving_mean', 'moving_variance'],
      fromKeras(l, ctx) {
        const rank = ctx.inputShapes[0].length;
        if (!isLastAxis(axisOf(l.config.axis, -1, 'axis', ctx), rank)) ctx.fail(`axis ${brief(l.config.axis)} is not supported (only the channel axis, -1)`);
        if (l.config.renorm === true) ctx.fail('batch renormalization is not supported');
        const { params, epsilon } = affineOf(l.config, ctx);
        const stats = { movingMean: ctx.weight('moving_mean'), movingVariance: ctx.weight('moving_variance') };
        ctx.addNode({ name: l.name, op: 'batchNorm', inputs: ctx.inputs, attrs: { epsilon }, params: { ...stats, ...params } });
      },
      toKeras(node, ctx) {
        const { config, weights } = affineConfig(node, ctx);
        const momentum = typeof ctx.original?.config.momentum === 'number' ? ctx.original.config.momentum : 0.99;
        return layer(
          ctx,
          'BatchNormalization',
          { ...config, momentum },
          { ...weights, moving_mean: need(ctx, 'movingMean'), moving_variance: need(ctx, 'movingVariance') },
        );
      },
    },

    layerNorm: {
      kerasClass: 'LayerNormalization',
      masking: 'propagate',
      kerasWeightOrder: (l) => affineRoles(l.config),
      fromKeras(l, ctx) {
        lastAxisOnly(l.config.axis, ctx);
        if (l.config.rms_scaling === true) ctx.fail('rms_scaling = true is not supported');
        const { params, epsilon } = affineOf(l.config, ctx);
        ctx.addNode({ name: l.name, op: 'layerNorm', inputs: ctx.inputs, attrs: { epsilon }, params });
      },
      toKeras(node, ctx) {
        const { config, weights } = affineConfig(node, ctx);
        return layer(ctx, 'LayerNormalization', config, weights);
      },
    },

    rescaling: {
      kerasClass: 'Rescaling',
      masking: 'propagate',
      fromKeras(l, ctx) {
        const num = (v: Json | undefined, dflt: number, field: string) => {
          const x = v ?? dflt;
          if (!(typeof x === 'number' || (Array.isArray(x) && x.every((e) => typeof e === 'number'))))
            ctx.fail(`${field} ${brief(v)} must be a number or a list of numbers`);
          return x as number | number[];
        };
        ctx.addNode({
          name: l.name,
          op: 'rescaling',
          inputs: ctx.inputs,
          attrs: { scale: num(l.config.scale, 1, 'scale'), offset: num(l.config.offset, 0, 'offset') },
        });
      },
      toKeras: (node, ctx) => layer(ctx, 'Rescaling', rescaleOf(node.attrs)),
    },
  },
};
