/**
 * A Keras layer class condense does not know (a custom TF.js layer registered with
 * tf.serialization.registerClass, a custom Keras class), taught from user code in one call: its IR
 * op (shapes, channel flow; @condense/ir's registerOp), how TF.js runs it (registerKernel; TF.js
 * differentiates it), and how Keras files map to and from it (registerLayerMapping).
 */
import { getOp, registerOp, type OpDef, type Param } from '@condense/ir';
import { registerKernel, type Kernel, type KernelOptions } from './exec/kernels.js';
import { isObject, type JsonObject } from './io/errors.js';
import { registerLayerMapping, type LayerMapping } from './io/mapping.js';

export interface KerasLayerRegistration {
  /** The Keras class name(s) as model.json writes them (a TF.js layer's static `className`). */
  className: string | string[];
  /** The IR op: a new OpDef (registered here), or the name of an op condense has (then `kernel` is optional). */
  op: OpDef | string;
  /** How TF.js computes the op (forward only: TF.js derives the gradient). Required for a new op. */
  kernel?: Kernel;
  kernelOptions?: KernelOptions;
  /**
   * Keras layer -> IR nodes. Default: one node of the op named like the layer, with the layer's
   * config as `attrs.config` and each param role of the op bound to the layer's weight of that name.
   */
  fromKeras?: LayerMapping['fromKeras'];
  /** IR node -> Keras layers. Default: the (first) class with `attrs.config` and each param under its role name. */
  toKeras?: LayerMapping['toKeras'];
  /** Keras 3 .keras conversions name weights by position: the roles in the order the layer creates its weights. Default: the op's param roles. */
  kerasWeightOrder?: LayerMapping['kerasWeightOrder'];
  masking?: LayerMapping['masking'];
}

/** Register a custom Keras layer class for import, execution and export (see the module comment). Re-registering replaces. */
export function registerKerasLayer(r: KerasLayerRegistration): void {
  const classes = Array.isArray(r.className) ? r.className : [r.className];
  if (classes.length === 0 || classes.some((c) => typeof c !== 'string' || c === ''))
    throw new Error('registerKerasLayer: className must name the Keras class');
  const def = typeof r.op === 'string' ? getOp(r.op) : registerOp(r.op);
  if (r.kernel) registerKernel(def.op, r.kernel, r.kernelOptions);
  else if (typeof r.op !== 'string') throw new Error(`registerKerasLayer('${classes[0]}'): a new op needs a kernel (how TF.js computes it)`);
  const roles = Object.keys(def.params ?? {});
  registerLayerMapping(def.op, {
    kerasClass: classes,
    kerasWeightOrder: r.kerasWeightOrder ?? (() => roles),
    ...(r.masking ? { masking: r.masking } : {}),
    fromKeras:
      r.fromKeras ??
      ((l, ctx) => {
        const params: Record<string, Param> = {};
        for (const role of roles) {
          const p = def.params?.[role]?.optional ? ctx.weight(role, true) : ctx.weight(role);
          if (p) params[role] = p;
        }
        const { name: _, ...config } = l.config;
        ctx.addNode({ name: l.name, op: def.op, inputs: ctx.inputs, attrs: { config }, params });
      }),
    toKeras:
      r.toKeras ??
      ((node, ctx) => {
        const weights: Record<string, Param> = {};
        for (const role of roles) {
          const p = ctx.param(role);
          if (p) weights[role] = p;
        }
        const config = isObject(node.attrs.config as JsonObject) ? (node.attrs.config as JsonObject) : {};
        return { className: classes[0], name: ctx.name, config, inputs: ctx.inputs, weights };
      }),
  });
}
