/**
 * tfjs-layers' merge layers: Add, Concatenate, Multiply, Average, Maximum, Minimum, and Keras'
 * Subtract (tfjs-layers has none: written as Add(a, Rescaling(-1)(b)), the same value). Keras 3
 * op nodes of these classes with a number, x + 3.0 or x * (1 / 6) (MobileNetV3's hard sigmoid),
 * are a rescaling. A merge imported from a Bidirectional is written back as that layer.
 */
import type { MergeOp } from '@condense/ir';
import type { FromKerasContext, KerasLayerSpec, LayerMapping } from '../mapping.js';
import type { KerasLayer } from '../topology.js';
import { axisOf, layer } from './config.js';
import { bidirectionalLayer } from './recurrent.js';
import type { LayerFamily } from './family.js';

/** x op c (or c op x) as rescaling attrs; undefined when the op has no such form. */
function withConstant(className: string, constant: number, first: boolean): { scale: number; offset: number } | undefined {
  if (className === 'Add') return { scale: 1, offset: constant };
  if (className === 'Multiply') return { scale: constant, offset: 0 };
  if (className === 'Subtract') return first ? { scale: -1, offset: constant } : { scale: 1, offset: -constant };
  return undefined;
}

/** A Keras 3 op node with one tensor and one number: a rescaling node. Returns whether it was one. */
function constantOp(l: KerasLayer, ctx: FromKerasContext): boolean {
  if (ctx.constants.length === 0) return false;
  const [c] = ctx.constants;
  const attrs = ctx.constants.length === 1 && ctx.inputs.length === 1 ? withConstant(l.className, c.value, c.position === 0) : undefined;
  if (!attrs)
    ctx.fail(`${l.className} of ${ctx.inputs.length} tensor(s) and ${ctx.constants.length} number(s) is not supported (only x ${l.className} c, one of each)`);
  ctx.addNode({ name: l.name, op: 'rescaling', inputs: ctx.inputs, attrs });
  return true;
}

function elementwise(op: 'add' | MergeOp, className: string, tfjsClass = className): LayerMapping {
  return {
    kerasClass: className,
    opNodes: true,
    fromKeras(l, ctx) {
      if (constantOp(l, ctx)) return;
      if (ctx.inputs.length < 2) ctx.fail(`needs at least 2 inputs, got ${ctx.inputs.length}`);
      ctx.addNode({ name: l.name, op, inputs: ctx.inputs });
    },
    toKeras: (node, ctx) => bidirectionalLayer(node, ctx) ?? layer(ctx, tfjsClass, {}),
  };
}

export const merge: LayerFamily = {
  name: 'merge',
  mappings: {
    add: elementwise('add', 'Add'),
    multiply: elementwise('multiply', 'Multiply'),
    average: elementwise('average', 'Average'),
    maximum: elementwise('maximum', 'Maximum'),
    minimum: elementwise('minimum', 'Minimum'),

    subtract: {
      ...elementwise('subtract', 'Subtract'),
      toKeras(_node, ctx): KerasLayerSpec[] {
        const negated = ctx.uniqueName(`${ctx.name}_negated`);
        return [
          { className: 'Rescaling', name: negated, config: { scale: -1, offset: 0 }, inputs: [ctx.inputs[1]] },
          { className: 'Add', name: ctx.name, config: {}, inputs: [ctx.inputs[0], negated] },
        ];
      },
    },

    concat: {
      kerasClass: 'Concatenate',
      fromKeras(l, ctx) {
        const axis = axisOf(l.config.axis, -1, 'axis', ctx);
        ctx.addNode({ name: l.name, op: 'concat', inputs: ctx.inputs, attrs: { axis } });
      },
      toKeras: (node, ctx) => bidirectionalLayer(node, ctx) ?? layer(ctx, 'Concatenate', { axis: (node.attrs.axis as number | undefined) ?? -1 }),
    },
  },
};
