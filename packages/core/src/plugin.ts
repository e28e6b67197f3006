import type { Static, TObject } from '@sinclair/typebox';
import type { Graph } from '@condense/ir';
import { parseOptions } from './options.js';
import type { StageContext } from './context.js';
import type { RuntimeTask, TrainingContribution } from './runtime.js';

/**
 * What a stage leaves on the graph (or needs absent). Free-form strings so third-party plugins
 * can add their own; the built-in ones are listed for editors.
 */
export type Capability = 'mask' | 'codebook' | 'quant' | 'float16' | 'structure' | 'encoded' | `op:${string}` | (string & {});

export type Requirement = 'labels' | 'calibration' | 'teacher';

export interface Contract {
  /**
   * Data the stage needs from the pipeline context: 'labels' is training data (its targets, or
   * without them label-free recovery against the original model), 'calibration' inputs for a
   * post-training stage (calibration data, else the training data).
   */
  requires?: Requirement[];
  /** State the stage leaves on the graph (masks, codebooks, new ops, removed structure). */
  provides?: Capability[];
  /** State it destroys: later stages that need it are refused. */
  invalidates?: Capability[];
  /** State that must not be on the graph when the stage runs (e.g. channel removal after k-means would drop codebooks). */
  conflicts?: Capability[];
  /** State that must already be on the graph (e.g. centroid training needs codebooks). */
  needs?: Capability[];
  /** Nothing may follow this stage (the final encoding). */
  final?: boolean;
  /**
   * Runtime work the stage does through its context: 'train' (`ctx.finetune`), 'evaluate'
   * (`ctx.evaluate`). The pipeline refuses such a stage when it has no runtime, and a stage that
   * trains consumes the training contributions of the stages before it.
   */
  runtime?: RuntimeTask[];
}

/** What a stage may hand back besides rewriting the graph in place. */
export interface StageResult {
  /** Replacement graph, when the stage builds a new one rather than editing in place. */
  graph?: Graph;
  /**
   * Bytes of what the stage stored (an encoder's container), when that, not the cost model's
   * estimate from the params' annotations, is the model's size; the stage's snapshot records it.
   */
  storedBytes?: number;
  /** Free-form per-stage data for the report (per-layer tables, curves). */
  details?: Record<string, unknown>;
  /** Files the stage wants written to the output directory: name -> bytes. */
  artifacts?: Record<string, Uint8Array>;
  notes?: string[];
}

/** A compression step: a plain value made by a factory with typed options. */
export interface Plugin<O = unknown> {
  /** Dotted registry name, e.g. `prune.magnitude`. */
  name: string;
  options: O;
  contract: Contract;
  /**
   * Refuse, before any stage runs, a model this stage cannot work on: throw with what and where
   * (the pipeline names the stage). It sees the input model, so it refuses only what the input
   * makes impossible (state on its params that no earlier stage removes), not what an earlier
   * stage may still add or change.
   */
  check?(graph: Graph): void;
  /** Rewrite the graph once. */
  apply?(graph: Graph, ctx: StageContext): StageResult | void | Promise<StageResult | void>;
  /**
   * Contributions active during the following fine-tuning (loss terms, gradient transforms,
   * projections), made after `apply`. Define it only when the stage contributes: the pipeline
   * refuses a contributing stage that no later stage consumes.
   */
  training?(graph: Graph, ctx: StageContext): TrainingContribution[];
  /**
   * How long the training contributions stay active: up to and including the next stage that
   * trains (`contract.runtime` has 'train'; default), or every later one.
   */
  trainingScope?: 'next' | 'all';
}

export interface PluginFactory<S extends TObject = TObject> {
  (options?: Partial<Static<S>>): Plugin<Static<S>>;
  pluginName: string;
  description: string;
  schema: S;
  /** Build from untyped input (a recipe), validating it; errors name `where`. */
  fromOptions(input: unknown, where?: string): Plugin<Static<S>>;
}

export interface PluginDefinition<S extends TObject> {
  name: string;
  description: string;
  schema: S;
  create(options: Static<S>): Omit<Plugin<Static<S>>, 'name' | 'options'>;
}

/** Make a plugin factory: validates options against the schema, applies defaults, returns a plain plugin value. */
export function definePlugin<S extends TObject>(def: PluginDefinition<S>): PluginFactory<S> {
  const fromOptions = (input: unknown, where = `plugin '${def.name}'`): Plugin<Static<S>> => {
    const options = parseOptions(def.schema, input, where);
    return { name: def.name, options, ...def.create(options) };
  };
  const factory = ((options?: Partial<Static<S>>) => fromOptions(options ?? {})) as PluginFactory<S>;
  Object.defineProperties(factory, {
    pluginName: { value: def.name },
    description: { value: def.description },
    schema: { value: def.schema },
    fromOptions: { value: fromOptions },
  });
  return factory;
}
