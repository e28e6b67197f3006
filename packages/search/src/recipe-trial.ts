/**
 * The trial the search is made of: run a recipe on a model and measure it on validation data.
 * A sensitivity point is one too (a one-stage recipe that prunes or quantizes one layer), so
 * anything a recipe can express, a later stage included, can be searched over without touching
 * the runners.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  buildPipeline,
  createRegistry,
  dataSource,
  discoverPlugins,
  loadPlugin,
  type LatencyRequest,
  type PipelineContext,
  type Recipe,
  type Registry,
  type Runtime,
  type Split,
} from '@condense/core';
import { cost, deserializeGraph, paramBytes, serializeGraph, type Graph, type Param } from '@condense/ir';
import type { BlobFetcher, BlobRef, BlobStore } from './blobs.js';
import { decodeSplit, encodeSplit, sliceOf } from './split.js';
import type { Trial, TrialContext, TrialExecutor } from './trial.js';

export const RECIPE_TRIAL = 'recipe';

/** The module workers load for recipe trials on TF.js (see `executors.ts`). */
export const DEFAULT_EXECUTORS = '@condense/search/executors';

export interface RecipeTrialInput {
  /** The model, as a serialized IR graph. */
  model: BlobRef;
  /** `validation` measures the result (and is what stages see as test data); `train` is for recipes that fine-tune. */
  data: { validation: BlobRef; train?: BlobRef };
  recipe: Recipe;
  seed: number;
  /** Validation examples to evaluate (the first ones); default all. */
  samples?: number;
  /** Also report what these params would store at these codebook widths (32: as they are). */
  probe?: EncodingProbe;
  /** Also time inference of the result on the worker's backend (its runtime must measure latency). */
  latency?: LatencyRequest;
}

/** A what-if of the cost model: a param's stored bytes (its mask as the recipe left it) under a k-means codebook of each width. */
export interface EncodingProbe {
  params: string[];
  bits: number[];
}

/** A trial's result: the metric on validation data and the cost of the model the recipe made. */
export interface RecipeTrialOutput {
  accuracy: number;
  loss: number;
  params: number;
  nonzero: number;
  /**
   * Stored bytes of the model the recipe made, by the cost model (the codec's file bytes when the
   * recipe encodes). With no stages: the unchanged model by the cost model, not its file's bytes,
   * so that every trial counts bytes the same way.
   */
  bytes: number;
  /** The input model's bytes as the toolkit reports them (its file's stored bytes; the pipeline's first snapshot). */
  inputBytes: number;
  macs: number;
  effectiveMacs: number;
  /** Per node: stored bytes, dense MACs, non-zero params. */
  layers: Record<string, { bytes: number; macs: number; nonzero: number }>;
  /** Param -> bits -> stored bytes, when the input asked for a probe. */
  probe?: Record<string, Record<string, number>>;
  /** Median ms per batch, when the input asked for latency. */
  latencyMs?: number;
  /** Where the latency was measured: the worker's backend and CPU. */
  timedOn?: string;
  /** Epochs the recipe trained. */
  epochs: number;
  /** Wall time of recipe and evaluation. */
  ms: number;
}

/**
 * Every condense plugin package in the dependency tree that installed this package (as the CLI
 * finds them: never the working directory's node_modules), plus the plugin modules or package
 * folders named in `plugins`: what workers run recipes with, and what the search applies its
 * choice with.
 */
export async function pluginRegistry(plugins: readonly string[] = []): Promise<Registry> {
  const registry = createRegistry();
  await discoverPlugins(registry, fileURLToPath(import.meta.url));
  for (const [i, path] of plugins.entries()) await loadPlugin(registry, path, `plugins[${i}]`);
  return registry;
}

/** What a worker runs recipe trials with. */
export interface TrialEnvironment {
  registry: Registry;
  runtime: Runtime;
  fetch: BlobFetcher;
}

/** Decoded blobs by hash: a worker decodes each model and split once, however many trials use it. */
class DecodedCache<T> {
  private readonly items = new Map<string, Promise<T>>();
  constructor(private readonly limit: number) {}
  get(ref: BlobRef, decode: (bytes: Uint8Array) => T, fetch: BlobFetcher): Promise<T> {
    let p = this.items.get(ref.sha256);
    if (!p) {
      p = fetch(ref).then(decode);
      p.catch(() => this.items.delete(ref.sha256));
      this.items.set(ref.sha256, p);
      while (this.items.size > this.limit) this.items.delete(this.items.keys().next().value as string);
    }
    return p;
  }
}

/** The `recipe` executor over an environment. The pipeline runs on a copy, so the cached model is never changed. */
export function recipeExecutor(env: TrialEnvironment): TrialExecutor {
  const models = new DecodedCache<Graph>(4);
  const splits = new DecodedCache<Split>(8);
  return async (raw, ctx: TrialContext) => {
    const input = raw as RecipeTrialInput;
    const where = `trial '${ctx.id}'`;
    const started = performance.now();
    const graph = await models.get(input.model, (b) => deserializeGraph(b, `${where}: model ${input.model.location}`), env.fetch);
    const full = await splits.get(input.data.validation, (b) => decodeSplit(b, `${where}: validation data`), env.fetch);
    const validation = input.samples ? sliceOf(full, 0, input.samples) : full;
    const train = input.data.train ? await splits.get(input.data.train, (b) => decodeSplit(b, `${where}: training data`), env.fetch) : undefined;
    const run = buildPipeline(input.recipe, env.registry, where);
    const context: PipelineContext = {
      data: { test: validation, ...(train ? { train } : {}) },
      runtime: env.runtime,
      seed: input.seed,
      signal: ctx.signal,
      evaluateEachStage: false,
    };
    const result = await run.run(graph, context);
    const measured = await env.runtime.evaluate(result.graph, dataSource(validation, `${where}: validation data`));
    const timed = input.latency ? await timeIt(env.runtime, result.graph, input.latency, where) : undefined;
    const last = result.snapshots[result.snapshots.length - 1];
    const report = cost(result.graph);
    const layers = Object.fromEntries(report.layers.map((l) => [l.node, { bytes: l.bytes, macs: l.macs, nonzero: l.nonzero }]));
    const output: RecipeTrialOutput = {
      accuracy: measured.accuracy ?? Number.NaN,
      loss: measured.loss,
      params: last.params,
      nonzero: last.nonzero,
      // The input snapshot counts the file's bytes; a stage's snapshot counts the cost model's.
      bytes: last.index === 0 ? report.totals.bytes : last.bytes,
      inputBytes: result.snapshots[0].bytes,
      macs: last.macs,
      effectiveMacs: last.effectiveMacs,
      layers,
      ...(input.probe ? { probe: probeEncodings(result.graph, input.probe, where) } : {}),
      ...(timed ? { latencyMs: timed.msPerBatch, timedOn: `${timed.backend} on ${machine()}` } : {}),
      epochs: result.stages.reduce((n, s) => n + s.epochs, 0),
      ms: performance.now() - started,
    };
    return output;
  };
}

async function timeIt(runtime: Runtime, graph: Graph, request: LatencyRequest, where: string) {
  if (!runtime.latency) throw new Error(`${where}: the worker's runtime '${runtime.name}' cannot measure latency`);
  return runtime.latency(graph, request);
}

/** This machine's CPU, for saying where a latency was measured. */
export function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'} x${cpus.length}`;
}

/** Stored bytes of each probed param under a codebook of each width (the centroid count 2^bits is what the cost model charges for). */
export function probeEncodings(graph: Graph, probe: EncodingProbe, where = 'probe'): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const name of probe.params) {
    const p = graph.params.get(name);
    if (!p) throw new Error(`${where}: probe names param '${name}', which the model does not have`);
    const bytesAt = (bits: number) => paramBytes(bits >= 32 ? p : asCodebook(p, bits)).bytes;
    out[name] = Object.fromEntries(probe.bits.map((bits) => [String(bits), bytesAt(bits)]));
  }
  return out;
}

/** The param under a codebook of `bits`: k-means gives every unmasked weight a centroid, zeros included, so only a mask keeps an entry out. */
const asCodebook = (p: Param, bits: number): Param => ({
  name: p.name,
  shape: p.shape,
  data: p.data,
  mask: p.mask ?? new Uint8Array(p.data.length).fill(1),
  codebook: { bits, centroids: new Float32Array(2 ** bits), indices: new Uint16Array(0) },
});

/** The model and data a batch of recipe trials shares, each stored once. */
export interface TrialAssets {
  model: BlobRef;
  data: RecipeTrialInput['data'];
}

/** Store the model and data in `blobs` (a runner's: where its workers can read them). */
export async function storeAssets(blobs: BlobStore, graph: Graph, data: { validation: Split; train?: Split }): Promise<TrialAssets> {
  const [model, validation, train] = await Promise.all([
    blobs.put(serializeGraph(graph)),
    blobs.put(encodeSplit(data.validation)),
    data.train ? blobs.put(encodeSplit(data.train)) : undefined,
  ]);
  return { model, data: { validation, ...(train ? { train } : {}) } };
}

/** A recipe trial over stored assets. */
export function recipeTrial(
  id: string,
  assets: TrialAssets,
  recipe: Recipe,
  options: Pick<RecipeTrialInput, 'samples' | 'probe' | 'latency'> & { seed?: number } = {},
): Trial<RecipeTrialInput> {
  const { seed = 1, ...rest } = options;
  return { id, kind: RECIPE_TRIAL, input: { model: assets.model, data: assets.data, recipe, seed, ...rest } };
}
