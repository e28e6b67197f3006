import { affineRange, channelFlow, quantize, quantRange, quantSlot, setQuant, type AffineQuant, type Graph, type Node, type Param } from '@condense/ir';
import { QuantizeError } from './errors.js';
import { checkBits, errorStats } from './metrics.js';
import { selectParams, type ParamKind, type Select } from './select.js';

export type AffineDtype = 'uint8' | 'int8' | 'uint16' | 'int16';

const DTYPES: Record<AffineDtype, { bits: number; signed: boolean }> = {
  uint8: { bits: 8, signed: false },
  int8: { bits: 8, signed: true },
  uint16: { bits: 16, signed: false },
  int16: { bits: 16, signed: true },
};

export interface AffineOptions {
  /** Shorthand for bits + signed (default 'uint8'). */
  dtype?: AffineDtype;
  /** Code width, 1..16 (default 8). When `dtype` is given too, the two must agree. */
  bits?: number;
  signed?: boolean;
  /**
   * Symmetric: the range is [-max|x|, max|x|] with the zero point in the middle (0 for signed,
   * 2^(bits-1) for unsigned); needs bits >= 2. Asymmetric (default): [min, max], stretched to
   * include 0 and with the zero point rounded to an integer, so 0 is exactly representable.
   */
  symmetric?: boolean;
  /** One scale/zero point per output channel (default false: per tensor). */
  perChannel?: boolean;
  /**
   * The channel axis (implies perChannel). Default: the op's output-channel axis of the param
   * (dense [in, out] and conv HWIO: the last; depthwise HWCM: 2), else the last axis.
   */
  axis?: number;
}

/** Resolved affine settings. */
export interface AffineSpec {
  bits: number;
  signed: boolean;
  symmetric: boolean;
  /** Per-channel axis (non-negative), undefined for per tensor. */
  axis?: number;
}

export interface AffineReport {
  param: string;
  layer?: string;
  op?: string;
  bits: number;
  signed: boolean;
  symmetric: boolean;
  axis?: number;
  /** Scale/zero-point pairs: 1 per tensor, else the size of the channel axis. */
  channels: number;
  /** Largest scale / 2: the round-trip error bound of every kept element. */
  errorBound: number;
  maxAbsError: number;
  mse: number;
  relativeError: number;
  /** A stock TF.js weights manifest can hold this quantization as is (see `tfjsQuantization`). */
  tfjs: boolean;
}

/** Bits, signedness, symmetry and axis from the options; `where` prefixes error messages. */
export function resolveAffine(options: AffineOptions, shape: readonly number[], defaultAxis: number | undefined, where: string): AffineSpec {
  const { dtype, symmetric = false } = options;
  if (dtype !== undefined && !Object.hasOwn(DTYPES, dtype))
    throw new QuantizeError(`${where}: 'dtype' must be one of ${Object.keys(DTYPES).join(', ')}, got '${dtype}'`);
  const fromDtype = DTYPES[dtype ?? 'uint8'];
  const bits = checkBits(options.bits ?? fromDtype.bits, `${where}: 'bits'`);
  const signed = options.signed ?? fromDtype.signed;
  if (dtype !== undefined && (bits !== fromDtype.bits || signed !== fromDtype.signed)) {
    throw new QuantizeError(`${where}: 'dtype' ${dtype} contradicts bits ${bits} / signed ${signed}; give one or the other`);
  }
  if (symmetric && bits < 2) throw new QuantizeError(`${where}: symmetric quantization needs 'bits' >= 2, got ${bits}`);
  const rank = shape.length;
  let axis = options.axis ?? (options.perChannel ? (defaultAxis ?? rank - 1) : undefined);
  if (axis !== undefined) {
    if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
      throw new QuantizeError(`${where}: 'axis' ${axis} is out of range for shape [${shape.join(', ')}]`);
    axis = axis < 0 ? axis + rank : axis;
  }
  return { bits, signed, symmetric, axis };
}

/**
 * Scale and zero point per slot from the min/max of the kept elements (masked ones are 0 and
 * are ignored; 0 is always inside the range). Asymmetric ranges are nudged as TF does: the zero
 * point is rounded to an integer, so 0 maps exactly to a code and every value in [min, max] is
 * within scale/2 of its dequantized value.
 */
export function affineQuant(data: Float32Array, shape: readonly number[], spec: AffineSpec, mask?: Uint8Array): AffineQuant {
  const slots = spec.axis === undefined ? 1 : shape[spec.axis];
  const slot = quantSlot(shape, spec.axis);
  const lo = new Float64Array(slots);
  const hi = new Float64Array(slots);
  for (let i = 0; i < data.length; i++) {
    if (mask && mask[i] === 0) continue;
    const s = slot(i);
    if (data[i] < lo[s]) lo[s] = data[i];
    if (data[i] > hi[s]) hi[s] = data[i];
  }
  const scale = new Float32Array(slots);
  const zeroPoint = new Int32Array(slots);
  for (let s = 0; s < slots; s++) ({ scale: scale[s], zeroPoint: zeroPoint[s] } = affineRange(lo[s], hi[s], spec));
  return { bits: spec.bits, signed: spec.signed, scale, zeroPoint, ...(spec.axis === undefined ? {} : { axis: spec.axis }) };
}

/**
 * Affine-quantize one param: compute scale/zero point and `setQuant`, which rewrites data to
 * the dequantized values (masked elements stay 0). Replaces a previous affine quantization and
 * the float16 mark; refuses a weight-shared param (its data must stay on the codebook).
 */
export function quantizeAffine(p: Param, options: AffineOptions = {}, defaultAxis?: number): AffineReport {
  const where = `quantizeAffine: param '${p.name}'`;
  if (p.codebook)
    throw new QuantizeError(
      `${where} is weight-shared (has a codebook); affine quantization would break data == centroids[index] (delete param.codebook first)`,
    );
  const spec = resolveAffine(options, p.shape, defaultAxis, where);
  const q = affineQuant(p.data, p.shape, spec, p.mask);
  const before = p.data.slice();
  setQuant(p, q);
  delete p.float16;
  const err = errorStats(before, p.data, p.mask);
  return {
    param: p.name,
    ...spec,
    channels: q.scale.length,
    errorBound: q.scale.reduce((a, b) => Math.max(a, b), 0) / 2,
    maxAbsError: err.maxAbsError,
    mse: err.mse,
    relativeError: err.relativeError,
    tfjs: tfjsQuantization(q) !== undefined,
  };
}

/** The axis of a node's param that is indexed by the node's output channels, if the op declares one. */
export function outputChannelAxis(node: Node, role: string): number | undefined {
  const flow = channelFlow(node);
  if (flow.kind === 'produce') return flow.out.find((a) => a.role === role)?.axis;
  if (flow.kind === 'elementwise') return flow.params?.find((a) => a.role === role)?.axis;
  return undefined;
}

export interface AffineGraphOptions extends AffineOptions {
  /** Patterns (or a predicate) of the params to quantize; default all candidates. */
  include?: Select;
  /** @deprecated the old name of `include`. */
  layers?: Select;
  /** Patterns never quantized (wins over include). */
  exclude?: readonly string[];
  /** Param kinds that are candidates; default ['weight'] (dense and conv kernels). */
  kinds?: readonly ParamKind[];
}

/** `quantizeAffine` on every selected param; per-channel axes default to each op's output-channel axis. */
export function quantizeGraphAffine(graph: Graph, options: AffineGraphOptions = {}): AffineReport[] {
  const { include, layers, exclude, kinds = ['weight'], ...affine } = options;
  return selectParams(graph, { include, layers, exclude, kinds, caller: 'quantizeGraphAffine' }).map((use) => ({
    ...quantizeAffine(use.param, affine, outputChannelAxis(use.node, use.role)),
    layer: use.node.name,
    op: use.node.op,
  }));
}

/** The `quantization` entry of a TF.js weights manifest: dequantized value = code * scale + min. */
export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16';
  scale: number;
  min: number;
}

/**
 * How a TF.js manifest expresses `q`, or undefined when it cannot. TF.js only knows per-tensor
 * unsigned codes with value = u * scale + min, so: min = -zeroPoint * scale. Signed codes fit
 * too, shifted by 2^(bits-1) (u = q + 2^(bits-1), min = -(zeroPoint + 2^(bits-1)) * scale);
 * per-channel quantization does not fit and must be exported dequantized (float32/float16).
 * All products here are exact in float64, so TF.js dequantizes to the same float32 as `data`.
 */
export function tfjsQuantization(q: AffineQuant): TfjsQuantization | undefined {
  if (q.axis !== undefined && q.scale.length !== 1) return undefined;
  const offset = q.signed ? 2 ** (q.bits - 1) : 0;
  const scale = q.scale[0];
  return { dtype: q.bits <= 8 ? 'uint8' : 'uint16', scale, min: -(q.zeroPoint[0] + offset) * scale };
}

/** The manifest entry and the unsigned codes to write for an affine-quantized param, or undefined when TF.js cannot express it. */
export function tfjsQuantizedWeight(p: Param): { quantization: TfjsQuantization; codes: Uint8Array | Uint16Array } | undefined {
  if (!p.quant) return undefined;
  const quantization = tfjsQuantization(p.quant);
  if (!quantization) return undefined;
  const [qmin] = quantRange(p.quant);
  const offset = p.quant.signed ? -qmin : 0;
  const codes = quantize(p, p.quant);
  const out = quantization.dtype === 'uint8' ? new Uint8Array(codes.length) : new Uint16Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = codes[i] + offset;
  return { quantization, codes: out };
}
