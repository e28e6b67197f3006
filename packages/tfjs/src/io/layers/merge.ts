/** tfjs-layers' merge layers: Add, Concatenate. */
import { axisOf, layer } from './config.js';
import type { LayerFamily } from './family.js';

export const merge: LayerFamily = {
  name: 'merge',
  mappings: {
    add: {
      kerasClass: 'Add',
      fromKeras(l, ctx) {
        if (ctx.inputs.length < 2) ctx.fail(`needs at least 2 inputs, got ${ctx.inputs.length}`);
        ctx.addNode({ name: l.name, op: 'add', inputs: ctx.inputs });
      },
      toKeras: (_node, ctx) => layer(ctx, 'Add', {}),
    },

    concat: {
      kerasClass: 'Concatenate',
      fromKeras(l, ctx) {
        const axis = axisOf(l.config.axis, -1, 'axis', ctx);
        ctx.addNode({ name: l.name, op: 'concat', inputs: ctx.inputs, attrs: { axis } });
      },
      toKeras: (node, ctx) => layer(ctx, 'Concatenate', { axis: (node.attrs.axis as number | undefined) ?? -1 }),
    },
  },
};
