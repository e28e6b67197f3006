/** tfjs-layers' pooling layers: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D. */
import { pool2, strides2 } from '@condense/ir';
import type { LayerMapping } from '../mapping.js';
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
      return layer(ctx, className, { pool_size: poolSize, padding: (node.attrs.padding as string | undefined) ?? 'valid', strides, data_format: CHANNELS_LAST });
    },
  };
}

export const pooling: LayerFamily = {
  name: 'pooling',
  mappings: {
    maxPool2d: pooling2d('maxPool2d', 'MaxPooling2D'),
    avgPool2d: pooling2d('avgPool2d', 'AveragePooling2D'),

    globalAvgPool2d: {
      kerasClass: 'GlobalAveragePooling2D',
      fromKeras(l, ctx) {
        channelsLast(l.config, ctx);
        const keep = l.config.keepdims ?? l.config.keep_dims ?? false;
        ctx.addNode({ name: l.name, op: 'globalAvgPool2d', inputs: ctx.inputs, attrs: keep === true ? { keepDims: true } : {} });
      },
      toKeras(node, ctx) {
        const pool = layer(ctx, 'GlobalAveragePooling2D', { data_format: CHANNELS_LAST });
        if (!node.attrs.keepDims) return pool;
        // tfjs-layers has no keepdims: pool, then reshape to [1, 1, C].
        const channels = ctx.shapes.get(node.name)?.at(-1) as number;
        const poolName = ctx.uniqueName(`${ctx.name}_pool`);
        return [{ ...pool, name: poolName }, { className: 'Reshape', name: ctx.name, config: { target_shape: [1, 1, channels] }, inputs: [poolName] }];
      },
    },
  },
};
