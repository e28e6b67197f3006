import { definePlugin, finetuneSchema, layerMap, resolveLayerMap, selectionOptions, Type, type Registry, type StageContext } from '@condense/core';
import { cloneGraph, type Graph, type Param } from '@condense/ir';
import type { TrainingContribution } from '@condense/tfjs';
import { agpSparsity, checkSparsity, iterativeSparsity, pruneByQuality, pruneGlobal, pruneToSparsity } from './magnitude.js';
import { filterPlugins } from './filters.js';
import { prunableLayers, type PrunableLayer } from './select.js';

const MagnitudeOptions = Type.Object(
  {
    sparsity: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'fraction of weights to remove (every selected layer, or globally)' })),
    layers: Type.Optional(layerMap(Type.Number({ minimum: 0, exclusiveMaximum: 1 }), { description: 'per-layer sparsity' })),
    quality: Type.Optional(Type.Number({ minimum: 0, description: "Han's rule: threshold = quality x the layer's weight std" })),
    scope: Type.Union([Type.Literal('layer'), Type.Literal('global')], {
      default: 'layer',
      description: 'one threshold per layer, or one across all selected layers',
    }),
    ops: Type.Array(Type.String(), { default: ['dense', 'conv2d', 'depthwiseConv2d'], description: 'op types whose kernels are pruned' }),
    ...selectionOptions('kernels'),
    schedule: Type.Union([Type.Literal('oneshot'), Type.Literal('iterative'), Type.Literal('agp')], { default: 'oneshot' }),
    rounds: Type.Integer({ minimum: 1, default: 3, description: 'iterative: prune/fine-tune rounds, the sparsity rising each round' }),
    finetune: Type.Optional(finetuneSchema({ description: 'iterative: the fine-tune after each round' })),
    initialSparsity: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0, description: 'agp: s_i' }),
    startStep: Type.Integer({ minimum: 0, default: 0, description: 'agp: t0' }),
    endStep: Type.Optional(Type.Integer({ minimum: 1, description: 'agp: t0 + n dt (default: 80% of the next fine-tune)' })),
    frequency: Type.Integer({ minimum: 1, default: 100, description: 'agp: dt, steps between mask updates' }),
  },
  { additionalProperties: false },
);

type Options = (typeof MagnitudeOptions)['static'];

/** Per-layer sparsity targets at `fraction` of the way to the final target (1 = final). */
function targets(layers: PrunableLayer[], o: Options): Map<PrunableLayer, number> {
  const t = new Map<PrunableLayer, number>();
  if (o.sparsity !== undefined) for (const l of layers) t.set(l, o.sparsity);
  if (o.layers) for (const [l, s] of resolveLayerMap(layers, o.layers, 'prune.magnitude')) t.set(l, s);
  return t;
}

function checkTarget(o: Options): void {
  const given = [o.sparsity !== undefined, o.layers !== undefined, o.quality !== undefined].filter(Boolean).length;
  if (given === 0) throw new Error('prune.magnitude: give one of sparsity, layers or quality');
  if (o.quality !== undefined && given > 1) throw new Error('prune.magnitude: quality cannot be combined with sparsity or layers');
  if (o.scope === 'global' && o.sparsity === undefined) throw new Error("prune.magnitude: scope 'global' needs a single sparsity");
  if (o.quality !== undefined && o.schedule === 'agp') throw new Error("prune.magnitude: schedule 'agp' needs sparsity targets, not quality");
  if (o.sparsity !== undefined) checkSparsity(o.sparsity, 'sparsity');
}

/** Apply masks reaching `scale` (0..1] of each target's kept-fraction reduction. */
function pruneOnce(graph: Graph, o: Options, level: (final: number) => number): Record<string, number> {
  const layers = prunableLayers(graph, o);
  const reached: Record<string, number> = {};
  if (o.quality !== undefined) {
    for (const l of layers) reached[l.node.name] = pruneByQuality(l.param, o.quality);
  } else if (o.scope === 'global') {
    for (const [p, s] of pruneGlobal(
      layers.map((l) => l.param),
      level(o.sparsity as number),
    ))
      reached[layerOf(layers, p)] = s;
  } else {
    for (const [l, s] of targets(layers, o)) {
      pruneToSparsity(l.param, level(s));
      reached[l.node.name] = level(s);
    }
  }
  return reached;
}

const layerOf = (layers: PrunableLayer[], p: Param) => layers.find((l) => l.param === p)?.node.name ?? p.name;

/** Gradual pruning during fine-tuning: masks tighten every `frequency` steps along the AGP curve. */
function agpContribution(graph: Graph, o: Options): TrainingContribution {
  const layers = prunableLayers(graph, o);
  const final = targets(layers, o);
  let endStep = o.endStep;
  return {
    name: 'prune.magnitude (agp)',
    begin(ctx) {
      endStep ??= Math.max(o.startStep + 1, Math.floor(ctx.totalSteps * 0.8));
    },
    afterStep(ctx) {
      const step = ctx.step + 1;
      if (step < o.startStep || (step - o.startStep) % o.frequency !== 0 || step > (endStep as number) + o.frequency) return;
      for (const [l, s] of final) {
        const sparsity = agpSparsity(step, { initial: o.initialSparsity, final: s, startStep: o.startStep, endStep: endStep as number });
        const v = ctx.variables.get(l.param.name);
        pruneToSparsity(l.param, sparsity, v ? (v.dataSync() as Float32Array) : l.param.data);
      }
    },
    end() {
      for (const [l, s] of final) pruneToSparsity(l.param, s);
    },
  };
}

export const magnitudePrune = definePlugin({
  name: 'prune.magnitude',
  description:
    'Magnitude pruning (Han et al. 2015): per-layer, global or quality x std thresholds; one-shot, iterative with fine-tuning, or gradual (AGP, Zhu & Gupta 2017). Writes masks.',
  schema: MagnitudeOptions,
  create: (o) => {
    checkTarget(o);
    return {
      contract: {
        provides: ['mask'],
        conflicts: ['codebook', 'encoded'],
        ...(o.schedule === 'iterative' ? { requires: ['labels' as const], runtime: ['train' as const] } : {}),
      },
      trainingScope: 'next',
      async apply(graph: Graph, ctx: StageContext) {
        if (o.schedule === 'agp') {
          prunableLayers(graph, o);
          targets(prunableLayers(graph, o), o);
          return { notes: ['gradual pruning runs during the next finetune stage'] };
        }
        if (o.schedule === 'oneshot') return { details: { sparsity: pruneOnce(graph, o, (s) => s) } };
        const rounds: Record<string, number>[] = [];
        for (let r = 1; r <= o.rounds; r++) {
          rounds.push(pruneOnce(graph, o, (s) => iterativeSparsity(r, o.rounds, s)));
          ctx.log(`round ${r}/${o.rounds}: pruned, fine-tuning`);
          await ctx.finetune(graph, o.finetune ?? {});
        }
        return { details: { sparsity: rounds.at(-1), rounds } };
      },
      ...(o.schedule === 'agp' ? { training: (graph: Graph) => [agpContribution(graph, o)] } : {}),
    };
  },
});

const SensitivityOptions = Type.Object(
  {
    sparsities: Type.Array(Type.Number({ minimum: 0, exclusiveMaximum: 1 }), { default: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99] }),
    ops: Type.Array(Type.String(), { default: ['dense', 'conv2d', 'depthwiseConv2d'] }),
    ...selectionOptions('kernels'),
    budget: Type.Number({ minimum: 0, default: 0.005, description: 'accuracy drop allowed per layer when suggesting sparsities' }),
    samples: Type.Integer({ minimum: 1, default: 2000, description: 'test examples evaluated per point' }),
  },
  { additionalProperties: false },
);

/** Han et al. Fig. 6: prune each layer alone at a ladder of sparsities and record accuracy. */
export async function sensitivity(graph: Graph, ctx: StageContext, o: (typeof SensitivityOptions)['static']) {
  const split = await ctx.examples('test', graph, o.samples);
  const accuracy = async (g: Graph) => (await ctx.evaluate(g, split)).accuracy ?? NaN;
  const base = await accuracy(graph);
  const layers = prunableLayers(graph, o, 'prune.sensitivity');
  const curves = [];
  const total = layers.length * o.sparsities.length;
  let done = 0;
  for (const l of layers) {
    const points = [];
    for (const s of o.sparsities) {
      const trial = cloneGraph(graph);
      pruneToSparsity(trial.params.get(l.param.name) as Param, s);
      points.push({ sparsity: s, accuracy: await accuracy(trial) });
      ctx.emit({ type: 'progress', index: ctx.stage.index, label: 'sensitivity', done: ++done, total });
    }
    curves.push({ layer: l.node.name, points });
  }
  return { baseline: base, curves, suggested: suggest(curves, base, o.budget) };
}

/** The largest sparsity per layer whose accuracy stays within `budget` of the baseline. */
export function suggest(
  curves: { layer: string; points: { sparsity: number; accuracy: number }[] }[],
  baseline: number,
  budget: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of curves) {
    const ok = c.points.filter((p) => p.accuracy >= baseline - budget).map((p) => p.sparsity);
    out[c.layer] = ok.length ? Math.max(...ok) : 0;
  }
  return out;
}

export const pruneSensitivity = definePlugin({
  name: 'prune.sensitivity',
  description:
    'Per-layer sensitivity analysis (Han et al. 2015, Fig. 6): accuracy when each layer alone is pruned to a ladder of sparsities, and suggested per-layer sparsities for an accuracy budget. Leaves the model unchanged.',
  schema: SensitivityOptions,
  create: (o) => ({
    contract: { requires: ['labels'], runtime: ['evaluate'] },
    async apply(graph, ctx) {
      const r = await sensitivity(graph, ctx, o);
      return {
        details: { sensitivity: r.curves, baselineAccuracy: r.baseline, suggested: r.suggested },
        notes: [`suggested per-layer sparsities (budget ${o.budget}): ${JSON.stringify(r.suggested)}`],
      };
    },
  }),
});

export const plugins = [magnitudePrune, pruneSensitivity, ...filterPlugins];

/** Register this package's plugins (`prune.magnitude`, `prune.sensitivity`, `prune.l1Filter`, `prune.randomFilter`). */
export function register(registry: Registry): void {
  registry.register(...plugins);
}
