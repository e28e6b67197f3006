/**
 * The activation functions of the IR, defined once: the name the IR uses, the Keras identifiers,
 * an exact float64 reference, and the facts graph rewrites may rely on. Everything else that
 * knows activations (the reference interpreter, TF.js kernels, Keras import and export, folding
 * and channel removal) reads this table, so a new activation is one entry here plus its TF.js
 * kernel (which @condense/tfjs keys by `ActivationFn`, so forgetting it is a type error).
 *
 * This module imports nothing at run time: apps reach it as `@condense/ir/activations`.
 */
import type { Attrs } from '../types.js';

/** The attrs activations read: `alpha` (elu, leakyRelu) and `approximate` (gelu: the tanh form). */
export interface ActivationAttrs {
  alpha?: number;
  approximate?: boolean;
}

/** A fact that may depend on the attrs (leakyRelu is monotone only for alpha >= 0). */
type Fact = boolean | ((a: { alpha: number; approximate: boolean }) => boolean);

export interface ActivationDef {
  /** The Keras identifier (snake_case, as model.json writes it and Keras reads it). */
  keras: string;
  /**
   * The attrs `keras` implies when a Keras file names it (Keras 3's `leaky_relu` activation has
   * negative_slope 0.2, while the IR's leakyRelu defaults to alpha 0.3 as Keras' LeakyReLU layer).
   */
  kerasImplies?: ActivationAttrs;
  /** Other identifiers Keras files use for this function, with the attrs they imply. */
  kerasAliases?: Record<string, ActivationAttrs>;
  /**
   * The Keras major version whose files mean this function by `keras` (and the aliases), when
   * versions differ: `hard_sigmoid` is clip(0.2 x + 0.5, 0, 1) in Keras 2 and tfjs-layers files
   * and relu6(x + 3) / 6 in Keras 3 ones. Absent: every version.
   */
  kerasMajor?: 2 | 3;
  /**
   * Whether tfjs-layers loads `keras` as a layer's `activation` field for these attrs. Its set is
   * smaller than Keras': no leaky_relu, elu only with alpha 1, gelu only the exact form (it cannot
   * load gelu_new from JSON).
   */
  tfjsLayers: Fact;
  /** Default of `attrs.alpha` for functions that take one. */
  alpha?: number;
  /**
   * f(x) in float64, exactly as TF defines it; absent for softmax, which normalises over the last
   * axis instead of acting on each value.
   */
  scalar?(x: number, a: { alpha: number; approximate: boolean }): number;
  /** f(s x) = s f(x) for every s >= 0: a non-negative per-channel factor passes through it. */
  positiveHomogeneous: Fact;
  /** f(-x) = -f(x). With `positiveHomogeneous`, every per-channel factor passes through it. */
  odd: Fact;
  /** f(0) = 0. */
  zeroAtZero: Fact;
  /** x <= y implies f(x) <= f(y) (so it commutes with max pooling). */
  monotone: Fact;
}

const SELU_SCALE = 1.0507009873554805;
const SELU_ALPHA = 1.6732632423543772;

/** erf to ~1e-14: Taylor series near 0, continued fraction for erfc in the tails. */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let k = a;
  for (let n = 60; n >= 1; n--) k = a + n / 2 / k;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / k;
  return Math.sign(x) * (1 - erfc);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The tanh approximation of gelu (Keras `approximate=True`, tfjs-layers' gelu_new). */
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

const ALL = true;
const NONE = false;

/** relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1): Keras 3's hard_sigmoid, MobileNetV3's gate. */
const hardSigmoid6 = (x: number) => Math.min(Math.max(x + 3, 0), 6) / 6;

/**
 * Keras semantics throughout: softmax is over the last axis; hardSigmoid is clip(0.2x + 0.5, 0, 1)
 * (Keras 2 and TF.js), hardSigmoid6 relu6(x + 3) / 6 (Keras 3's hard_sigmoid) and hardSwish
 * x hardSigmoid6(x) (Keras 3's hard_silu); gelu is the exact erf form unless `approximate`.
 */
const DEFS = {
  relu: { keras: 'relu', tfjsLayers: ALL, scalar: (x) => Math.max(0, x), positiveHomogeneous: ALL, odd: NONE, zeroAtZero: ALL, monotone: ALL },
  relu6: { keras: 'relu6', tfjsLayers: ALL, scalar: (x) => Math.min(Math.max(0, x), 6), positiveHomogeneous: NONE, odd: NONE, zeroAtZero: ALL, monotone: ALL },
  sigmoid: { keras: 'sigmoid', tfjsLayers: ALL, scalar: sigmoid, positiveHomogeneous: NONE, odd: NONE, zeroAtZero: NONE, monotone: ALL },
  tanh: { keras: 'tanh', tfjsLayers: ALL, scalar: Math.tanh, positiveHomogeneous: NONE, odd: ALL, zeroAtZero: ALL, monotone: ALL },
  softmax: { keras: 'softmax', tfjsLayers: ALL, positiveHomogeneous: NONE, odd: NONE, zeroAtZero: NONE, monotone: NONE },
  linear: { keras: 'linear', tfjsLayers: ALL, scalar: (x) => x, positiveHomogeneous: ALL, odd: ALL, zeroAtZero: ALL, monotone: ALL },
  elu: {
    keras: 'elu',
    alpha: 1,
    tfjsLayers: (a) => a.alpha === 1,
    scalar: (x, a) => (x > 0 ? x : a.alpha * Math.expm1(x)),
    positiveHomogeneous: NONE,
    odd: NONE,
    zeroAtZero: ALL,
    monotone: (a) => a.alpha >= 0,
  },
  leakyRelu: {
    keras: 'leaky_relu',
    kerasImplies: { alpha: 0.2 },
    alpha: 0.3,
    tfjsLayers: NONE,
    scalar: (x, a) => (x > 0 ? x : a.alpha * x),
    positiveHomogeneous: ALL,
    odd: (a) => a.alpha === 1,
    zeroAtZero: ALL,
    monotone: (a) => a.alpha >= 0,
  },
  swish: {
    keras: 'swish',
    kerasAliases: { silu: {} },
    tfjsLayers: ALL,
    scalar: (x) => x * sigmoid(x),
    positiveHomogeneous: NONE,
    odd: NONE,
    zeroAtZero: ALL,
    monotone: NONE,
  },
  hardSigmoid: {
    keras: 'hard_sigmoid',
    kerasAliases: { hardSigmoid: {} },
    kerasMajor: 2,
    tfjsLayers: ALL,
    scalar: (x) => Math.min(Math.max(0.2 * x + 0.5, 0), 1),
    positiveHomogeneous: NONE,
    odd: NONE,
    zeroAtZero: NONE,
    monotone: ALL,
  },
  hardSigmoid6: {
    keras: 'hard_sigmoid',
    kerasMajor: 3,
    tfjsLayers: NONE,
    scalar: hardSigmoid6,
    positiveHomogeneous: NONE,
    odd: NONE,
    zeroAtZero: NONE,
    monotone: ALL,
  },
  hardSwish: {
    keras: 'hard_silu',
    kerasAliases: { hard_swish: {} },
    tfjsLayers: NONE,
    scalar: (x) => x * hardSigmoid6(x),
    positiveHomogeneous: NONE,
    odd: NONE,
    zeroAtZero: ALL,
    monotone: NONE,
  },
  softplus: {
    keras: 'softplus',
    tfjsLayers: ALL,
    scalar: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
    positiveHomogeneous: NONE,
    odd: NONE,
    zeroAtZero: NONE,
    monotone: ALL,
  },
  selu: {
    keras: 'selu',
    tfjsLayers: ALL,
    scalar: (x) => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)),
    positiveHomogeneous: NONE,
    odd: NONE,
    zeroAtZero: ALL,
    monotone: ALL,
  },
  gelu: {
    keras: 'gelu',
    kerasAliases: { gelu_new: { approximate: true } },
    tfjsLayers: (a) => !a.approximate,
    scalar: (x, a) => (a.approximate ? geluTanh(x) : 0.5 * x * (1 + erf(x / Math.SQRT2))),
    positiveHomogeneous: NONE,
    odd: NONE,
    zeroAtZero: ALL,
    monotone: NONE,
  },
} satisfies Record<string, ActivationDef>;

export type ActivationFn = keyof typeof DEFS;

/** The IR's activation names. */
export const ACTIVATIONS = Object.keys(DEFS) as ActivationFn[];

export function isActivation(fn: unknown): fn is ActivationFn {
  return typeof fn === 'string' && Object.hasOwn(DEFS, fn);
}

/** The definition of an activation; the error lists the known ones. */
export function activationDef(fn: string): ActivationDef {
  if (!isActivation(fn)) throw new Error(`unknown activation '${fn}' (known: ${ACTIVATIONS.join(', ')})`);
  return DEFS[fn];
}

/** `attrs.alpha`, or the function's default (elu 1, leakyRelu 0.3, as Keras' ELU and LeakyReLU layers). */
export function activationAlpha(fn: ActivationFn, attrs: Attrs | ActivationAttrs = {}): number {
  return (attrs.alpha as number | undefined) ?? activationDef(fn).alpha ?? 0;
}

const resolved = (fn: ActivationFn, attrs: Attrs | ActivationAttrs) => ({ alpha: activationAlpha(fn, attrs), approximate: Boolean(attrs.approximate) });

/** What rewrites may assume about `fn` with these attrs. `elementwise` is false for softmax (it mixes the last axis). */
export interface ActivationFacts {
  elementwise: boolean;
  positiveHomogeneous: boolean;
  odd: boolean;
  zeroAtZero: boolean;
  monotone: boolean;
  /** tfjs-layers loads the Keras identifier as a layer's `activation` field. */
  tfjsLayers: boolean;
}

export function activationFacts(fn: ActivationFn, attrs: Attrs | ActivationAttrs = {}): ActivationFacts {
  const def = activationDef(fn);
  const a = resolved(fn, attrs);
  const fact = (f: Fact) => (typeof f === 'function' ? f(a) : f);
  return {
    elementwise: def.scalar !== undefined,
    positiveHomogeneous: fact(def.positiveHomogeneous),
    odd: fact(def.odd),
    zeroAtZero: fact(def.zeroAtZero),
    monotone: fact(def.monotone),
    tfjsLayers: fact(def.tfjsLayers),
  };
}

/**
 * Which per-channel factors s pass through the activation, f(s x) = s f(x): 'any', only
 * 'nonNegative' ones, or none (undefined).
 */
export function activationScalePass(fn: ActivationFn, attrs: Attrs | ActivationAttrs = {}): 'any' | 'nonNegative' | undefined {
  const f = activationFacts(fn, attrs);
  if (!f.positiveHomogeneous) return undefined;
  return f.odd ? 'any' : 'nonNegative';
}

/** f as a function of one value (float64), or undefined for softmax, which is not elementwise. */
export function activationScalar(fn: ActivationFn, attrs: Attrs | ActivationAttrs = {}): ((x: number) => number) | undefined {
  const def = activationDef(fn);
  if (!def.scalar) return undefined;
  const a = resolved(fn, attrs);
  const f = def.scalar;
  return (x) => f(x, a);
}

/** Apply an activation in place (float64 reference); softmax normalises each run of `channels` values (the last axis). */
export function referenceActivation(fn: ActivationFn, x: Float64Array, channels: number, attrs: Attrs | ActivationAttrs = {}): Float64Array {
  const f = activationScalar(fn, attrs);
  if (f) {
    for (let i = 0; i < x.length; i++) x[i] = f(x[i]);
    return x;
  }
  for (let r = 0; r < x.length; r += channels) {
    let max = -Infinity;
    for (let i = 0; i < channels; i++) max = Math.max(max, x[r + i]);
    let sum = 0;
    for (let i = 0; i < channels; i++) sum += x[r + i] = Math.exp(x[r + i] - max);
    for (let i = 0; i < channels; i++) x[r + i] /= sum;
  }
  return x;
}

type KerasId = { fn: ActivationFn; major?: 2 | 3 } & ActivationAttrs;

/** Every Keras identifier the IR reads, with the functions and attrs it stands for (one per Keras version at most). */
function kerasIds(): Map<string, KerasId[]> {
  const ids = new Map<string, KerasId[]>();
  const add = (id: string, entry: KerasId) => ids.set(id, [...(ids.get(id) ?? []), entry]);
  for (const fn of ACTIVATIONS) {
    const def: ActivationDef = DEFS[fn];
    const major = def.kerasMajor === undefined ? {} : { major: def.kerasMajor };
    add(def.keras, { fn, ...major, ...def.kerasImplies });
    for (const [id, implies] of Object.entries(def.kerasAliases ?? {})) add(id, { fn, ...major, ...implies });
  }
  return ids;
}

const KERAS_IDS = kerasIds();

/** The Keras major version of a file's `keras_version` ('3.3.3' -> 3); tfjs-layers files ('tfjs-layers 4.22.0') and unknown ones count as 2. */
export function kerasMajor(kerasVersion: string | undefined): 2 | 3 {
  return kerasVersion !== undefined && /^3\./.test(kerasVersion) ? 3 : 2;
}

/**
 * The IR function and attrs a Keras activation identifier stands for in a file of `kerasVersion`
 * (its `keras_version`), or undefined if the IR has none.
 */
export function fromKerasActivation(id: string, kerasVersion?: string): ({ fn: ActivationFn } & ActivationAttrs) | undefined {
  const major = kerasMajor(kerasVersion);
  const hit = KERAS_IDS.get(id)?.find((e) => e.major === undefined || e.major === major);
  if (!hit) return undefined;
  const { major: _, ...out } = hit;
  return out;
}

/** The Keras identifiers `fromKerasActivation` knows, in table order. */
export const KERAS_ACTIVATION_IDS: readonly string[] = [...KERAS_IDS.keys()];

/** The Keras identifier of an IR activation. */
export function kerasActivationId(fn: ActivationFn): string {
  return DEFS[fn].keras;
}
