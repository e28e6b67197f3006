/** The Keras layers of `kronDense` and `kronConv2d` (KroneckerDense, KroneckerConv2D of the runtime), for export and import. */
import { activationDef, kerasActivationId, strides2, type ActivationFn, type Attrs, type Node, type Param } from '@condense/ir';
import { registerLayerMapping, type FromKerasContext, type KerasLayer, type ToKerasContext } from '@condense/tfjs';
import { padding } from './ir.js';
import { runtimeActivation } from '../runtime.js';

/** IR activation -> the identifier the runtime layers read from model.json (its Keras name). */
function kerasActivation(node: Node, ctx: ToKerasContext): { activation: string; alpha?: number } {
  const fn = (node.attrs.activation as ActivationFn | undefined) ?? 'linear';
  const alpha = node.attrs.alpha as number | undefined;
  if (fn === 'gelu' && node.attrs.approximate) return ctx.fail('the runtime layers have only the exact (erf) gelu, not the tanh approximation');
  // Keras 3's hard_sigmoid shares its identifier with Keras 2's: the runtime reads the IR name of that one.
  const id = activationDef(fn).kerasMajor === 3 ? fn : kerasActivationId(fn);
  return alpha !== undefined && activationDef(fn).alpha !== undefined ? { activation: id, alpha } : { activation: id };
}

/** model.json activation -> IR attrs, as the runtime layers read it. */
function irActivation(config: Record<string, unknown>, ctx: FromKerasContext): Attrs {
  const raw = config.activation ?? 'linear';
  if (typeof raw !== 'string') return ctx.fail(`activation ${JSON.stringify(raw)} is not a built-in activation name`);
  const fn = runtimeActivation(raw);
  if (!fn) return ctx.fail(`activation '${raw}' is not supported`);
  const attrs: Attrs = fn === 'linear' ? {} : { activation: fn };
  if (typeof config.alpha === 'number') attrs.alpha = config.alpha;
  return attrs;
}

function need(ctx: ToKerasContext, role: string): Param {
  return ctx.param(role) ?? ctx.fail(`has no '${role}' param`);
}

function weightsOf(ctx: ToKerasContext): Record<string, Param> {
  const bias = ctx.param('bias');
  return { a: need(ctx, 'a'), b: need(ctx, 'b'), ...(bias ? { bias } : {}) };
}

function factorShape(l: KerasLayer, ctx: FromKerasContext, field: string, rank: number): number[] {
  const v = l.config[field];
  if (!Array.isArray(v) || v.length !== rank || !v.every((d) => Number.isInteger(d) && (d as number) >= 1)) {
    return ctx.fail(`${field} must be ${rank} positive integers, got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

function checkWeight(p: Param, want: number[], ctx: FromKerasContext): void {
  if (p.shape.length !== want.length || p.shape.some((d, i) => d !== want[i])) {
    ctx.fail(`weight '${p.name}' has shape [${p.shape.join(', ')}], the config implies [${want.join(', ')}]`);
  }
}

function fromKerasFactors(l: KerasLayer, ctx: FromKerasContext, rank: number): { a: Param; b: Param; bias?: Param; r: number } {
  const r = l.config.rank;
  if (!(typeof r === 'number' && Number.isInteger(r) && r >= 1)) return ctx.fail(`rank must be a positive integer, got ${JSON.stringify(r)}`);
  const a = ctx.weight('a');
  const b = ctx.weight('b');
  checkWeight(a, [r, ...factorShape(l, ctx, 'a_shape', rank)], ctx);
  checkWeight(b, [r, ...factorShape(l, ctx, 'b_shape', rank)], ctx);
  const bias = l.config.use_bias === false ? undefined : ctx.weight('bias');
  return { a, b, ...(bias ? { bias } : {}), r };
}

registerLayerMapping('kronDense', {
  kerasClass: 'KroneckerDense',
  fromKeras(l, ctx) {
    const { a, b, bias } = fromKerasFactors(l, ctx, 2);
    ctx.addNode({ name: l.name, op: 'kronDense', inputs: ctx.inputs, attrs: irActivation(l.config, ctx), params: { a, b, ...(bias ? { bias } : {}) } });
  },
  toKeras(node, ctx) {
    const weights = weightsOf(ctx);
    const [r, m1, n1] = weights.a.shape;
    const [, m2, n2] = weights.b.shape;
    return {
      className: 'KroneckerDense',
      name: ctx.name,
      inputs: ctx.inputs,
      config: { units: n1 * n2, rank: r, a_shape: [m1, n1], b_shape: [m2, n2], ...kerasActivation(node, ctx), use_bias: !!weights.bias },
      weights,
    };
  },
});

registerLayerMapping('kronConv2d', {
  kerasClass: 'KroneckerConv2D',
  fromKeras(l, ctx) {
    const { a, b, bias } = fromKerasFactors(l, ctx, 4);
    const strides = l.config.strides ?? [1, 1];
    const attrs: Attrs = { padding: l.config.padding === 'same' ? 'same' : 'valid', ...irActivation(l.config, ctx) };
    const s = Array.isArray(strides) ? strides : [strides, strides];
    if (s.some((d) => d !== 1)) attrs.strides = s;
    if (l.config.padding !== undefined && l.config.padding !== 'same' && l.config.padding !== 'valid')
      ctx.fail(`padding ${JSON.stringify(l.config.padding)} is not supported`);
    ctx.addNode({ name: l.name, op: 'kronConv2d', inputs: ctx.inputs, attrs, params: { a, b, ...(bias ? { bias } : {}) } });
  },
  toKeras(node, ctx) {
    const weights = weightsOf(ctx);
    const [r, ...a] = weights.a.shape;
    const [, ...b] = weights.b.shape;
    return {
      className: 'KroneckerConv2D',
      name: ctx.name,
      inputs: ctx.inputs,
      config: {
        filters: a[3] * b[3],
        kernel_size: [a[0] * b[0], a[1] * b[1]],
        rank: r,
        a_shape: a,
        b_shape: b,
        strides: strides2(node.attrs),
        padding: padding(node.attrs),
        ...kerasActivation(node, ctx),
        use_bias: !!weights.bias,
      },
      weights,
    };
  },
});
