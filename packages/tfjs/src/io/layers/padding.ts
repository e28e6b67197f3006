/** tfjs-layers' padding layers: ZeroPadding2D. */
import { zeroPadding } from '@condense/ir';
import { brief, type Json } from '../errors.js';
import { CHANNELS_LAST, channelsLast, layer } from './config.js';
import type { LayerFamily } from './family.js';

export const padding: LayerFamily = {
  name: 'padding',
  mappings: {
    zeroPad2d: {
      kerasClass: 'ZeroPadding2D',
      fromKeras(l, ctx) {
        channelsLast(l.config, ctx);
        const p = l.config.padding;
        const ok = (v: Json): boolean => (Number.isInteger(v) && (v as number) >= 0) || (Array.isArray(v) && v.length <= 2 && v.every(ok));
        if (p !== undefined && p !== null && !ok(p)) ctx.fail(`padding ${brief(p)} must be an integer, [h, w] or [[top, bottom], [left, right]]`);
        ctx.addNode({ name: l.name, op: 'zeroPad2d', inputs: ctx.inputs, attrs: { padding: zeroPadding(p ?? undefined) } });
      },
      toKeras: (node, ctx) => layer(ctx, 'ZeroPadding2D', { padding: zeroPadding(node.attrs.padding), data_format: CHANNELS_LAST }),
    },
  },
};
