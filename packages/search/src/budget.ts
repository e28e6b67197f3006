/**
 * Automatic per-layer budgets: measure each unit's sensitivity curve with one-shot trials (one
 * layer or group changed at a time), allocate the choices that reach the target with the least
 * predicted loss (a multiple-choice knapsack over the curves), correct the combination with real
 * measurements (NetAdapt-style steps along each unit's curve and trades of budget between two
 * units, candidates measured in parallel),
 * then verify the chosen recipe (fine-tuned when asked) on the validation data.
 */
import type { FinetuneOptions, LatencyRequest, Recipe, Split } from '@condense/core';
import type { Graph } from '@condense/ir';
import { allocate, maxSaving, type Choice, type Unit } from './allocate.js';
import { recipeTrial, storeAssets, type EncodingProbe, type RecipeTrialOutput, type TrialAssets } from './recipe-trial.js';
import {
  configRecipe,
  configStages,
  DEFAULT_LEVELS,
  defaultMethods,
  emptyConfig,
  FLOAT_BITS,
  groupUnits,
  kernelUnits,
  type Config,
  type Levels,
  type Method,
  type SpaceSelection,
} from './space.js';
import { parseTarget, targetLimit, type Target, type TargetMetric } from './target.js';
import { trialOutputs, type Trial, type TrialEvent, type TrialRunner } from './trial.js';

export interface BudgetOptions extends SpaceSelection {
  /** e.g. `size=40x`, or a parsed target. */
  target: Target | string;
  /** Accuracy the result may lose, as a fraction (0.01 = one point); default 0.01. */
  maxDrop?: number;
  /** What to vary; default by target: prune + bits for size, prune for params, channels for MACs and latency. */
  methods?: Method[];
  levels?: Partial<Levels>;
  /** Validation examples each sensitivity and correction trial evaluates; default 2000. */
  samples?: number;
  /** Greedy correction steps with real measurements; default 3. */
  steps?: number;
  /** How latency targets time a model; default 10 passes over a batch of 32 after 3 warm-up passes. */
  latency?: LatencyRequest;
  /** Fine-tune the chosen recipe in the verification trial (needs `train`); default: verify one-shot. */
  finetune?: Partial<FinetuneOptions>;
  seed?: number;
}

export interface BudgetInput {
  graph: Graph;
  /** Held out of the training data: every trial measures on it. */
  validation: Split;
  /** For the verification's fine-tune. */
  train?: Split;
  runner: TrialRunner;
  signal?: AbortSignal;
  onEvent?: (event: SearchEvent) => void;
}

export type SearchPhase = 'sensitivity' | 'correction' | 'verification';
export type SearchEvent = { type: 'phase'; phase: SearchPhase; trials: number } | TrialEvent;

export interface CurvePoint {
  level: number;
  accuracy: number;
  loss: number;
  /** The target metric of the model with only this unit changed. */
  value: number;
}

export interface Curve {
  method: Method;
  /** The layer (prune, bits) or channel group (channels). */
  unit: string;
  points: CurvePoint[];
}

export interface Measured {
  value: number;
  accuracy: number;
  loss: number;
}

export interface BudgetResult {
  /**
   * `before`: the input model, as the toolkit reports it (for bytes: its file's stored bytes), what
   * `Nx` is relative to. `unchanged`: the same model measured as every trial measures (for bytes:
   * the cost model's count, which stores zeros sparsely, so it may be below `before`); predictions
   * and measurements are in this count.
   */
  target: { text: string; metric: TargetMetric; before: number; unchanged: number; limit: number };
  maxDrop: number;
  methods: Method[];
  baseline: { accuracy: number; loss: number };
  curves: Curve[];
  /** What each unit got. */
  config: Config;
  /** The stages of `config`: a normal recipe. */
  recipe: Recipe;
  /** What the curves predicted for the first allocation. */
  predicted: { value: number; lossIncrease: number };
  /** The chosen recipe, one-shot, after the correction. */
  measured: Measured;
  /** Whether `measured` is within the target (the correction ran out of steps when not). */
  meetsTarget: boolean;
  corrections: { step: number; move: string; value: number; loss: number }[];
  /** The chosen recipe fine-tuned (when `finetune` was given). */
  verified?: Measured & { epochs: number };
  /** Baseline accuracy minus the verified (else the one-shot) accuracy. */
  drop: number;
  /** Whether the verified recipe meets the target within `maxDrop` (only known with `finetune`: one-shot drops are no verdict on a recipe that fine-tunes after). */
  withinMaxDrop?: boolean;
  /** For latency targets: how and where (backend and CPU of each worker) the models were timed. */
  latency?: LatencyRequest & { timedOn: string[] };
  trials: number;
  ms: number;
}

const metricValue = (metric: TargetMetric, o: RecipeTrialOutput): number => (metric === 'latency' ? (o.latencyMs as number) : o[metric]);

/** What a unit's choice sets. */
interface Setting {
  unit: string;
  prune?: number;
  bits?: number;
  channels?: number;
}

const describeSetting = (s: Setting) =>
  [s.prune ? `sparsity ${s.prune}` : '', s.bits && s.bits < FLOAT_BITS ? `${s.bits} bits` : '', s.channels ? `${s.channels} of channels` : '']
    .filter(Boolean)
    .join(', ') || 'unchanged';

function toConfig(picks: readonly Choice<Setting>[]): Config {
  const c = emptyConfig();
  for (const { value: s } of picks) {
    if (s.prune) c.prune[s.unit] = s.prune;
    if (s.bits && s.bits < FLOAT_BITS) c.bits[s.unit] = s.bits;
    if (s.channels) c.channels[s.unit] = s.channels;
  }
  return c;
}

/** Loss increases over the baseline along a curve, never below 0 and never falling as the level rises (one-shot noise). */
function damages(points: readonly CurvePoint[], baseLoss: number): number[] {
  let worst = 0;
  return points.map((p) => (worst = Math.max(worst, p.loss - baseLoss, 0)));
}

/** A unit's Pareto-best choices (no other saves as much for less damage), by saving: the steps the correction moves along. */
export function ladder<T>(choices: readonly Choice<T>[]): Choice<T>[] {
  const out: Choice<T>[] = [];
  let least = Infinity;
  for (const c of [...choices].sort((a, b) => b.saving - a.saving || a.damage - b.damage)) {
    if (c.damage < least) {
      out.push(c);
      least = c.damage;
    }
  }
  return out.reverse();
}

export async function searchBudget(input: BudgetInput, options: BudgetOptions): Promise<BudgetResult> {
  const started = performance.now();
  const target = typeof options.target === 'string' ? parseTarget(options.target, 'target') : options.target;
  const metric = target.metric;
  const methods = options.methods ?? defaultMethods(metric);
  const levels: Levels = { ...DEFAULT_LEVELS, ...options.levels };
  const maxDrop = options.maxDrop ?? 0.01;
  const samples = options.samples ?? 2000;
  const seed = options.seed ?? 1;
  const { runner, signal } = input;
  const emit = (e: SearchEvent) => input.onEvent?.(e);
  let trialCount = 0;

  const assets: TrialAssets = await storeAssets(runner.blobs, input.graph, {
    validation: input.validation,
    ...(options.finetune && input.train ? { train: input.train } : {}),
  });
  const batch = async (phase: SearchPhase, trials: Trial[]): Promise<RecipeTrialOutput[]> => {
    emit({ type: 'phase', phase, trials: trials.length });
    trialCount += trials.length;
    return note(trialOutputs(await runner.run<RecipeTrialOutput>(trials, { signal, onEvent: emit })));
  };
  const latency = metric === 'latency' ? (options.latency ?? { batch: 32, runs: 10, warmup: 3 }) : undefined;
  const oneShot = (id: string, recipe: Recipe, probe?: EncodingProbe) =>
    recipeTrial(id, assets, recipe, { seed, samples, ...(probe ? { probe } : {}), ...(latency ? { latency } : {}) });
  const timedOn = new Set<string>();
  const note = (outs: RecipeTrialOutput[]) => {
    for (const o of outs) if (o.timedOn) timedOn.add(o.timedOn);
    return outs;
  };

  // Units and their sensitivity trials.
  const kernels = methods.includes('prune') || methods.includes('bits') ? kernelUnits(input.graph, options) : [];
  const groups = methods.includes('channels') ? groupUnits(input.graph, options) : [];
  if (kernels.length + groups.length === 0) throw new Error(`search.budget: no layer to search (methods ${methods.join(', ')}; check ops/include/exclude)`);
  const probeBits = [FLOAT_BITS, ...(methods.includes('bits') ? levels.bits : [])];
  const kernelProbe = (params: string[]) => (metric === 'bytes' ? { params, bits: probeBits } : undefined);
  type Point = { method: Method; unit: number; level: number; trial: Trial };
  const points: Point[] = [];
  kernels.forEach((k, u) => {
    if (methods.includes('prune'))
      for (const [i, s] of levels.prune.entries())
        points.push({
          method: 'prune',
          unit: u,
          level: s,
          trial: oneShot(`p-${u}-${i}`, configRecipe({ ...emptyConfig(), prune: { [k.layer]: s } }), kernelProbe([k.param])),
        });
    if (methods.includes('bits'))
      for (const [i, b] of levels.bits.entries())
        points.push({ method: 'bits', unit: u, level: b, trial: oneShot(`b-${u}-${i}`, configRecipe({ ...emptyConfig(), bits: { [k.layer]: b } })) });
  });
  groups.forEach((g, u) => {
    for (const [i, r] of levels.channels.entries())
      points.push({ method: 'channels', unit: u, level: r, trial: oneShot(`c-${u}-${i}`, configRecipe({ ...emptyConfig(), channels: { [g.producer]: r } })) });
  });
  const baseTrial = oneShot('base', { stages: [] }, kernelProbe(kernels.map((k) => k.param)));
  // A timed model is timed again last: the first trial on a fresh worker also pays the backend's warm-up.
  const again = latency ? [{ ...baseTrial, id: 'base-again' }] : [];
  const [base, ...rest] = await batch('sensitivity', [baseTrial, ...points.map((p) => p.trial), ...again]);
  const measured = rest.slice(0, points.length);
  const unchanged = Math.min(metricValue(metric, base), ...rest.slice(points.length).map((o) => metricValue(metric, o)));
  const before = metric === 'bytes' ? base.inputBytes : unchanged;
  const limit = targetLimit(target, before);

  const curveOf = (method: Method, unit: number): CurvePoint[] =>
    points.flatMap((p, i) =>
      p.method === method && p.unit === unit
        ? [{ level: p.level, accuracy: measured[i].accuracy, loss: measured[i].loss, value: metricValue(metric, measured[i]) }]
        : [],
    );
  const outputOf = (method: Method, unit: number, level: number) =>
    measured[points.findIndex((p) => p.method === method && p.unit === unit && p.level === level)];
  const curves: Curve[] = [
    ...kernels.flatMap((k, u) =>
      (['prune', 'bits'] as const).filter((m) => methods.includes(m)).map((m) => ({ method: m, unit: k.layer, points: curveOf(m, u) })),
    ),
    ...groups.map((g, u) => ({ method: 'channels' as const, unit: g.group, points: curveOf('channels', u) })),
  ];

  // Choices per unit: saving of the target metric from the unchanged model, and predicted damage.
  const units: Unit<Setting>[] = [
    ...kernels.map((k, u): Unit<Setting> => {
      const sparsities = [0, ...(methods.includes('prune') ? levels.prune : [])];
      const bits = methods.includes('bits') ? probeBits : [FLOAT_BITS];
      const pruneDamage = [0, ...(methods.includes('prune') ? damages(curveOf('prune', u), base.loss) : [])];
      const bitsDamage = [0, ...(methods.includes('bits') ? damages(curveOf('bits', u), base.loss) : [])];
      const choices = sparsities.flatMap((s, si) =>
        bits.map((b, bi): Choice<Setting> => {
          const out = s === 0 ? base : outputOf('prune', u, s);
          // Bytes come from the probe (exact for every width); other metrics from the pruning trial (widths do not change them).
          const value = metric === 'bytes' ? unchanged - ((base.probe?.[k.param][FLOAT_BITS] ?? 0) - (out.probe?.[k.param][b] ?? 0)) : metricValue(metric, out);
          return { value: { unit: k.layer, prune: s, bits: b }, saving: unchanged - value, damage: pruneDamage[si] + bitsDamage[bi] };
        }),
      );
      return { id: k.layer, choices };
    }),
    ...groups.map((g, u): Unit<Setting> => {
      const curve = curveOf('channels', u);
      const damage = damages(curve, base.loss);
      return {
        id: g.group,
        choices: [
          { value: { unit: g.producer }, saving: 0, damage: 0 },
          ...curve.map((p, i) => ({ value: { unit: g.producer, channels: p.level }, saving: unchanged - p.value, damage: damage[i] })),
        ],
      };
    }),
  ];
  const first = allocate(units, unchanged - limit);
  if (!first) {
    const best = unchanged - maxSaving(units);
    throw new Error(
      `search.budget: ${target.text} needs ${fmt(metric, limit)}, and ${methods.join(' + ')} over ${units.length} units reach at most ${fmt(metric, best)} (${(before / Math.max(best, 1e-9)).toFixed(1)}x) by the curves; add methods or levels`,
    );
  }

  // Greedy correction: measure the combination, then step single units along their ladders.
  let picks = first.picks;
  const ladders = units.map((u) => ladder(u.choices));
  const measure = (o: RecipeTrialOutput): Measured => ({ value: metricValue(metric, o), accuracy: o.accuracy, loss: o.loss });
  let current = measure((await batch('correction', [oneShot('combined-0', configRecipe(toConfig(picks)))]))[0]);
  const corrections: BudgetResult['corrections'] = [];
  for (let step = 1; step <= (options.steps ?? 3); step++) {
    const tighten = current.value > limit;
    const moves = correctionMoves(picks, ladders, current.value, limit);
    if (!moves.length) break;
    const outs = await batch(
      'correction',
      moves.map((m, i) => oneShot(`combined-${step}-${i}`, configRecipe(toConfig(m.picks)))),
    );
    const best = chooseStep(
      moves.map((m, i) => ({ ...m, got: measure(outs[i]) })),
      current,
      limit,
      tighten,
    );
    if (!best) break;
    picks = best.picks;
    current = best.got;
    corrections.push({
      step,
      move: best.changes.map((c) => `${units[c.u].id}: ${describeSetting(c.next.value)}`).join('; '),
      value: current.value,
      loss: current.loss,
    });
  }

  const config = toConfig(picks);
  let verified: BudgetResult['verified'];
  if (options.finetune) {
    if (!input.train) throw new Error('search.budget: finetune needs training data');
    const stages = [...configStages(config), { plugin: 'finetune', options: { ...options.finetune } }];
    const [out] = await batch('verification', [recipeTrial('verify', assets, { stages }, { seed, ...(latency ? { latency } : {}) })]);
    verified = { ...measure(out), epochs: out.epochs };
  }
  const final = verified ?? current;
  const drop = base.accuracy - final.accuracy;
  return {
    target: { text: target.text, metric, before, unchanged, limit },
    maxDrop,
    methods,
    baseline: { accuracy: base.accuracy, loss: base.loss },
    curves,
    config,
    recipe: configRecipe(config),
    predicted: { value: unchanged - first.saving, lossIncrease: first.damage },
    measured: current,
    meetsTarget: current.value <= limit,
    corrections,
    ...(verified ? { verified } : {}),
    drop,
    ...(verified ? { withinMaxDrop: drop <= maxDrop && final.value <= limit } : {}),
    ...(latency ? { latency: { ...latency, timedOn: [...timedOn] } } : {}),
    trials: trialCount,
    ms: performance.now() - started,
  };
}

/** A candidate correction: units moved along their ladders (`changes`), giving `picks`. */
export interface Move<T> {
  changes: { u: number; next: Choice<T> }[];
  picks: Choice<T>[];
}

/** A correction step, measured. */
interface Step<T> extends Move<T> {
  got: Measured;
}

/**
 * The candidate steps from `picks`, whose combination measured `value` against the target
 * `limit`. Above it: each unit one step further along its ladder (NetAdapt). Within it: each unit
 * one step back where the curves say the target still holds, and, since a tight allocation has
 * no such step, trades: one unit a step back and another as far further as the curves say wins
 * that back (the partner whose step costs the least predicted damage). Trades let the
 * measurements move budget between layers whose damages do not add up (two layers at 2 bits hurt
 * far more together than their curves say apart).
 */
export function correctionMoves<T>(picks: readonly Choice<T>[], ladders: readonly Choice<T>[][], value: number, limit: number): Move<T>[] {
  const further = (u: number) => ladders[u].find((c) => c.saving > picks[u].saving);
  const back = (u: number) => [...ladders[u]].reverse().find((c) => c.saving < picks[u].saving);
  const moved = (changes: Move<T>['changes']): Move<T> => ({
    changes,
    picks: picks.map((p, i) => changes.find((c) => c.u === i)?.next ?? p),
  });
  const units = picks.map((_, u) => u);
  if (value > limit) return units.flatMap((u) => (further(u) ? [moved([{ u, next: further(u) as Choice<T> }])] : []));
  const moves: Move<T>[] = [];
  for (const u of units) {
    const relaxed = back(u);
    if (!relaxed) continue;
    const lost = picks[u].saving - relaxed.saving;
    if (value + lost <= limit) {
      moves.push(moved([{ u, next: relaxed }]));
      continue;
    }
    // The partner whose shortest step that wins back what relaxing u loses costs the least predicted damage.
    let partner: { u: number; next: Choice<T>; cost: number } | undefined;
    for (const v of units) {
      const next = v === u ? undefined : ladders[v].find((c) => c.saving > picks[v].saving && value + lost - (c.saving - picks[v].saving) <= limit);
      if (!next) continue;
      const cost = next.damage - picks[v].damage;
      if (!partner || cost < partner.cost) partner = { u: v, next, cost };
    }
    if (partner)
      moves.push(
        moved([
          { u, next: relaxed },
          { u: partner.u, next: partner.next },
        ]),
      );
  }
  return moves;
}

/**
 * Which measured step to take. Tightening (NetAdapt): the least loss among the steps that reach
 * the target, else the most reduction per loss increase. Relaxing: the least loss among the steps
 * that stay within the target and lower the loss. None: stop.
 */
function chooseStep<T>(steps: Step<T>[], current: Measured, limit: number, tighten: boolean): Step<T> | undefined {
  const meeting = steps.filter((s) => s.got.value <= limit);
  const leastLoss = (xs: Step<T>[]) => xs.reduce<Step<T> | undefined>((a, s) => (!a || s.got.loss < a.got.loss ? s : a), undefined);
  if (!tighten) return leastLoss(meeting.filter((s) => s.got.loss < current.loss));
  if (meeting.length) return leastLoss(meeting);
  const gain = (s: Step<T>) => (current.value - s.got.value) / Math.max(s.got.loss - current.loss, 1e-6);
  return steps.reduce((a, s) => (gain(s) > gain(a) ? s : a));
}

export function fmt(metric: TargetMetric, v: number): string {
  if (metric === 'bytes') return v >= 1e6 ? `${(v / 1e6).toFixed(2)} MB` : `${(v / 1e3).toFixed(1)} kB`;
  if (metric === 'latency') return `${v.toFixed(2)} ms`;
  const unit = metric === 'macs' ? ' MACs' : ' params';
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M${unit}` : `${(v / 1e3).toFixed(1)}k${unit}`;
}
