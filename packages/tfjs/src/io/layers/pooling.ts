/**
 * tfjs-layers' pooling layers: MaxPooling2D/1D, AveragePooling2D/1D, GlobalAveragePooling2D/1D,
 * GlobalMaxPooling2D/1D (Keras' keepdims too: tfjs-layers has none, so it is written as the pool
 * and a Reshape to the kept 1s).
 */
import { pool2, single, strides2 } from '@condense/ir';
import { brief, type Json } from '../errors.js';
import type { FromKerasContext, LayerMapping } from '../mapping.js';
import { CHANNELS_LAST, channelsLast, layer, pairOf, paddingOf } from './config.js';
import type { LayerFamily } from './family.js';

function pooling2d(op: 'maxPool2d' | 'avgPool2d', className: string): LayerMapping {
  return {
    kerasClass: className,
    fromKeras(l, ctx) {
      channelsLast(l.config, ctx);
      const poolSize = pairOf(l.config.pool_size, 2, 'pool_size', ctx);
      const strides = l.config.strides == null ? poolSize : pairOf(l.config.strides, 1, 'strides', ctx);
      ctx.addNode({ name: l.name, op, inputs: ctx.inputs, attrs: { poolSize, strides, padding: paddingOf(l.config, ctx) } });
    },
    toKeras(node, ctx) {
      const poolSize = pool2(node.attrs);
      const strides = node.attrs.strides === undefined ? poolSize : strides2(node.attrs);
      return layer(ctx, className, {
        pool_size: poolSize,
        padding: (node.attrs.padding as string | undefined) ?? 'valid',
        strides,
        data_format: CHANNELS_LAST,
      });
    },
  };
}

function positive(v: Json | undefined, field: string, ctx: FromKerasContext): number | undefined {
  if (v === undefined || v === null) return undefined;
  const a = Array.isArray(v) && v.length === 1 ? v[0] : v;
  if (!(Number.isInteger(a) && (a as number) > 0)) ctx.fail(`${field} must be a positive integer or [n], got ${brief(v)}`);
  return a as number;
}

function pooling1d(op: 'maxPool1d' | 'avgPool1d', className: string): LayerMapping {
  return {
    kerasClass: className,
    fromKeras(l, ctx) {
      channelsLast(l.config, ctx);
      const poolSize = positive(l.config.pool_size, 'pool_size', ctx) ?? 2;
      const strides = positive(l.config.strides, 'strides', ctx) ?? poolSize;
      ctx.addNode({ name: l.name, op, inputs: ctx.inputs, attrs: { poolSize, strides, padding: paddingOf(l.config, ctx) } });
    },
    toKeras(node, ctx) {
      const k = single(node.attrs.poolSize, 2);
      const config = {
        pool_size: [k],
        strides: [single(node.attrs.strides, k)],
        padding: (node.attrs.padding as string | undefined) ?? 'valid',
        data_format: CHANNELS_LAST,
      };
      return layer(ctx, className, config);
    },
  };
}

function globalPooling(op: string, className: string): LayerMapping {
  return {
    kerasClass: className,
    fromKeras(l, ctx) {
      channelsLast(l.config, ctx);
      const keep = l.config.keepdims ?? l.config.keep_dims ?? false;
      ctx.addNode({ name: l.name, op, inputs: ctx.inputs, attrs: keep === true ? { keepDims: true } : {} });
    },
    toKeras(node, ctx) {
      const pool = layer(ctx, className, { data_format: CHANNELS_LAST });
      if (!node.attrs.keepDims) return pool;
      const shape = ctx.shapes.get(node.name) as number[];
      const poolName = ctx.uniqueName(`${ctx.name}_pool`);
      return [
        { ...pool, name: poolName },
        { className: 'Reshape', name: ctx.name, config: { target_shape: shape.slice(1) }, inputs: [poolName] },
      ];
    },
  };
}

export const pooling: LayerFamily = {
  name: 'pooling',
  mappings: {
    maxPool2d: pooling2d('maxPool2d', 'MaxPooling2D'),
    avgPool2d: pooling2d('avgPool2d', 'AveragePooling2D'),
    maxPool1d: pooling1d('maxPool1d', 'MaxPooling1D'),
    avgPool1d: pooling1d('avgPool1d', 'AveragePooling1D'),
    globalAvgPool2d: globalPooling('globalAvgPool2d', 'GlobalAveragePooling2D'),
    globalMaxPool2d: globalPooling('globalMaxPool2d', 'GlobalMaxPooling2D'),
    globalAvgPool1d: globalPooling('globalAvgPool1d', 'GlobalAveragePooling1D'),
    globalMaxPool1d: globalPooling('globalMaxPool1d', 'GlobalMaxPooling1D'),
  },
};
