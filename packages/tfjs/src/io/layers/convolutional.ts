/**
 * tfjs-layers' convolutional layers: Conv2D (grouped and dilated too), SeparableConv2D (imported
 * as a depthwise conv and a 1x1 conv, and written back as one layer while that pair is intact),
 * DepthwiseConv2D (any depth_multiplier), Conv1D, Conv2DTranspose.
 *
 * tfjs-layers has no grouped convolution: a grouped conv is written as a DepthwiseConv2D when
 * each group reads one channel, else as a plain conv whose kernel is zero outside the groups
 * (the same outputs, `groups` times the weights; the export notes say so).
 */
import { convGroups, dilation1, dilation2, stride1, strides2, type Attrs, type Node, type Param } from '@condense/ir';
import { brief, type Json, type JsonObject } from '../errors.js';
import type { FromKerasContext, KerasLayerSpec, ToKerasContext } from '../mapping.js';
import { fusedActivation, withActivation } from './activation-attrs.js';
import { CHANNELS_LAST, biasOf, channelsLast, expectDims, int, layer, need, pairOf, paddingOf, withBias } from './config.js';
import { kernelBias } from './core.js';
import type { LayerFamily } from './family.js';

function groupsOf(config: JsonObject, ctx: FromKerasContext): Attrs {
  const g = config.groups ?? 1;
  if (!(Number.isInteger(g) && (g as number) >= 1)) ctx.fail(`groups must be a positive integer, got ${brief(g)}`);
  return g === 1 ? {} : { groups: g as number };
}

function convAttrs(config: JsonObject, ctx: FromKerasContext): Attrs {
  channelsLast(config, ctx);
  const strides = pairOf(config.strides, 1, 'strides', ctx);
  const dilation = pairOf(config.dilation_rate, 1, 'dilation_rate', ctx);
  const attrs: Attrs = { padding: paddingOf(config, ctx), ...groupsOf(config, ctx) };
  if (strides[0] !== 1 || strides[1] !== 1) attrs.strides = strides;
  if (dilation[0] !== 1 || dilation[1] !== 1) attrs.dilation = dilation;
  return attrs;
}

/** A 1-D window field: n or [n]. */
function singleOf(v: Json | undefined, dflt: number, field: string, ctx: FromKerasContext): number {
  const a = v === undefined || v === null ? dflt : Array.isArray(v) && v.length === 1 ? v[0] : v;
  if (!(Number.isInteger(a) && (a as number) > 0)) ctx.fail(`${field} must be a positive integer or [n], got ${brief(v)}`);
  return a as number;
}

/**
 * A grouped kernel [..., cin / g, cout] as the dense kernel [..., cin, cout] of the same conv: zero
 * except where output o's group reads input c. Annotations are not carried (the values are).
 */
export function blockDiagonal(k: Param, groups: number): Param {
  const lead = k.shape.slice(0, -2);
  const [cpg, cout] = k.shape.slice(-2);
  const cin = cpg * groups;
  const opg = cout / groups;
  const taps = lead.reduce((a, b) => a * b, 1);
  const data = new Float32Array(taps * cin * cout);
  for (let t = 0; t < taps; t++) {
    for (let o = 0; o < cout; o++) {
      const first = Math.floor(o / opg) * cpg;
      for (let c = 0; c < cpg; c++) data[(t * cin + first + c) * cout + o] = k.data[(t * cpg + c) * cout + o];
    }
  }
  return { name: k.name, shape: [...lead, cin, cout], data };
}

/** A kernel [kh, kw, ...] dilated by (dh, dw) as the undilated kernel with zeros between its taps (the same outputs). */
export function spreadKernel(k: Param, [dh, dw]: [number, number]): Param {
  const [kh, kw, ...rest] = k.shape;
  const [sh, sw] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const inner = rest.reduce((a, b) => a * b, 1);
  const data = new Float32Array(sh * sw * inner);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++) data.set(k.data.subarray((y * kw + x) * inner, (y * kw + x + 1) * inner), (y * dh * sw + x * dw) * inner);
  return { name: k.name, shape: [sh, sw, ...rest], data };
}

/** The kernel of a grouped conv as tfjs-layers can hold it (see the file's comment), with a note when it grows. */
function ungrouped(node: Node, kernel: Param, ctx: ToKerasContext): Param {
  const groups = convGroups(node.attrs);
  if (groups === 1) return kernel;
  ctx.note(`a conv with ${groups} groups has no tfjs-layers form; written as one whose kernel is zero outside the groups (${groups}x the kernel weights)`);
  return blockDiagonal(kernel, groups);
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
  if (pointwise.op !== 'conv2d' || ctx.originalOf(pointwise.name)?.className !== 'SeparableConv2D' || convGroups(pointwise.attrs) !== 1) return undefined;
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
        ctx.addNode({
          name: dwName,
          op: 'depthwiseConv2d',
          inputs: ctx.inputs,
          attrs: { ...attrs, ...(m !== 1 ? { depthMultiplier: m } : {}) },
          params: { kernel: depthwise },
        });
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
        const groups = convGroups(node.attrs);
        if (groups > 1 && kernel.shape[2] === 1) {
          // One input per group: a depthwise conv with multiplier cout / cin (the kernel's values in the same order).
          const m = kernel.shape[3] / groups;
          const depthwise = { ...kernel, shape: [kernel.shape[0], kernel.shape[1], groups, m] };
          const config = { kernel_size: [kernel.shape[0], kernel.shape[1]], depth_multiplier: m, ...windowConfig(node), use_bias: !!bias };
          return withActivation(layer(ctx, 'DepthwiseConv2D', config, { depthwise_kernel: depthwise, bias }), node, ctx);
        }
        const config = { filters: kernel.shape[3], kernel_size: [kernel.shape[0], kernel.shape[1]], ...windowConfig(node), use_bias: !!bias };
        return withActivation(layer(ctx, 'Conv2D', config, { kernel: ungrouped(node, kernel, ctx), bias }), node, ctx);
      },
    },

    conv1d: {
      kerasClass: 'Conv1D',
      kerasWeightOrder: kernelBias('kernel'),
      fromKeras(l, ctx) {
        channelsLast(l.config, ctx);
        const padding = l.config.padding ?? 'valid';
        if (padding !== 'same' && padding !== 'valid' && padding !== 'causal')
          ctx.fail(`padding ${brief(padding)} is not supported (only 'same', 'valid' and 'causal')`);
        const k = singleOf(l.config.kernel_size, 1, 'kernel_size', ctx);
        const strides = singleOf(l.config.strides, 1, 'strides', ctx);
        const dilation = singleOf(l.config.dilation_rate, 1, 'dilation_rate', ctx);
        const kernel = ctx.weight('kernel');
        expectDims(kernel, [k, undefined, int(l.config.filters)], ctx);
        const attrs: Attrs = { padding, ...groupsOf(l.config, ctx), ...fusedActivation(l.config, ctx) };
        if (strides !== 1) attrs.strides = strides;
        if (dilation !== 1) attrs.dilation = dilation;
        ctx.addNode({ name: l.name, op: 'conv1d', inputs: ctx.inputs, attrs, params: withBias(kernel, biasOf(l.config, ctx)) });
      },
      toKeras(node, ctx) {
        const kernel = need(ctx, 'kernel');
        const bias = ctx.param('bias');
        const padding = (node.attrs.padding as string | undefined) ?? 'valid';
        if (padding === 'causal') ctx.fail("padding 'causal' has no tfjs-layers form (its Conv1D refuses it)");
        const config = {
          filters: kernel.shape[2],
          kernel_size: [kernel.shape[0]],
          strides: [stride1(node.attrs)],
          padding,
          data_format: CHANNELS_LAST,
          dilation_rate: [dilation1(node.attrs)],
          use_bias: !!bias,
        };
        return withActivation(layer(ctx, 'Conv1D', config, { kernel: ungrouped(node, kernel, ctx), bias }), node, ctx);
      },
    },

    conv2dTranspose: {
      kerasClass: 'Conv2DTranspose',
      kerasWeightOrder: kernelBias('kernel'),
      fromKeras(l, ctx) {
        const { padding, strides, dilation, groups } = convAttrs(l.config, ctx);
        if (dilation !== undefined) ctx.fail(`dilation_rate ${brief(l.config.dilation_rate)} is not supported (only 1, as tfjs-layers)`);
        if (groups !== undefined) ctx.fail(`groups ${brief(l.config.groups)} is not supported`);
        if (l.config.output_padding !== undefined && l.config.output_padding !== null)
          ctx.fail(`output_padding ${brief(l.config.output_padding)} is not supported (only none, as tfjs-layers)`);
        const size = pairOf(l.config.kernel_size, 1, 'kernel_size', ctx);
        const kernel = ctx.weight('kernel');
        expectDims(kernel, [size[0], size[1], int(l.config.filters), undefined], ctx);
        const attrs = { padding, ...(strides !== undefined ? { strides } : {}), ...fusedActivation(l.config, ctx) };
        ctx.addNode({ name: l.name, op: 'conv2dTranspose', inputs: ctx.inputs, attrs, params: withBias(kernel, biasOf(l.config, ctx)) });
      },
      toKeras(node, ctx) {
        const kernel = need(ctx, 'kernel');
        const bias = ctx.param('bias');
        const config = { filters: kernel.shape[2], kernel_size: [kernel.shape[0], kernel.shape[1]], ...windowConfig(node), use_bias: !!bias };
        return withActivation(layer(ctx, 'Conv2DTranspose', config, { kernel, bias }), node, ctx);
      },
    },

    depthwiseConv2d: {
      kerasClass: 'DepthwiseConv2D',
      kerasWeightOrder: kernelBias('depthwise_kernel'),
      fromKeras(l, ctx) {
        const size = pairOf(l.config.kernel_size, 1, 'kernel_size', ctx);
        // Keras 2 and TF.js call the weight depthwise_kernel, Keras 3 calls it kernel.
        const kernel =
          ctx.weight('depthwise_kernel', true) ??
          ctx.weight('kernel', true) ??
          ctx.fail(`weight '${l.name}/depthwise_kernel' (or '${l.name}/kernel', as Keras 3 names it) is missing from the weights manifest`);
        const m = int(l.config.depth_multiplier) ?? kernel.shape[3];
        expectDims(kernel, [size[0], size[1], undefined, m], ctx);
        const bias = biasOf(l.config, ctx);
        const attrs = { ...convAttrs(l.config, ctx), ...fusedActivation(l.config, ctx), ...(m !== 1 ? { depthMultiplier: m } : {}) };
        ctx.addNode({ name: l.name, op: 'depthwiseConv2d', inputs: ctx.inputs, attrs, params: withBias(kernel, bias) });
      },
      toKeras(node, ctx) {
        const [reader] = ctx.consumers(node.name);
        if (reader && separableDepthwise(reader, ctx) === node) return []; // written as part of the SeparableConv2D
        let kernel = need(ctx, 'kernel');
        const bias = ctx.param('bias');
        const dilation = dilation2(node.attrs);
        const config: JsonObject = { ...windowConfig(node), depth_multiplier: kernel.shape[3], use_bias: !!bias };
        if (dilation[0] !== 1 || dilation[1] !== 1) {
          // tfjs-layers' DepthwiseConv2D ignores dilation_rate: write the dilated kernel itself.
          kernel = spreadKernel(kernel, dilation);
          config.dilation_rate = [1, 1];
          ctx.note(
            `tfjs-layers' DepthwiseConv2D ignores dilation_rate; written with the ${dilation.join('x')}-dilated kernel spread out (${kernel.shape[0]}x${kernel.shape[1]}, zeros between the taps)`,
          );
        }
        return withActivation(
          layer(ctx, 'DepthwiseConv2D', { kernel_size: [kernel.shape[0], kernel.shape[1]], ...config }, { depthwise_kernel: kernel, bias }),
          node,
          ctx,
        );
      },
    },
  },
};
