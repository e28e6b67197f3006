/** Reference per-channel ops with params: batchNorm, layerNorm, rescaling (prelu has its own on the op). */
import { NORMALIZATION_EPSILON, rescaleOf } from '../../ops/normalization.js';
import { paramData, required, type Kernel } from './kernel.js';

export const batchNorm: Kernel = ([x], ctx) => {
  const c = x.shape[x.shape.length - 1];
  const eps = (ctx.node.attrs.epsilon as number | undefined) ?? 1e-3;
  const mean = required(ctx, 'movingMean');
  const variance = required(ctx, 'movingVariance');
  const gamma = paramData(ctx, 'gamma');
  const beta = paramData(ctx, 'beta');
  const y = new Float64Array(x.data.length);
  for (let i = 0; i < y.length; i++) {
    const ch = i % c;
    y[i] = ((x.data[i] - mean[ch]) / Math.sqrt(variance[ch] + eps)) * (gamma ? gamma[ch] : 1) + (beta ? beta[ch] : 0);
  }
  return y;
};

/** Mean and (biased) variance over each position's channels. */
export const layerNorm: Kernel = ([x], ctx) => {
  const c = x.shape[x.shape.length - 1];
  const eps = (ctx.node.attrs.epsilon as number | undefined) ?? 1e-3;
  const gamma = paramData(ctx, 'gamma');
  const beta = paramData(ctx, 'beta');
  const y = new Float64Array(x.data.length);
  for (let r = 0; r < y.length; r += c) {
    let mean = 0;
    for (let i = 0; i < c; i++) mean += x.data[r + i] / c;
    let variance = 0;
    for (let i = 0; i < c; i++) variance += (x.data[r + i] - mean) ** 2 / c;
    for (let i = 0; i < c; i++) y[r + i] = ((x.data[r + i] - mean) / Math.sqrt(variance + eps)) * (gamma ? gamma[i] : 1) + (beta ? beta[i] : 0);
  }
  return y;
};

export const normalization: Kernel = ([x], ctx) => {
  const c = x.shape[x.shape.length - 1];
  const mean = required(ctx, 'mean');
  const variance = required(ctx, 'variance');
  return x.data.map((v, i) => (v - mean[i % c]) / Math.max(Math.sqrt(variance[i % c]), NORMALIZATION_EPSILON));
};

export const rescaling: Kernel = ([x], ctx) => {
  const c = x.shape[x.shape.length - 1];
  const { scale, offset } = rescaleOf(ctx.node.attrs);
  const at = (v: number | number[], ch: number) => (typeof v === 'number' ? v : v[ch]);
  return x.data.map((v, i) => v * at(scale, i % c) + at(offset, i % c));
};
