/** The graph input: InputLayer (tfjs-layers' engine/input_layer). */
import { brief, isObject } from '../errors.js';
import { declaredBatchShape } from '../topology.js';
import type { LayerFamily } from './family.js';

export const input: LayerFamily = {
  name: 'input',
  mappings: {
    input: {
      kerasClass: 'InputLayer',
      fromKeras(l, ctx) {
        const shape = declaredBatchShape(l.config);
        if (!shape) return ctx.fail('has no batch_input_shape / batch_shape');
        const dims = shape.slice(1);
        if (!dims.every((d) => Number.isInteger(d) && (d as number) > 0)) ctx.fail(`input shape ${brief(shape)} has unknown dimensions; condense needs a fixed input shape`);
        const dtype = l.config.dtype;
        if (dtype !== undefined && dtype !== null && dtype !== 'float32' && !(isObject(dtype) && isObject(dtype.config) && dtype.config.name === 'float32')) {
          ctx.fail(`input dtype ${brief(dtype)} is not supported (only float32)`);
        }
        ctx.addNode({ name: l.name, op: 'input', inputs: [], attrs: { shape: dims as number[] } });
      },
      toKeras: (node, ctx) => ({
        className: 'InputLayer',
        name: ctx.name,
        config: { batch_input_shape: [null, ...(node.attrs.shape as number[])], dtype: 'float32', sparse: false },
        inputs: [],
      }),
    },
  },
};
