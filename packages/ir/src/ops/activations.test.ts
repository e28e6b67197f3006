import { describe, expect, it } from 'vitest';
import {
  ACTIVATIONS,
  KERAS_ACTIVATION_IDS,
  activationDef,
  activationFacts,
  activationScalar,
  activationScalePass,
  fromKerasActivation,
  isActivation,
  kerasActivationId,
  referenceActivation,
  type ActivationAttrs,
  type ActivationFn,
} from './activations.js';

/** A fine grid over [-6, 6] plus the points where functions bend (0, relu6's 6, hard sigmoid's +-2.5). */
const GRID = [...Array.from({ length: 1201 }, (_, i) => -6 + i / 100), 2.5, -2.5, 1e-3, -1e-3];
const FACTORS = [0, 0.3, 1, 2, 7.5];

/** Every function with attrs that change a fact (alpha, gelu's tanh form). */
const VARIANTS: [ActivationFn, ActivationAttrs][] = [
  ...ACTIVATIONS.map((fn): [ActivationFn, ActivationAttrs] => [fn, {}]),
  ['elu', { alpha: 2 }],
  ['elu', { alpha: -0.5 }],
  ['leakyRelu', { alpha: 1 }],
  ['leakyRelu', { alpha: -0.2 }],
  ['gelu', { approximate: true }],
];

const near = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * (1 + Math.abs(a) + Math.abs(b));

describe('activation facts hold exactly as stated (checked both ways on a grid)', () => {
  for (const [fn, attrs] of VARIANTS) {
    const f = activationScalar(fn, attrs);
    const facts = activationFacts(fn, attrs);
    it(`${fn} ${JSON.stringify(attrs)}`, () => {
      expect(facts.elementwise).toBe(fn !== 'softmax');
      if (!f) return;
      const homogeneous = GRID.every((x) => FACTORS.every((s) => near(f(s * x), s * f(x))));
      const odd = GRID.every((x) => near(f(-x), -f(x)));
      const monotone = [...GRID].sort((a, b) => a - b).every((x, i, xs) => i === 0 || f(x) >= f(xs[i - 1]));
      expect({ homogeneous, odd, zero: f(0) === 0, monotone }).toEqual({
        homogeneous: facts.positiveHomogeneous,
        odd: facts.odd,
        zero: facts.zeroAtZero,
        monotone: facts.monotone,
      });
    });
  }

  it('a factor passes where the facts say: any for linear, non-negative for relu and leakyRelu', () => {
    expect(ACTIVATIONS.filter((fn) => activationScalePass(fn) === 'any')).toEqual(['linear']);
    expect(ACTIVATIONS.filter((fn) => activationScalePass(fn) === 'nonNegative')).toEqual(['relu', 'leakyRelu']);
  });
});

describe('reference values', () => {
  it('gelu: exact erf form, or the tanh form when approximate', () => {
    const exact = activationScalar('gelu') as (x: number) => number;
    const tanh = activationScalar('gelu', { approximate: true }) as (x: number) => number;
    expect(exact(1)).toBeCloseTo(0.8413447460685429, 14);
    expect(tanh(1)).toBeCloseTo(0.8411919906082768, 14);
  });

  it('softmax normalises each row of the last axis', () => {
    const y = referenceActivation('softmax', Float64Array.of(1, 2, 3, 0, 0, 0), 3);
    expect([...y].map((v) => +v.toFixed(8))).toEqual([0.09003057, 0.24472847, 0.66524096, 1 / 3, 1 / 3, 1 / 3].map((v) => +v.toFixed(8)));
  });

  it('alpha defaults are Keras layer defaults: elu 1, leakyRelu 0.3', () => {
    expect(activationScalar('elu')?.(-1)).toBeCloseTo(Math.expm1(-1), 15);
    expect(activationScalar('leakyRelu')?.(-1)).toBeCloseTo(-0.3, 15);
    expect(activationScalar('leakyRelu', { alpha: 0.1 })?.(-1)).toBeCloseTo(-0.1, 15);
  });
});

describe('Keras identifiers', () => {
  it('every function has one, and it reads back as that function in files of its Keras version', () => {
    for (const fn of ACTIVATIONS) {
      const version = activationDef(fn).kerasMajor === 3 ? '3.3.3' : 'tfjs-layers 4.22.0';
      expect(fromKerasActivation(kerasActivationId(fn), version)?.fn).toBe(fn);
    }
  });

  it("hard_sigmoid is Keras 2's 0.2 x + 0.5 in Keras 2 and tfjs-layers files and relu6(x + 3) / 6 in Keras 3 ones", () => {
    expect(fromKerasActivation('hard_sigmoid', '2.15.0')).toEqual({ fn: 'hardSigmoid' });
    expect(fromKerasActivation('hard_sigmoid')).toEqual({ fn: 'hardSigmoid' });
    expect(fromKerasActivation('hard_sigmoid', '3.15.1')).toEqual({ fn: 'hardSigmoid6' });
    expect(activationScalar('hardSigmoid')?.(1)).toBeCloseTo(0.7, 15);
    expect(activationScalar('hardSigmoid6')?.(1)).toBeCloseTo(4 / 6, 15);
    expect([-4, -1, 0, 2, 5].map((x) => (activationScalar('hardSwish')?.(x) ?? NaN) + 0)).toEqual([0, -1 * (2 / 6), 0, 2 * (5 / 6), 5]);
    expect(fromKerasActivation('hard_silu', '3.0.0')).toEqual({ fn: 'hardSwish' });
    expect(fromKerasActivation('hard_swish', '3.0.0')).toEqual({ fn: 'hardSwish' });
  });

  it('aliases carry the attrs they imply', () => {
    expect(fromKerasActivation('silu')).toEqual({ fn: 'swish' });
    expect(fromKerasActivation('gelu_new')).toEqual({ fn: 'gelu', approximate: true });
    expect(fromKerasActivation('leaky_relu')).toEqual({ fn: 'leakyRelu', alpha: 0.2 });
    expect(fromKerasActivation('hardSigmoid')).toEqual({ fn: 'hardSigmoid' });
    expect(fromKerasActivation('mish')).toBeUndefined();
    expect(KERAS_ACTIVATION_IDS).toContain('hard_sigmoid');
  });

  it('tfjs-layers loads all but leaky_relu, the Keras 3 hard sigmoid and hard swish, elu with alpha != 1 and the tanh gelu', () => {
    const loads = (fn: ActivationFn, attrs: ActivationAttrs = {}) => activationFacts(fn, attrs).tfjsLayers;
    expect(ACTIVATIONS.filter((fn) => !loads(fn))).toEqual(['leakyRelu', 'hardSigmoid6', 'hardSwish']);
    expect([loads('elu', { alpha: 2 }), loads('gelu', { approximate: true })]).toEqual([false, false]);
  });

  it('unknown names are reported with the known ones', () => {
    expect(isActivation('constructor')).toBe(false);
    expect(() => activationDef('mish')).toThrow(/unknown activation 'mish' \(known: relu, relu6/);
  });
});
