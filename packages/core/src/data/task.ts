/**
 * The task: what the loss and the metrics are, per model output. Plain names so that a recipe can
 * state them; user functions are passed through to the runtime, which defines their signature
 * (for `@condense/tfjs`: tensors in, per-example values out). Defaults come from the model when it
 * says (a Keras `training_config`), else from its output activations.
 */
export type LossName =
  | 'sparseCategoricalCrossentropy'
  | 'categoricalCrossentropy'
  | 'binaryCrossentropy'
  | 'meanSquaredError'
  | 'meanAbsoluteError'
  | 'huber'
  | 'cosineSimilarity';

export interface LossConfig {
  type: LossName;
  /** Cross-entropies: the output is logits rather than probabilities (default: what the output activation says). */
  fromLogits?: boolean;
  /** Huber: where the loss turns from quadratic to linear; default 1. */
  delta?: number;
}

/** A loss the runtime computes with `fn`; `name` labels it in reports. */
export interface UserLoss {
  name: string;
  fn: (...args: never[]) => unknown;
}

export type LossSpec = LossName | LossConfig | UserLoss;

export type MetricName = 'accuracy' | 'topK' | 'meanSquaredError' | 'meanAbsoluteError';

export interface MetricConfig {
  type: MetricName;
  /** topK: k; default 5. */
  k?: number;
}

export interface UserMetric {
  name: string;
  fn: (...args: never[]) => unknown;
}

export type MetricSpec = MetricName | MetricConfig | UserMetric;

/** Per output: one spec for every output, a list in output order, or a record by output name. */
export type PerOutput<T> = T | T[] | Record<string, T>;

export interface TaskSpec {
  loss?: PerOutput<LossSpec>;
  /** Factor on each output's loss in the total; default 1 each. */
  lossWeights?: number[] | Record<string, number>;
  /** Metrics per output; a plain list applies to every output. */
  metrics?: MetricSpec[] | Record<string, MetricSpec[]>;
}

/** The error measures, losses and metrics alike. */
const ERROR_ALIASES = {
  mse: 'meanSquaredError',
  mean_squared_error: 'meanSquaredError',
  meansquarederror: 'meanSquaredError',
  mae: 'meanAbsoluteError',
  mean_absolute_error: 'meanAbsoluteError',
  meanabsoluteerror: 'meanAbsoluteError',
} as const;

/** Loss names as Keras spells them (snake case, short forms), mapped to condense's. */
const LOSS_ALIASES: Record<string, LossName> = {
  sparse_categorical_crossentropy: 'sparseCategoricalCrossentropy',
  sparsecategoricalcrossentropy: 'sparseCategoricalCrossentropy',
  categorical_crossentropy: 'categoricalCrossentropy',
  categoricalcrossentropy: 'categoricalCrossentropy',
  binary_crossentropy: 'binaryCrossentropy',
  binarycrossentropy: 'binaryCrossentropy',
  ...ERROR_ALIASES,
  huber: 'huber',
  huber_loss: 'huber',
  cosine_similarity: 'cosineSimilarity',
  cosinesimilarity: 'cosineSimilarity',
  cosine_proximity: 'cosineSimilarity',
};

const METRIC_ALIASES: Record<string, MetricName> = {
  accuracy: 'accuracy',
  acc: 'accuracy',
  sparse_categorical_accuracy: 'accuracy',
  categorical_accuracy: 'accuracy',
  binary_accuracy: 'accuracy',
  topk: 'topK',
  top_k: 'topK',
  top_k_categorical_accuracy: 'topK',
  sparse_top_k_categorical_accuracy: 'topK',
  ...ERROR_ALIASES,
};

/** A loss name in any spelling (Keras snake case included), or undefined when unknown. */
export const lossName = (name: string): LossName | undefined => lookup(LOSS_ALIASES, name);

export const metricName = (name: string): MetricName | undefined => lookup(METRIC_ALIASES, name);

/** By the lower-cased name, or its camelCase split into snake_case. */
const lookup = <T>(table: Record<string, T>, name: string): T | undefined =>
  table[name.toLowerCase()] ?? table[name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()];

/** Which spec applies to output `i` (named `name`) of `count`; errors name `what`. */
export function forOutput<T>(
  spec: PerOutput<T> | undefined,
  i: number,
  name: string,
  count: number,
  what: string,
  isOne: (v: unknown) => boolean,
): T | undefined {
  if (spec === undefined) return undefined;
  if (isOne(spec)) return spec as T;
  if (Array.isArray(spec)) {
    if (spec.length !== count) throw new Error(`${what}: ${spec.length} given for ${count} outputs`);
    return spec[i];
  }
  return (spec as Record<string, T>)[name];
}

/** The task the model itself states: a Keras `training_config` (loss, metrics, loss_weights), translated. */
export function taskFromTrainingConfig(config: unknown, outputs: string[]): TaskSpec | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const c = config as Record<string, unknown>;
  const loss = (v: unknown): LossSpec | undefined => {
    if (typeof v === 'string') return lossName(v);
    if (typeof v === 'object' && v !== null) {
      const o = v as { class_name?: unknown; config?: Record<string, unknown> };
      const type = typeof o.class_name === 'string' ? lossName(o.class_name) : undefined;
      if (!type) return undefined;
      const fromLogits = o.config?.from_logits;
      const delta = o.config?.delta;
      return { type, ...(typeof fromLogits === 'boolean' ? { fromLogits } : {}), ...(typeof delta === 'number' ? { delta } : {}) };
    }
    return undefined;
  };
  const perOutput = <T>(v: unknown, read: (x: unknown) => T | undefined): T[] | undefined => {
    if (Array.isArray(v) && outputs.length > 1) return v.length === outputs.length ? (v.map(read) as T[]) : undefined;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && !('class_name' in v))
      return outputs.map((o) => read((v as Record<string, unknown>)[o])) as T[];
    const one = read(v);
    return one === undefined ? undefined : outputs.map(() => one);
  };
  const losses = perOutput(c.loss, loss);
  const task: TaskSpec = {};
  if (losses && losses.every((l) => l !== undefined)) task.loss = losses;
  const metricList = (v: unknown): MetricSpec[] | undefined => {
    const flat = (Array.isArray(v) ? v.flat(2) : [v]).map((m) =>
      typeof m === 'string'
        ? metricName(m)
        : typeof m === 'object' && m !== null && typeof (m as { class_name?: unknown }).class_name === 'string'
          ? metricName((m as { class_name: string }).class_name)
          : undefined,
    );
    const known = flat.filter((m): m is MetricName => m !== undefined);
    return known.length ? known : undefined;
  };
  const metrics = c.metrics;
  if (typeof metrics === 'object' && metrics !== null && !Array.isArray(metrics)) {
    const byName = Object.fromEntries(outputs.map((o) => [o, metricList((metrics as Record<string, unknown>)[o]) ?? []]));
    if (Object.values(byName).some((m) => m.length)) task.metrics = byName;
  } else if (metrics !== undefined) {
    const list = metricList(metrics);
    if (list) task.metrics = list;
  }
  const lw = c.loss_weights;
  if (Array.isArray(lw) && lw.every((w) => typeof w === 'number')) task.lossWeights = lw as number[];
  else if (typeof lw === 'object' && lw !== null) task.lossWeights = lw as Record<string, number>;
  return Object.keys(task).length ? task : undefined;
}
