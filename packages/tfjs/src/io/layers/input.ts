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
        if (!dims.every((d) => Number.isInteger(d) && (d as number) > 0))
          ctx.fail(`input shape ${brief(shape)} has unknown dimensions; condense needs a fixed input shape`);
        // Keras 3 may write a dtype policy object for the name.
        const raw = l.config.dtype;
        const dtype = isObject(raw) && isObject(raw.config) ? raw.config.name : (raw ?? 'float32');
        if (dtype !== 'float32' && dtype !== 'int32') ctx.fail(`input dtype ${brief(raw)} is not supported (only float32, and int32 ids)`);
        ctx.addNode({ name: l.name, op: 'input', inputs: [], attrs: { shape: dims as number[], ...(dtype === 'int32' ? { dtype } : {}) } });
      },
      toKeras: (node, ctx) => ({
        className: 'InputLayer',
        name: ctx.name,
        config: { batch_input_shape: [null, ...(node.attrs.shape as number[])], dtype: node.attrs.dtype === 'int32' ? 'int32' : 'float32', sparse: false },
        inputs: [],
      }),
    },
  },
};
