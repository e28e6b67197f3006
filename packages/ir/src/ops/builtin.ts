import { formatShape } from '../errors.js';
import { activationScalar, activationScalePass, isActivation } from './activations.js';
import {
  checkActivation,
  convGroups,
  dilation2,
  groupInputs,
  keepsConstant,
  kernelOf,
  lastDim,
  rank,
  spatialOut,
  spatialPositions,
  strides2,
  zeroPadding,
} from './common.js';
import { fail, registerOp, type OpContext } from './registry.js';
import type { Shape } from '../types.js';

registerOp({
  op: 'input',
  arity: 0,
  inferShape: (ctx) => {
    const shape = ctx.node.attrs.shape;
    if (!Array.isArray(shape) || !shape.every((d) => d === null || (Number.isInteger(d) && d >= 1))) {
      fail(
        ctx,
        `input needs attrs.shape, an array of positive integers (null for a size known only at run time) without the batch dimension; got ${JSON.stringify(shape)}`,
      );
    }
    return [null, ...(shape as (number | null)[])];
  },
  channels: { kind: 'opaque' },
});

registerOp({
  op: 'dense',
  arity: 1,
  params: {
    kernel: { kind: 'weight', shape: (ctx) => [lastDim(ctx, ctx.inputs[0]), kernelOf(ctx, 2)[1]] },
    bias: { kind: 'bias', optional: true, shape: (ctx) => [kernelOf(ctx, 2)[1]] },
  },
  inferShape: (ctx) => {
    checkActivation(ctx, 'activation');
    const s = ctx.inputs[0];
    if (s.length < 2) fail(ctx, `expects an input of rank >= 2, got ${formatShape(s)}`);
    return [...s.slice(0, -1), kernelOf(ctx, 2)[1]];
  },
  macs: (ctx, out) => {
    const [inF, outF] = kernelOf(ctx, 2);
    const positions = out.slice(1, -1).reduce<number>((a, b) => a * (b ?? 1), 1);
    return positions * inF * outF;
  },
  channels: {
    kind: 'produce',
    in: [{ role: 'kernel', axis: 0 }],
    out: [
      { role: 'kernel', axis: 1 },
      { role: 'bias', axis: 0 },
    ],
  },
});

registerOp({
  op: 'conv2d',
  arity: 1,
  params: {
    kernel: {
      kind: 'weight',
      shape: (ctx) => {
        const k = kernelOf(ctx, 4);
        return [k[0], k[1], groupInputs(ctx, k[3]), k[3]];
      },
    },
    bias: { kind: 'bias', optional: true, shape: (ctx) => [kernelOf(ctx, 4)[3]] },
  },
  inferShape: (ctx) => {
    checkActivation(ctx, 'activation');
    rank(ctx, 0, 4);
    groupInputs(ctx, kernelOf(ctx, 4)[3]);
    const k = kernelOf(ctx, 4);
    const [ho, wo] = spatialOut(ctx, [k[0], k[1]], strides2(ctx.node.attrs), dilation2(ctx.node.attrs));
    return [null, ho, wo, k[3]];
  },
  // A grouped kernel's axis 2 is one group's inputs: every output reads only those.
  macs: (ctx, out) => {
    const k = kernelOf(ctx, 4);
    return spatialPositions(out) * k[0] * k[1] * k[2] * k[3];
  },
  channels: {
    kind: 'produce',
    in: [{ role: 'kernel', axis: 2 }],
    out: [
      { role: 'kernel', axis: 3 },
      { role: 'bias', axis: 0 },
    ],
    groups: convGroups,
  },
});

const depthMultiplier = (attrs: Record<string, unknown>) => (attrs.depthMultiplier as number | undefined) ?? 1;

registerOp({
  op: 'depthwiseConv2d',
  arity: 1,
  params: {
    kernel: {
      kind: 'weight',
      shape: (ctx) => {
        const k = kernelOf(ctx, 4);
        return [k[0], k[1], lastDim(ctx, ctx.inputs[0]), depthMultiplier(ctx.node.attrs)];
      },
    },
    bias: { kind: 'bias', optional: true, shape: (ctx) => [lastDim(ctx, ctx.inputs[0]) * depthMultiplier(ctx.node.attrs)] },
  },
  inferShape: (ctx) => {
    checkActivation(ctx, 'activation');
    const s = rank(ctx, 0, 4);
    const k = kernelOf(ctx, 4);
    const [ho, wo] = spatialOut(ctx, [k[0], k[1]], strides2(ctx.node.attrs), dilation2(ctx.node.attrs));
    return [null, ho, wo, (s[3] as number) * depthMultiplier(ctx.node.attrs)];
  },
  macs: (ctx, out) => {
    const k = kernelOf(ctx, 4);
    return spatialPositions(out) * k[0] * k[1] * k[2] * k[3];
  },
  channels: {
    kind: 'elementwise',
    expand: depthMultiplier,
    params: [
      { role: 'kernel', axis: 2, per: 'in' },
      { role: 'bias', axis: 0, per: 'out' },
    ],
  },
});

const perChannel = (ctx: OpContext) => [lastDim(ctx, ctx.inputs[0])];

registerOp({
  op: 'batchNorm',
  arity: 1,
  params: {
    gamma: { kind: 'norm', optional: true, shape: perChannel },
    beta: { kind: 'norm', optional: true, shape: perChannel },
    movingMean: { kind: 'norm', shape: perChannel },
    movingVariance: { kind: 'norm', shape: perChannel },
  },
  inferShape: (ctx) => ctx.inputs[0],
  channels: {
    kind: 'elementwise',
    params: ['gamma', 'beta', 'movingMean', 'movingVariance'].map((role) => ({ role, axis: 0 })),
  },
  // A zero gamma makes the channel beta whatever its input; a constant input gives a constant.
  channelValues: (node) => ({
    constant: (k, c, param) => {
      const at = (role: string, dflt: number) => param(role)?.data[c] ?? dflt;
      const gamma = at('gamma', 1);
      if (gamma === 0) return at('beta', 0);
      if (k === undefined) return undefined;
      const eps = (node.attrs.epsilon as number | undefined) ?? 1e-3;
      return (gamma * (k - at('movingMean', 0))) / Math.sqrt(at('movingVariance', 1) + eps) + at('beta', 0);
    },
  }),
});

registerOp({
  op: 'activation',
  arity: 1,
  inferShape: (ctx) => {
    if (ctx.node.attrs.fn === undefined) fail(ctx, 'activation needs attrs.fn');
    checkActivation(ctx, 'fn');
    return ctx.inputs[0];
  },
  channels: { kind: 'elementwise' },
  channelValues: ({ attrs }) => {
    if (!isActivation(attrs.fn)) return undefined;
    const f = activationScalar(attrs.fn, attrs);
    if (!f) return undefined; // softmax mixes the channels
    return { scale: activationScalePass(attrs.fn, attrs), constant: (k) => (k === undefined ? undefined : f(k)) };
  },
});

registerOp({
  op: 'flatten',
  arity: 1,
  inferShape: (ctx) => {
    const s = ctx.inputs[0];
    if (s.slice(1).some((d) => d === null)) fail(ctx, `cannot flatten a shape with unknown dimensions ${formatShape(s)}`);
    return [null, s.slice(1).reduce<number>((a, b) => a * (b as number), 1)];
  },
  channels: { kind: 'flatten' },
});

registerOp({
  op: 'reshape',
  arity: 1,
  inferShape: (ctx) => {
    const target = ctx.node.attrs.targetShape as number[] | undefined;
    if (!Array.isArray(target)) fail(ctx, 'reshape needs attrs.targetShape');
    const wild = target.filter((d) => d === -1).length;
    if (wild > 1 || target.some((d) => d !== -1 && !(Number.isInteger(d) && d >= 1))) {
      fail(ctx, `targetShape [${target.join(', ')}] must hold positive integers and at most one -1`);
    }
    const size = ctx.inputs[0].slice(1).reduce<number>((a, b) => a * (b as number), 1);
    const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const out = target.map((d) => (d === -1 ? size / known : d));
    if (out.reduce((a, b) => a * b, 1) !== size || out.some((d) => !Number.isInteger(d))) {
      fail(ctx, `cannot reshape ${formatShape(ctx.inputs[0])} to [${target.join(', ')}]`);
    }
    return [null, ...out];
  },
  // Row-major: when the last axis keeps its length, element p * C + c stays channel c. Otherwise
  // the channel-group analysis sees the widths differ and keeps both sides whole.
  channels: { kind: 'elementwise' },
  followChannels: (node, [s]) => {
    const target = node.attrs.targetShape as number[];
    const [last, c] = [target[target.length - 1], s[s.length - 1]];
    return last === -1 || c === null || last === c ? undefined : { ...node.attrs, targetShape: [...target.slice(0, -1), c] };
  },
});

function sameShapes(ctx: OpContext): Shape {
  const [first, ...rest] = ctx.inputs;
  for (const s of rest) {
    if (s.length !== first.length || s.some((d, i) => d !== first[i])) {
      fail(ctx, `inputs have different shapes: ${ctx.inputs.map(formatShape).join(' vs ')}`);
    }
  }
  return first;
}

registerOp({
  op: 'add',
  arity: 'variadic',
  inferShape: (ctx) => {
    if (ctx.inputs.length < 2) fail(ctx, 'add needs at least 2 inputs');
    return sameShapes(ctx);
  },
  channels: { kind: 'add' },
});

registerOp({
  op: 'concat',
  arity: 'variadic',
  inferShape: (ctx) => {
    const [first] = ctx.inputs;
    const r = first.length;
    const axis =
      ((ctx.node.attrs.axis as number | undefined) ?? -1) < 0 ? r + ((ctx.node.attrs.axis as number | undefined) ?? -1) : (ctx.node.attrs.axis as number);
    if (axis !== r - 1) fail(ctx, `only concatenation along the channel (last) axis is supported, got axis ${String(ctx.node.attrs.axis)}`);
    for (const s of ctx.inputs) {
      if (s.length !== r || s.some((d, i) => i !== axis && d !== first[i])) {
        fail(ctx, `inputs do not match outside the concat axis: ${ctx.inputs.map(formatShape).join(' vs ')}`);
      }
    }
    return [...first.slice(0, -1), ctx.inputs.reduce((a, s) => a + (s[axis] as number), 0)];
  },
  channels: { kind: 'concat' },
});

registerOp({
  op: 'dropout',
  arity: 1,
  inferShape: (ctx) => {
    const rate = (ctx.node.attrs.rate as number | undefined) ?? 0;
    if (!(rate >= 0 && rate < 1)) fail(ctx, `dropout rate must be in [0, 1), got ${rate}`);
    return ctx.inputs[0];
  },
  channels: { kind: 'elementwise' },
  // Inference semantics: the identity.
  channelValues: keepsConstant('any'),
});

registerOp({
  op: 'zeroPad2d',
  arity: 1,
  inferShape: (ctx) => {
    const [n, h, w, c] = rank(ctx, 0, 4);
    const [[t, b], [l, r]] = zeroPadding(ctx.node.attrs.padding);
    if (![t, b, l, r].every((d) => Number.isInteger(d) && d >= 0))
      fail(ctx, `padding must be non-negative integers, got ${JSON.stringify(ctx.node.attrs.padding)}`);
    return [n, (h as number) + t + b, (w as number) + l + r, c];
  },
  channels: { kind: 'elementwise' },
  // The padding is 0: only a zero channel stays constant.
  channelValues: () => ({ scale: 'any', constant: (k) => (k === 0 ? 0 : undefined) }),
});
