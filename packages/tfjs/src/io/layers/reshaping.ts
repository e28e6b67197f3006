/** tfjs-layers' reshaping layers beyond Reshape and Flatten (core): UpSampling2D, Cropping2D, Permute, RepeatVector. */
import { cropping2d, permuteDims, upSampling } from '@condense/ir';
import { brief, type Json } from '../errors.js';
import { CHANNELS_LAST, channelsLast, layer, pairOf } from './config.js';
import type { LayerFamily } from './family.js';

const croppingOk = (v: Json): boolean => (Number.isInteger(v) && (v as number) >= 0) || (Array.isArray(v) && v.length <= 2 && v.every(croppingOk));

export const reshaping: LayerFamily = {
  name: 'reshaping',
  mappings: {
    upSampling2d: {
      kerasClass: 'UpSampling2D',
      fromKeras(l, ctx) {
        channelsLast(l.config, ctx);
        const interpolation = l.config.interpolation ?? 'nearest';
        if (interpolation !== 'nearest')
          ctx.fail(`interpolation ${brief(interpolation)} is not supported (only 'nearest': Keras and tfjs-layers place bilinear samples differently)`);
        ctx.addNode({ name: l.name, op: 'upSampling2d', inputs: ctx.inputs, attrs: { size: pairOf(l.config.size, 2, 'size', ctx) } });
      },
      toKeras: (node, ctx) => layer(ctx, 'UpSampling2D', { size: upSampling(node.attrs), data_format: CHANNELS_LAST, interpolation: 'nearest' }),
    },

    cropping2d: {
      kerasClass: 'Cropping2D',
      fromKeras(l, ctx) {
        channelsLast(l.config, ctx);
        const c = l.config.cropping;
        if (c !== undefined && c !== null && !croppingOk(c)) ctx.fail(`cropping ${brief(c)} must be an integer, [h, w] or [[top, bottom], [left, right]]`);
        ctx.addNode({ name: l.name, op: 'cropping2d', inputs: ctx.inputs, attrs: { cropping: cropping2d(c ?? undefined) } });
      },
      toKeras: (node, ctx) => layer(ctx, 'Cropping2D', { cropping: cropping2d(node.attrs.cropping), data_format: CHANNELS_LAST }),
    },

    permute: {
      kerasClass: 'Permute',
      fromKeras(l, ctx) {
        const dims = l.config.dims;
        if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d))) ctx.fail(`dims ${brief(dims)} must be a list of axes (numbered from 1)`);
        ctx.addNode({ name: l.name, op: 'permute', inputs: ctx.inputs, attrs: { dims: dims as number[] } });
      },
      toKeras: (node, ctx) => layer(ctx, 'Permute', { dims: permuteDims(node.attrs) }),
    },

    repeatVector: {
      kerasClass: 'RepeatVector',
      fromKeras(l, ctx) {
        const n = l.config.n;
        if (!(Number.isInteger(n) && (n as number) >= 1)) ctx.fail(`n must be a positive integer, got ${brief(n)}`);
        ctx.addNode({ name: l.name, op: 'repeatVector', inputs: ctx.inputs, attrs: { n: n as number } });
      },
      toKeras: (node, ctx) => layer(ctx, 'RepeatVector', { n: node.attrs.n as number }),
    },
  },
};
