/**
 * The runtime of Kronecker-factorized layers for apps: import this module once before
 * `tf.loadLayersModel` and models exported with `KroneckerDense` / `KroneckerConv2D` layers load
 * with stock TF.js. It depends only on @tensorflow/tfjs-core, @tensorflow/tfjs-layers and two small
 * modules of condense: the activation table (`@condense/ir/activations`) and its TF.js kernels
 * (`@condense/tfjs/activations`), so the layers compute what the IR does.
 *
 *   import '@condense/kronecker/runtime';
 *   const model = await tf.loadLayersModel('model/model.json');
 *
 * The forward passes here are also what the condense executor runs, so a model computes the same
 * function during fine-tuning and after export.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ACTIVATIONS, isActivation, kerasActivationId, type ActivationFn } from '@condense/ir/activations';
import { activate } from '@condense/tfjs/activations';

type LayerArgs = ConstructorParameters<typeof tfl.layers.Layer>[0];

// ---------------------------------------------------------------- forward passes

/** tf.transpose, or a free reshape when the permutation only moves axes of size 1. */
function permute<T extends tf.Tensor>(x: T, perm: number[]): T {
  const moved = perm.filter((axis) => x.shape[axis] !== 1);
  if (moved.every((axis, i) => i === 0 || axis > moved[i - 1]))
    return tf.reshape(
      x,
      perm.map((axis) => x.shape[axis]),
    ) as T;
  return tf.transpose(x, perm);
}

/**
 * y = x W with W = sum_k a[k] (x) b[k] (a: [r, m1, n1], b: [r, m2, n2], W: [m1 m2, n1 n2]) without
 * forming W: with X the [m1, m2] view of a row of x, y = vec(sum_k a_k^T X b_k). The contraction
 * order is the cheaper one: A first costs r (m n1 + m2 n) MACs per row, B first r (m n2 + m1 n).
 */
export function kronMatMul(x: tf.Tensor2D, a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const [r, m1, n1] = a.shape;
    const [rb, m2, n2] = b.shape;
    const rows = x.shape[0];
    if (rb !== r) throw new Error(`kronMatMul: a has ${r} terms, b has ${rb}`);
    if (x.shape[1] !== m1 * m2) throw new Error(`kronMatMul: input has ${x.shape[1]} features, the factors need ${m1} x ${m2} = ${m1 * m2}`);
    const m = m1 * m2;
    const n = n1 * n2;
    if (m * n1 + m2 * n <= m * n2 + m1 * n) {
      // U[row, i2, (k, j1)] = sum_i1 X[i1, i2] a[k, i1, j1]; then y[row, j1, j2] = sum_(k, i2) U b[k, i2, j2].
      const xt = tf.reshape(permute(tf.reshape(x, [rows, m1, m2]), [0, 2, 1]), [rows * m2, m1]);
      const u = tf.matMul(xt, tf.reshape(permute(a, [1, 0, 2]), [m1, r * n1]));
      const ut = tf.reshape(permute(tf.reshape(u, [rows, m2, r, n1]), [0, 3, 2, 1]), [rows * n1, r * m2]);
      return tf.reshape(tf.matMul(ut, tf.reshape(b, [r * m2, n2])), [rows, n]);
    }
    // T[row, i1, (k, j2)] = sum_i2 X[i1, i2] b[k, i2, j2]; then y[row, j2, j1] = sum_(k, i1) T a[k, i1, j1].
    const t = tf.matMul(tf.reshape(x, [rows * m1, m2]), tf.reshape(permute(b, [1, 0, 2]), [m2, r * n2]));
    const tt = tf.reshape(permute(tf.reshape(t, [rows, m1, r, n2]), [0, 3, 2, 1]), [rows * n2, r * m1]);
    const y = tf.matMul(tt, tf.reshape(a, [r * m1, n1]));
    return tf.reshape(permute(tf.reshape(y, [rows, n2, n1]), [0, 2, 1]), [rows, n]);
  });
}

export interface KronConvOptions {
  strides?: number | [number, number];
  padding?: 'same' | 'valid';
}

const pair = (v: number | number[] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]];

/** TF 'same' padding of a window op: total = max((out - 1) * stride + k - size, 0), the smaller half first. */
export function samePadding(size: number, k: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * conv2d(x, W) with the HWIO kernel W = sum_k a[k] (x) b[k] (a: [r, h1, w1, c1, f1],
 * b: [r, h2, w2, c2, f2]; W: [h1 h2, w1 w2, c1 c2, f1 f2]), run as two convolutions (GKPD,
 * Hameed et al. 2022): B's h2 x w2 conv on each of the c1 input groups, then A's h1 x w1 conv,
 * dilated by (h2, w2), over the r c1 channels of each of the f2 output groups.
 */
export function kronConv2d(x: tf.Tensor4D, a: tf.Tensor5D, b: tf.Tensor5D, o: KronConvOptions = {}): tf.Tensor4D {
  return tf.tidy(() => {
    const [r, h1, w1, c1, f1] = a.shape;
    const [, h2, w2, c2, f2] = b.shape;
    const [n, hIn, wIn, cin] = x.shape;
    if (cin !== c1 * c2) throw new Error(`kronConv2d: input has ${cin} channels, the factors need ${c1} x ${c2} = ${c1 * c2}`);
    const [sh, sw] = pair(o.strides, 1);
    const kh = h1 * h2;
    const kw = w1 * w2;
    let xp: tf.Tensor4D = x;
    if ((o.padding ?? 'valid') === 'same') {
      const ph = samePadding(hIn, kh, sh);
      const pw = samePadding(wIn, kw, sw);
      if (ph[0] + ph[1] + pw[0] + pw[1] > 0) xp = tf.pad(x, [[0, 0], ph, pw, [0, 0]]);
    }
    const [, hp, wp] = xp.shape;
    // Only rank <= 4 transposes: WASM runs higher ranks on a slow generic path.
    // Input groups into the batch: [n c1, H, W, c2].
    const xg: tf.Tensor4D = c1 === 1 ? xp : tf.reshape(permute(tf.reshape(xp, [n, hp * wp, c1, c2]), [0, 2, 1, 3]), [n * c1, hp, wp, c2]);
    // B as one conv kernel with r f2 outputs, channel (k, f2).
    const bk = tf.reshape(permute(tf.reshape(b, [r, h2 * w2 * c2, f2]), [1, 0, 2]), [h2, w2, c2, r * f2]) as tf.Tensor4D;
    if (h1 === 1 && w1 === 1) {
      // A is a 1x1 channel mix: B's conv can take the strides, then one matMul over (k, c1).
      const z = tf.conv2d(xg, bk, [sh, sw], 'valid');
      const [, ho, wo] = z.shape;
      const p = ho * wo;
      const zp = tf.reshape(permute(tf.reshape(z, [n, c1, p, r * f2]), [0, 2, 1, 3]), [n * p, c1, r, f2]);
      const zt = tf.reshape(permute(zp, [0, 3, 2, 1]), [n * p * f2, r * c1]);
      const y = tf.reshape(tf.matMul(zt, tf.reshape(a, [r * c1, f1])), [n * p, f2, f1]);
      return tf.reshape(permute(y, [0, 2, 1]), [n, ho, wo, f1 * f2]);
    }
    const z = tf.conv2d(xg, bk, 1, 'valid');
    const [, hz, wz] = z.shape;
    const q = hz * wz;
    // [n c1, Hz, Wz, (k, f2)] -> [n f2, Hz, Wz, (k, c1)]
    const z1 = tf.reshape(permute(tf.reshape(z, [n, c1, q, r * f2]), [0, 2, 3, 1]), [n * q, r, f2, c1]);
    const z2 = tf.reshape(permute(z1, [0, 2, 1, 3]), [n, q, f2, r * c1]);
    const zg = tf.reshape(permute(z2, [0, 2, 1, 3]), [n * f2, hz, wz, r * c1]) as tf.Tensor4D;
    const ak = tf.reshape(permute(tf.reshape(a, [r, h1 * w1, c1, f1]), [1, 0, 2, 3]), [h1, w1, r * c1, f1]) as tf.Tensor4D;
    const dilation: [number, number] = [h1 > 1 ? h2 : 1, w1 > 1 ? w2 : 1];
    const strided = sh > 1 || sw > 1;
    const dilated = dilation[0] > 1 || dilation[1] > 1;
    // tf.conv2d takes strides or dilations, not both: run dense and subsample then.
    let y = tf.conv2d(zg, ak, strided && dilated ? 1 : [sh, sw], 'valid', 'NHWC', dilation);
    if (strided && dilated) y = tf.stridedSlice(y, [0, 0, 0, 0], y.shape, [1, sh, sw, 1]) as tf.Tensor4D;
    const [, ho, wo] = y.shape;
    return tf.reshape(permute(tf.reshape(y, [n, f2, ho * wo, f1]), [0, 2, 3, 1]), [n, ho, wo, f1 * f2]);
  });
}

// ---------------------------------------------------------------- activations

/**
 * The IR activation a runtime layer's `activation` names: its Keras identifier (snake_case, as
 * export writes model.json) or the IR name (camelCase, as tfjs-layers hands the config over).
 * `alpha` keeps the IR's defaults (elu 1, leakyRelu 0.3).
 */
export function runtimeActivation(id: string): ActivationFn | undefined {
  if (isActivation(id)) return id;
  // tfjs-layers camel-cases a snake_case identifier that is no IR name (hard_silu arrives as hardSilu).
  const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return ACTIVATIONS.find((fn) => kerasActivationId(fn) === id || camel(kerasActivationId(fn)) === id);
}

/** Activation identifiers the runtime layers accept (as written to model.json). */
export const RUNTIME_ACTIVATIONS = [...new Set(ACTIVATIONS.map(kerasActivationId))];

function activationFn(where: string, id: string): ActivationFn {
  const fn = runtimeActivation(id);
  if (!fn) throw new Error(`${where}: unknown activation '${id}' (known: ${RUNTIME_ACTIVATIONS.join(', ')})`);
  return fn;
}

// ---------------------------------------------------------------- layers

const checkShape = (layer: string, field: string, v: unknown, rank: number): number[] => {
  if (!Array.isArray(v) || v.length !== rank || !v.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`${layer}: ${field} must be ${rank} positive integers, got ${JSON.stringify(v)}`);
  }
  return v as number[];
};

/** Fresh factors whose Kronecker sum has Glorot-normal variance 2 / (fanIn + fanOut). */
function factorInitializer(rank: number, fanIn: number, fanOut: number) {
  return tfl.initializers.randomNormal({ mean: 0, stddev: (2 / (rank * (fanIn + fanOut))) ** 0.25 });
}

/** What both factored layers take: the factors' rank and shapes, the activation, the bias. */
interface FactorArgs extends NonNullable<LayerArgs> {
  rank: number;
  aShape: number[];
  bShape: number[];
  activation?: string;
  /** Parameter of elu / leaky_relu. */
  alpha?: number;
  useBias?: boolean;
}

export interface KroneckerDenseArgs extends FactorArgs {
  units: number;
  /** [m1, n1] */
  aShape: number[];
  /** [m2, n2] */
  bShape: number[];
}

export interface KroneckerConv2DArgs extends FactorArgs {
  filters: number;
  kernelSize: number | number[];
  /** [h1, w1, c1, f1] */
  aShape: number[];
  /** [h2, w2, c2, f2] */
  bShape: number[];
  strides?: number | number[];
  padding?: 'same' | 'valid';
}

/** A layer whose kernel is sum_k a[k] (x) b[k]: checks and holds the factors, adds bias and activation. */
abstract class KroneckerLayer extends tfl.layers.Layer {
  readonly rank: number;
  readonly aShape: number[];
  readonly bShape: number[];
  readonly activation: string;
  private readonly activationFn: ActivationFn;
  readonly alpha?: number;
  readonly useBias: boolean;
  protected a?: tfl.LayerVariable;
  protected b?: tfl.LayerVariable;
  protected bias?: tfl.LayerVariable;

  constructor(args: FactorArgs, factorRank: number) {
    super(args);
    const where = this.where();
    if (!(Number.isInteger(args.rank) && args.rank >= 1)) throw new Error(`${where}: rank must be a positive integer, got ${args.rank}`);
    this.rank = args.rank;
    this.aShape = checkShape(where, 'aShape', args.aShape, factorRank);
    this.bShape = checkShape(where, 'bShape', args.bShape, factorRank);
    this.activation = args.activation ?? 'linear';
    this.activationFn = activationFn(where, this.activation);
    this.alpha = args.alpha;
    this.useBias = args.useBias ?? true;
  }

  protected where(): string {
    return `${(this.constructor as unknown as { className: string }).className} '${this.name}'`;
  }

  /** Adds `a`, `b` ([rank, ...shape]) and the bias of `outputs` units. */
  protected addFactors(fanIn: number, fanOut: number, outputs: number): void {
    const init = factorInitializer(this.rank, fanIn, fanOut);
    this.a = this.addWeight('a', [this.rank, ...this.aShape], 'float32', init);
    this.b = this.addWeight('b', [this.rank, ...this.bShape], 'float32', init);
    if (this.useBias) this.bias = this.addWeight('bias', [outputs], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  protected factors<T extends tf.Tensor>(): [T, T] {
    return [(this.a as tfl.LayerVariable).read() as T, (this.b as tfl.LayerVariable).read() as T];
  }

  /** y + bias, then the activation. */
  protected finish(y: tf.Tensor): tf.Tensor {
    return activate(this.activationFn, this.bias ? tf.add(y, this.bias.read()) : y, this.alpha === undefined ? {} : { alpha: this.alpha });
  }

  /** The layer's own fields first, then the factors', then tfjs-layers' (name, trainable, ...). */
  protected config(own: tf.serialization.ConfigDict): tf.serialization.ConfigDict {
    const factors: tf.serialization.ConfigDict = {
      rank: this.rank,
      aShape: this.aShape,
      bShape: this.bShape,
      activation: this.activation,
      useBias: this.useBias,
    };
    if (this.alpha !== undefined) factors.alpha = this.alpha;
    return { ...own, ...factors, ...super.getConfig() };
  }
}

const firstShape = (inputShape: tfl.Shape | tfl.Shape[]) => (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;

/** A dense layer whose kernel is sum_k a[k] (x) b[k]; weights `a` [rank, m1, n1], `b` [rank, m2, n2], `bias` [units]. */
export class KroneckerDense extends KroneckerLayer {
  static readonly className = 'KroneckerDense';
  readonly units: number;

  constructor(args: KroneckerDenseArgs) {
    super(args, 2);
    this.units = args.units;
    if (this.units !== this.aShape[1] * this.bShape[1])
      throw new Error(`${this.where()}: units ${this.units} is not ${this.aShape[1]} x ${this.bShape[1]} (the factors' output dims)`);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = firstShape(inputShape);
    const m = shape[shape.length - 1] as number;
    const [m1, m2] = [this.aShape[0], this.bShape[0]];
    if (m !== m1 * m2) throw new Error(`${this.where()}: input has ${m} features, the factors need ${m1} x ${m2} = ${m1 * m2}`);
    this.addFactors(m, this.units, this.units);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return [...firstShape(inputShape).slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const m = x.shape[x.rank - 1];
      const y = this.finish(kronMatMul(tf.reshape(x, [-1, m]) as tf.Tensor2D, ...this.factors<tf.Tensor3D>()));
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.config({ units: this.units });
  }
}

/** A 2-D convolution whose HWIO kernel is sum_k a[k] (x) b[k] (GKPD); weights `a`, `b`, `bias`. */
export class KroneckerConv2D extends KroneckerLayer {
  static readonly className = 'KroneckerConv2D';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'same' | 'valid';

  constructor(args: KroneckerConv2DArgs) {
    super(args, 4);
    this.filters = args.filters;
    this.kernelSize = pair(args.kernelSize, 1);
    const [h1, w1, , f1] = this.aShape;
    const [h2, w2, , f2] = this.bShape;
    if (this.kernelSize[0] !== h1 * h2 || this.kernelSize[1] !== w1 * w2 || this.filters !== f1 * f2) {
      throw new Error(
        `${this.where()}: kernelSize [${this.kernelSize.join(', ')}] and filters ${this.filters} do not match the factors [${this.aShape.join(', ')}] (x) [${this.bShape.join(', ')}]`,
      );
    }
    this.strides = pair(args.strides, 1);
    this.padding = args.padding ?? 'valid';
    if (this.padding !== 'same' && this.padding !== 'valid')
      throw new Error(`${this.where()}: padding must be 'same' or 'valid', got '${String(this.padding)}'`);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const cin = firstShape(inputShape)[3] as number;
    if (cin !== this.aShape[2] * this.bShape[2])
      throw new Error(`${this.where()}: input has ${cin} channels, the factors need ${this.aShape[2]} x ${this.bShape[2]}`);
    const area = this.kernelSize[0] * this.kernelSize[1];
    this.addFactors(area * cin, area * this.filters, this.filters);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = firstShape(inputShape);
    const out = (size: number | null, k: number, s: number) =>
      size === null ? null : this.padding === 'same' ? Math.ceil(size / s) : Math.ceil((size - k + 1) / s);
    return [shape[0], out(shape[1], this.kernelSize[0], this.strides[0]), out(shape[2], this.kernelSize[1], this.strides[1]), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      return this.finish(kronConv2d(x, ...this.factors<tf.Tensor5D>(), { strides: this.strides, padding: this.padding }));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.config({ filters: this.filters, kernelSize: this.kernelSize, strides: this.strides, padding: this.padding });
  }
}

tf.serialization.registerClass(KroneckerDense);
tf.serialization.registerClass(KroneckerConv2D);
