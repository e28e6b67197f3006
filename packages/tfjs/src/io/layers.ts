/**
 * The built-in Keras layer <-> IR op mappings. Each is registered the way a plugin would
 * register its own (see `registerLayerMapping`).
 */
import { pool2, strides2, dilation2, zeroPadding, type ActivationFn, type Attrs, type Node, type Param } from '@condense/ir';
import { brief, isObject, type Json, type JsonObject } from './errors.js';
import { registerLayerMapping, type FromKerasContext, type KerasLayerSpec, type ToKerasContext } from './mapping.js';
import { declaredBatchShape, type KerasLayer } from './topology.js';

// ---------------------------------------------------------------- config readers

/** IR activation attrs: the function plus what Keras implies by its name (exec reads `alpha`, `approximate`). */
type ActivationAttrs = { fn: ActivationFn; alpha?: number; approximate?: boolean };

const KERAS_ACTIVATIONS: Record<string, ActivationAttrs> = {
  relu: { fn: 'relu' }, relu6: { fn: 'relu6' }, sigmoid: { fn: 'sigmoid' }, tanh: { fn: 'tanh' }, softmax: { fn: 'softmax' },
  linear: { fn: 'linear' }, elu: { fn: 'elu' }, selu: { fn: 'selu' }, softplus: { fn: 'softplus' }, swish: { fn: 'swish' },
  silu: { fn: 'swish' }, gelu: { fn: 'gelu' }, gelu_new: { fn: 'gelu', approximate: true },
  hard_sigmoid: { fn: 'hardSigmoid' }, hardSigmoid: { fn: 'hardSigmoid' },
  // Keras 3's leaky_relu activation uses negative_slope 0.2.
  leaky_relu: { fn: 'leakyRelu', alpha: 0.2 },
};

/** IR activation -> the identifier tfjs-layers reads (snake_case, as TF.js writes model.json). */
const TFJS_ACTIVATIONS: Partial<Record<ActivationFn, string>> = {
  relu: 'relu', relu6: 'relu6', sigmoid: 'sigmoid', tanh: 'tanh', softmax: 'softmax', linear: 'linear',
  elu: 'elu', selu: 'selu', softplus: 'softplus', swish: 'swish', gelu: 'gelu', hardSigmoid: 'hard_sigmoid',
};

function activationOf(v: Json | undefined, ctx: FromKerasContext, field = 'activation'): ActivationAttrs {
  if (v === undefined || v === null) return { fn: 'linear' };
  // Keras 3 may serialize a built-in activation as {class_name: 'function', config: 'relu', ...}.
  const id = typeof v === 'string' ? v : isObject(v) && typeof v.config === 'string' ? v.config : undefined;
  if (id === undefined) ctx.fail(`${field} ${brief(v)} is not a built-in activation`);
  const attrs = KERAS_ACTIVATIONS[id];
  if (!attrs) ctx.fail(`${field} '${id}' is not supported (supported: ${Object.keys(KERAS_ACTIVATIONS).join(', ')})`);
  if (attrs.fn === 'hardSigmoid' && ctx.kerasVersion?.startsWith('3')) ctx.fail(`${field} 'hard_sigmoid' of Keras 3 (relu6(x + 3) / 6) differs from TF.js's hard sigmoid and is not supported`);
  return { ...attrs };
}

/** Fused activation attrs of a weighted layer: none for linear. */
function fusedActivation(config: JsonObject, ctx: FromKerasContext): Attrs {
  const { fn, ...extra } = activationOf(config.activation, ctx);
  return fn === 'linear' ? {} : { activation: fn, ...extra };
}

function pairOf(v: Json | undefined, dflt: number, field: string, ctx: FromKerasContext): [number, number] {
  if (v === undefined || v === null) return [dflt, dflt];
  const a = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 1 ? [v[0], v[0]] : v;
  if (!Array.isArray(a) || a.length !== 2 || !a.every((x) => Number.isInteger(x) && (x as number) > 0)) ctx.fail(`${field} must be a positive integer or a pair, got ${brief(v)}`);
  return a as [number, number];
}

function paddingOf(config: JsonObject, ctx: FromKerasContext): 'same' | 'valid' {
  const p = config.padding ?? 'valid';
  if (p !== 'same' && p !== 'valid') ctx.fail(`padding ${brief(p)} is not supported (only 'same' and 'valid')`);
  return p;
}

function channelsLast(config: JsonObject, ctx: FromKerasContext) {
  const f = config.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last' && f !== 'channelsLast') ctx.fail(`data_format ${brief(f)} is not supported (only channels_last)`);
}

function axisOf(v: Json | undefined, dflt: number, field: string, ctx: FromKerasContext): number {
  const a = v === undefined || v === null ? dflt : Array.isArray(v) && v.length === 1 ? v[0] : v;
  if (!Number.isInteger(a)) ctx.fail(`${field} must be a single integer axis, got ${brief(v)}`);
  return a as number;
}

/** True when `axis` (possibly negative) is the last axis of a rank-`rank` value. */
const isLastAxis = (axis: number, rank: number) => axis === -1 || axis === rank - 1;

function expectDims(p: Param, dims: (number | undefined)[], ctx: FromKerasContext) {
  if (p.shape.length !== dims.length || dims.some((d, i) => d !== undefined && d !== p.shape[i])) {
    ctx.fail(`weight '${p.name}' has shape [${p.shape.join(', ')}], the config implies [${dims.map((d) => d ?? '?').join(', ')}]`);
  }
}

const int = (v: Json | undefined): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

/** The optional bias of a layer: present unless use_bias is false. */
const biasOf = (config: JsonObject, ctx: FromKerasContext) => (config.use_bias === false ? undefined : ctx.weight('bias'));

const withBias = (kernel: Param, bias: Param | undefined): Record<string, Param> => (bias ? { kernel, bias } : { kernel });

function convAttrs(config: JsonObject, ctx: FromKerasContext): Attrs {
  channelsLast(config, ctx);
  if (config.groups !== undefined && config.groups !== 1) ctx.fail(`groups = ${brief(config.groups)} is not supported (only 1)`);
  const strides = pairOf(config.strides, 1, 'strides', ctx);
  const dilation = pairOf(config.dilation_rate, 1, 'dilation_rate', ctx);
  const attrs: Attrs = { padding: paddingOf(config, ctx) };
  if (strides[0] !== 1 || strides[1] !== 1) attrs.strides = strides;
  if (dilation[0] !== 1 || dilation[1] !== 1) attrs.dilation = dilation;
  return attrs;
}

// ---------------------------------------------------------------- writers

const CHANNELS_LAST = 'channels_last';

/** tfjs-layers' activation identifier for an IR activation and its attrs; undefined when it has none. */
function tfjsActivationId(fn: unknown, attrs: Attrs): string | undefined {
  if (fn === undefined || fn === 'linear') return 'linear';
  // tfjs-layers has 'gelu_new' (the tanh form) but cannot load it from JSON (it camel-cases the name to 'geluNew').
  if (fn === 'gelu') return attrs.approximate ? undefined : 'gelu';
  if (fn === 'elu' && ((attrs.alpha as number | undefined) ?? 1) !== 1) return undefined;
  return TFJS_ACTIVATIONS[fn as ActivationFn];
}

/** A standalone Keras layer for an IR activation: the source's ReLU/Softmax/ELU class when it had one, LeakyReLU or Activation. */
function activationLayer(fn: unknown, attrs: Attrs, was: string | undefined, ctx: ToKerasContext): { className: string; config: JsonObject } {
  const alpha = attrs.alpha as number | undefined;
  if (fn === 'leakyRelu') return { className: 'LeakyReLU', config: { alpha: alpha ?? 0.3 } };
  if (fn === 'relu6' && was === 'ReLU') return { className: 'ReLU', config: { max_value: 6 } };
  if (fn === 'relu' && was === 'ReLU') return { className: 'ReLU', config: { max_value: null } };
  if (fn === 'softmax' && was === 'Softmax') return { className: 'Softmax', config: { axis: -1 } };
  if (fn === 'elu' && was === 'ELU' && (alpha ?? 1) === 1) return { className: 'ELU', config: { alpha: 1 } };
  const id = tfjsActivationId(fn, attrs);
  const shown = { fn, ...(alpha !== undefined ? { alpha } : {}), ...(attrs.approximate ? { approximate: true } : {}) };
  if (id === undefined) return ctx.fail(`activation ${brief(shown)} has no TF.js layer that tf.loadLayersModel can load (ELU only with alpha 1, gelu only exact)`);
  return { className: 'Activation', config: { activation: id } };
}

/**
 * A weighted layer with the node's fused activation: in its config when tfjs-layers has that
 * activation, else as a separate activation layer after it (e.g. a fused leaky relu).
 */
function withActivation(spec: KerasLayerSpec, node: Node, ctx: ToKerasContext): KerasLayerSpec[] {
  const id = tfjsActivationId(node.attrs.activation, node.attrs);
  if (id !== undefined) return [{ ...spec, config: { ...spec.config, activation: id } }];
  const pre = ctx.uniqueName(`${ctx.name}_preact`);
  const act = activationLayer(node.attrs.activation, node.attrs, undefined, ctx);
  return [{ ...spec, name: pre, config: { ...spec.config, activation: 'linear' } }, { ...act, name: ctx.name, inputs: [pre] }];
}

function layer(ctx: ToKerasContext, className: string, config: JsonObject, weights?: Record<string, Param | undefined>): KerasLayerSpec {
  const w: Record<string, Param> = {};
  for (const [role, p] of Object.entries(weights ?? {})) if (p) w[role] = p;
  return { className, name: ctx.name, config, inputs: ctx.inputs, weights: w };
}

function need(ctx: ToKerasContext, role: string): Param {
  return ctx.param(role) ?? ctx.fail(`has no '${role}' param`);
}

function windowConfig(node: Node): JsonObject {
  return {
    strides: strides2(node.attrs),
    padding: (node.attrs.padding as string | undefined) ?? 'valid',
    data_format: CHANNELS_LAST,
    dilation_rate: dilation2(node.attrs),
  };
}

/**
 * The depthwise node of a SeparableConv2D that import split in two, when the pair is still intact:
 * the pointwise conv came from a SeparableConv2D, reads a bias-free linear depthwise conv that
 * nothing else reads, and is still 1x1 with unit strides.
 */
function separableDepthwise(pointwise: Node, ctx: Pick<ToKerasContext, 'graph' | 'originalOf' | 'consumers' | 'param'>): Node | undefined {
  if (pointwise.op !== 'conv2d' || ctx.originalOf(pointwise.name)?.className !== 'SeparableConv2D') return undefined;
  const k = ctx.graph.params.get(pointwise.params.kernel ?? '');
  const [sh, sw] = strides2(pointwise.attrs);
  const [dh, dw] = dilation2(pointwise.attrs);
  if (!k || k.shape[0] !== 1 || k.shape[1] !== 1 || sh !== 1 || sw !== 1 || dh !== 1 || dw !== 1) return undefined;
  const d = ctx.graph.nodes.find((n) => n.name === pointwise.inputs[0]);
  if (!d || d.op !== 'depthwiseConv2d' || d.params.bias !== undefined) return undefined;
  if (d.attrs.activation !== undefined && d.attrs.activation !== 'linear') return undefined;
  if (ctx.graph.outputs.includes(d.name) || ctx.consumers(d.name).length !== 1) return undefined;
  return d;
}

// ---------------------------------------------------------------- the mappings

registerLayerMapping('input', {
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
});

/** Keras 3 save order of a kernel-and-bias layer (Dense, Conv2D, DepthwiseConv2D). */
const kernelBias = (kernel: string) => (l: KerasLayer) => (l.config.use_bias === false ? [kernel] : [kernel, 'bias']);

registerLayerMapping('dense', {
  kerasClass: 'Dense',
  kerasWeightOrder: kernelBias('kernel'),
  fromKeras(l, ctx) {
    const kernel = ctx.weight('kernel');
    expectDims(kernel, [undefined, int(l.config.units)], ctx);
    const bias = biasOf(l.config, ctx);
    ctx.addNode({ name: l.name, op: 'dense', inputs: ctx.inputs, attrs: fusedActivation(l.config, ctx), params: withBias(kernel, bias) });
  },
  toKeras(node, ctx) {
    const kernel = need(ctx, 'kernel');
    const bias = ctx.param('bias');
    return withActivation(layer(ctx, 'Dense', { units: kernel.shape[1], use_bias: !!bias }, { kernel, bias }), node, ctx);
  },
});

registerLayerMapping('conv2d', {
  kerasClass: ['Conv2D', 'SeparableConv2D'],
  kerasWeightOrder: (l) => (l.className === 'Conv2D' ? kernelBias('kernel')(l) : ['depthwise_kernel', ...kernelBias('pointwise_kernel')(l)]),
  fromKeras(l, ctx) {
    const attrs = convAttrs(l.config, ctx);
    const act = fusedActivation(l.config, ctx);
    const size = pairOf(l.config.kernel_size, 1, 'kernel_size', ctx);
    const bias = biasOf(l.config, ctx);
    if (l.className === 'Conv2D') {
      const kernel = ctx.weight('kernel');
      expectDims(kernel, [size[0], size[1], undefined, int(l.config.filters)], ctx);
      ctx.addNode({ name: l.name, op: 'conv2d', inputs: ctx.inputs, attrs: { ...attrs, ...act }, params: withBias(kernel, bias) });
      return;
    }
    // SeparableConv2D = depthwise conv (no bias) then a 1x1 conv with the bias and activation.
    const depthwise = ctx.weight('depthwise_kernel');
    const pointwise = ctx.weight('pointwise_kernel');
    // tfjs-layers does not write depth_multiplier for SeparableConv2D: the kernel's last axis is it.
    const m = int(l.config.depth_multiplier) ?? depthwise.shape[3];
    expectDims(depthwise, [size[0], size[1], undefined, m], ctx);
    expectDims(pointwise, [1, 1, undefined, int(l.config.filters)], ctx);
    const dwName = `${l.name}/depthwise`;
    ctx.addNode({ name: dwName, op: 'depthwiseConv2d', inputs: ctx.inputs, attrs: { ...attrs, ...(m !== 1 ? { depthMultiplier: m } : {}) }, params: { kernel: depthwise } });
    ctx.addNode({ name: l.name, op: 'conv2d', inputs: [dwName], attrs: { padding: 'valid', ...act }, params: withBias(pointwise, bias) });
  },
  toKeras(node, ctx) {
    const kernel = need(ctx, 'kernel');
    const bias = ctx.param('bias');
    const dw = separableDepthwise(node, ctx);
    if (dw) {
      const dk = ctx.graph.params.get(dw.params.kernel) as Param;
      const spec: KerasLayerSpec = {
        className: 'SeparableConv2D',
        name: ctx.name,
        config: { filters: kernel.shape[3], kernel_size: [dk.shape[0], dk.shape[1]], ...windowConfig(dw), depth_multiplier: dk.shape[3], use_bias: !!bias },
        inputs: dw.inputs.map(ctx.kerasName),
        weights: bias ? { depthwise_kernel: dk, pointwise_kernel: kernel, bias } : { depthwise_kernel: dk, pointwise_kernel: kernel },
      };
      return withActivation(spec, node, ctx);
    }
    const config = { filters: kernel.shape[3], kernel_size: [kernel.shape[0], kernel.shape[1]], ...windowConfig(node), use_bias: !!bias };
    return withActivation(layer(ctx, 'Conv2D', config, { kernel, bias }), node, ctx);
  },
});

registerLayerMapping('depthwiseConv2d', {
  kerasClass: 'DepthwiseConv2D',
  kerasWeightOrder: kernelBias('depthwise_kernel'),
  fromKeras(l, ctx) {
    const size = pairOf(l.config.kernel_size, 1, 'kernel_size', ctx);
    // Keras 2 and TF.js call the weight depthwise_kernel, Keras 3 calls it kernel.
    const kernel = ctx.weight('depthwise_kernel', true) ?? ctx.weight('kernel', true)
      ?? ctx.fail(`weight '${l.name}/depthwise_kernel' (or '${l.name}/kernel', as Keras 3 names it) is missing from the weights manifest`);
    const m = int(l.config.depth_multiplier) ?? kernel.shape[3];
    expectDims(kernel, [size[0], size[1], undefined, m], ctx);
    const bias = biasOf(l.config, ctx);
    const attrs = { ...convAttrs(l.config, ctx), ...fusedActivation(l.config, ctx), ...(m !== 1 ? { depthMultiplier: m } : {}) };
    ctx.addNode({ name: l.name, op: 'depthwiseConv2d', inputs: ctx.inputs, attrs, params: withBias(kernel, bias) });
  },
  toKeras(node, ctx) {
    const [reader] = ctx.consumers(node.name);
    if (reader && separableDepthwise(reader, ctx) === node) return []; // written as part of the SeparableConv2D
    const kernel = need(ctx, 'kernel');
    const bias = ctx.param('bias');
    const config = { kernel_size: [kernel.shape[0], kernel.shape[1]], depth_multiplier: kernel.shape[3], ...windowConfig(node), use_bias: !!bias };
    return withActivation(layer(ctx, 'DepthwiseConv2D', config, { depthwise_kernel: kernel, bias }), node, ctx);
  },
});

registerLayerMapping('batchNorm', {
  kerasClass: 'BatchNormalization',
  kerasWeightOrder: (l) => [...(l.config.scale !== false ? ['gamma'] : []), ...(l.config.center !== false ? ['beta'] : []), 'moving_mean', 'moving_variance'],
  fromKeras(l, ctx) {
    const rank = ctx.inputShapes[0].length;
    if (!isLastAxis(axisOf(l.config.axis, -1, 'axis', ctx), rank)) ctx.fail(`axis ${brief(l.config.axis)} is not supported (only the channel axis, -1)`);
    if (l.config.renorm === true) ctx.fail('batch renormalization is not supported');
    const params: Record<string, Param> = { movingMean: ctx.weight('moving_mean'), movingVariance: ctx.weight('moving_variance') };
    if (l.config.scale !== false) params.gamma = ctx.weight('gamma');
    if (l.config.center !== false) params.beta = ctx.weight('beta');
    const epsilon = typeof l.config.epsilon === 'number' ? l.config.epsilon : 1e-3;
    ctx.addNode({ name: l.name, op: 'batchNorm', inputs: ctx.inputs, attrs: { epsilon }, params });
  },
  toKeras(node, ctx) {
    const gamma = ctx.param('gamma');
    const beta = ctx.param('beta');
    const momentum = typeof ctx.original?.config.momentum === 'number' ? ctx.original.config.momentum : 0.99;
    const config = { axis: -1, momentum, epsilon: (node.attrs.epsilon as number | undefined) ?? 1e-3, center: !!beta, scale: !!gamma };
    return layer(ctx, 'BatchNormalization', config, { gamma, beta, moving_mean: need(ctx, 'movingMean'), moving_variance: need(ctx, 'movingVariance') });
  },
});

registerLayerMapping('activation', {
  kerasClass: ['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'Softmax'],
  fromKeras(l, ctx) {
    const add = (attrs: Attrs) => ctx.addNode({ name: l.name, op: 'activation', inputs: ctx.inputs, attrs });
    const c = l.config;
    switch (l.className) {
      case 'Activation':
        return void add({ ...activationOf(c.activation, ctx) });
      case 'ELU': {
        const alpha = c.alpha ?? 1;
        if (typeof alpha !== 'number') ctx.fail(`alpha must be a number, got ${brief(alpha)}`);
        return void add(alpha === 1 ? { fn: 'elu' } : { fn: 'elu', alpha });
      }
      case 'LeakyReLU': {
        const alpha = c.alpha ?? c.negative_slope ?? 0.3;
        if (typeof alpha !== 'number') ctx.fail(`alpha must be a number, got ${brief(alpha)}`);
        return void add({ fn: 'leakyRelu', alpha });
      }
      case 'Softmax': {
        if (!isLastAxis(axisOf(c.axis, -1, 'axis', ctx), ctx.inputShapes[0].length)) ctx.fail(`axis ${brief(c.axis)} is not supported (only the last axis)`);
        return void add({ fn: 'softmax' });
      }
      default: {
        // ReLU: max_value 6 is relu6, a negative slope is a leaky relu; other clips and thresholds have no IR op.
        const max = c.max_value ?? null;
        const slope = c.negative_slope ?? 0;
        const threshold = c.threshold ?? 0;
        if (threshold !== 0) ctx.fail(`threshold ${brief(threshold)} is not supported`);
        if (typeof slope !== 'number') ctx.fail(`negative_slope must be a number, got ${brief(slope)}`);
        if (max === null) return void add(slope === 0 ? { fn: 'relu' } : { fn: 'leakyRelu', alpha: slope });
        if (max === 6 && slope === 0) return void add({ fn: 'relu6' });
        ctx.fail(`max_value ${brief(max)} with negative_slope ${slope} is not supported (only max_value 6 or none)`);
      }
    }
  },
  toKeras(node, ctx) {
    const { className, config } = activationLayer(node.attrs.fn, node.attrs, ctx.original?.className, ctx);
    return layer(ctx, className, config);
  },
});

for (const [op, className] of [['maxPool2d', 'MaxPooling2D'], ['avgPool2d', 'AveragePooling2D']] as const) {
  registerLayerMapping(op, {
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
  });
}

registerLayerMapping('globalAvgPool2d', {
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
});

registerLayerMapping('flatten', {
  kerasClass: 'Flatten',
  fromKeras(l, ctx) {
    channelsLast(l.config, ctx);
    ctx.addNode({ name: l.name, op: 'flatten', inputs: ctx.inputs });
  },
  toKeras: (_node, ctx) => layer(ctx, 'Flatten', {}),
});

registerLayerMapping('reshape', {
  kerasClass: 'Reshape',
  fromKeras(l, ctx) {
    const t = l.config.target_shape;
    if (!Array.isArray(t) || !t.every((d) => Number.isInteger(d) && ((d as number) > 0 || d === -1))) ctx.fail(`target_shape ${brief(t)} must be a list of positive integers (or -1)`);
    ctx.addNode({ name: l.name, op: 'reshape', inputs: ctx.inputs, attrs: { targetShape: t as number[] } });
  },
  toKeras: (node, ctx) => layer(ctx, 'Reshape', { target_shape: node.attrs.targetShape as number[] }),
});

registerLayerMapping('dropout', {
  kerasClass: 'Dropout',
  fromKeras(l, ctx) {
    const rate = l.config.rate ?? 0;
    if (typeof rate !== 'number') ctx.fail(`rate must be a number, got ${brief(rate)}`);
    ctx.addNode({ name: l.name, op: 'dropout', inputs: ctx.inputs, attrs: { rate } });
  },
  toKeras: (node, ctx) => layer(ctx, 'Dropout', { rate: (node.attrs.rate as number | undefined) ?? 0 }),
});

registerLayerMapping('add', {
  kerasClass: 'Add',
  fromKeras(l, ctx) {
    if (ctx.inputs.length < 2) ctx.fail(`needs at least 2 inputs, got ${ctx.inputs.length}`);
    ctx.addNode({ name: l.name, op: 'add', inputs: ctx.inputs });
  },
  toKeras: (_node, ctx) => layer(ctx, 'Add', {}),
});

registerLayerMapping('concat', {
  kerasClass: 'Concatenate',
  fromKeras(l, ctx) {
    const axis = axisOf(l.config.axis, -1, 'axis', ctx);
    ctx.addNode({ name: l.name, op: 'concat', inputs: ctx.inputs, attrs: { axis } });
  },
  toKeras: (node, ctx) => layer(ctx, 'Concatenate', { axis: (node.attrs.axis as number | undefined) ?? -1 }),
});

registerLayerMapping('zeroPad2d', {
  kerasClass: 'ZeroPadding2D',
  fromKeras(l, ctx) {
    channelsLast(l.config, ctx);
    const p = l.config.padding;
    const ok = (v: Json): boolean => (Number.isInteger(v) && (v as number) >= 0) || (Array.isArray(v) && v.length <= 2 && v.every(ok));
    if (p !== undefined && p !== null && !ok(p)) ctx.fail(`padding ${brief(p)} must be an integer, [h, w] or [[top, bottom], [left, right]]`);
    ctx.addNode({ name: l.name, op: 'zeroPad2d', inputs: ctx.inputs, attrs: { padding: zeroPadding(p ?? undefined) } });
  },
  toKeras: (node, ctx) => layer(ctx, 'ZeroPadding2D', { padding: zeroPadding(node.attrs.padding), data_format: CHANNELS_LAST }),
});

