/**
 * tfjs-layers' convolutional layers: Conv2D, SeparableConv2D (imported as a depthwise conv and a
 * 1x1 conv, and written back as one layer while that pair is intact), DepthwiseConv2D.
 */
import { dilation2, strides2, type Attrs, type Node, type Param } from '@condense/ir';
import { brief, type JsonObject } from '../errors.js';
import type { FromKerasContext, KerasLayerSpec, ToKerasContext } from '../mapping.js';
import { fusedActivation, withActivation } from './activation-attrs.js';
import { CHANNELS_LAST, biasOf, channelsLast, expectDims, int, layer, need, pairOf, paddingOf, withBias } from './config.js';
import { kernelBias } from './core.js';
import type { LayerFamily } from './family.js';

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

export const convolutional: LayerFamily = {
  name: 'convolutional',
  mappings: {
    conv2d: {
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
    },

    depthwiseConv2d: {
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
    },
  },
};
