import * as tf from '@tensorflow/tfjs-core';
import { batches, bindChunk, modelSpec, type DataSource, type ModelSpec, type TaskSpec } from '@condense/core';
import { rng, type Graph } from '@condense/ir';
import { compile, type BoundParam, type CompiledModel } from '../exec/index.js';
import type { LossContext, StepContext, TrainingContribution } from './contribution.js';
import { asSource, disposeBatch, imageAugmenter, toTensors, type Augment, type TensorBatch, type TrainData } from './data.js';
import { evaluate, preflight } from './evaluate.js';
import { createOptimizer, type Optimizer, type OptimizerConfig } from './optimizer.js';
import { taskLoss, type Task } from './task.js';
import { learningRateAt, type LearningRateSchedule } from './schedule.js';

export interface TrainOptions {
  /** Default 1. */
  epochs?: number;
  /** Default 32. The last batch of an epoch may be smaller. */
  batchSize?: number;
  /** Default 'adam'. */
  optimizer?: OptimizerConfig;
  /** Base learning rate; default 1e-3 for Adam, 0.01 for SGD. */
  learningRate?: number;
  /** Default constant. */
  schedule?: LearningRateSchedule;
  /** Weight decay coefficient; default 0. */
  weightDecay?: number;
  /** 'l2': g += decay * w (the gradient of decay/2 * |w|^2). 'decoupled': w -= lr * decay * w (AdamW). Default 'l2'. */
  weightDecayMode?: 'l2' | 'decoupled';
  /** Which params decay: kernels only ('weights', default) or every trainable param and contribution variable ('all'). */
  weightDecayParams?: 'weights' | 'all';
  /** Seeds the shuffle and dropout. Same seed, same data, same backend: same weights. Default 1. */
  seed?: number;
  /** Reshuffle every epoch; default true. */
  shuffle?: boolean;
  /** Evaluated after every epoch. */
  validation?: TrainData;
  /** Losses and metrics per output; default from the model (Keras training_config, else output activations and targets). */
  task?: TaskSpec;
  /** Examples a streamed dataset's shuffle holds; default 1024. */
  shuffleBuffer?: number;
  /** Stops after the current step; the summary says `aborted` and Param.data holds the weights reached. */
  signal?: AbortSignal;
  contributions?: TrainingContribution[];
  onEvent?: (event: TrainEvent) => void;
  /** Emit a 'step' event (reading the loss from the device) every N steps; default 10. */
  logEvery?: number;
  /** Cap on steps per epoch (quick runs, benchmarks). */
  stepsPerEpoch?: number;
  /**
   * Run each batch as chunks of at most this many examples and accumulate their gradients into
   * one optimizer step: the loss and gradients are those of the whole batch, with less memory
   * (the WASM heap stops near 2 GB; MobileNetV2 at batch 128 needs ~2.9 GB in one piece).
   * Batch norm then normalises by each chunk's statistics ("ghost" batch norm). Default: no split.
   */
  microBatch?: number;
  /**
   * Random shifts / flips of every training image, drawn per example and epoch from the seed (a
   * stream apart from the shuffle's, so the batch order is the same with and without).
   */
  augment?: Augment;
}

export interface TrainEvent {
  type: 'epochStart' | 'step' | 'epochEnd' | 'end';
  /** 0-based epoch. */
  epoch: number;
  epochs: number;
  /** Steps done so far (all epochs). */
  step: number;
  stepsPerEpoch: number;
  totalSteps: number;
  learningRate: number;
  /** Mean loss (task loss plus contribution terms) of the epoch so far. */
  loss?: number;
  /** Training accuracy of the epoch so far (training mode, so with dropout; first output with an accuracy metric, NaN without). */
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  samplesPerSec?: number;
  elapsedMs: number;
}

export interface EpochRecord {
  epoch: number;
  steps: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  learningRate: number;
  samplesPerSec: number;
  ms: number;
}

export interface TrainSummary {
  /** Epochs run (a partial epoch after an abort counts). */
  epochs: number;
  steps: number;
  finalLoss: number;
  trainAccuracy: number;
  validation?: { loss: number; accuracy: number };
  history: EpochRecord[];
  /** Training throughput over all steps (validation excluded). */
  samplesPerSec: number;
  wallMs: number;
  aborted: boolean;
}

/**
 * Train a compiled model (or a graph, compiled for the call) on examples, honouring the params'
 * annotations exactly. The data is anything `dataSource` reads (arrays, a tf.data.Dataset, an
 * async iterable streamed with bounded memory); the task loss (per output, see `resolveTask`)
 * applies to batches with targets, the contributions' losses to every batch, so data without
 * targets trains on contributions alone (label-free recovery, distillation). Annotations:
 * - masked elements: the gradient is masked and the mask re-applied after every step, so they
 *   stay exactly 0; a mask changed on the graph (afterStep of a contribution) takes effect at once;
 * - codebooks: centroid gradient = sum of the (unmasked) members' gradients; the optimizer moves the
 *   centroids (its own state per centroid) and the weights are re-gathered from them every step;
 * - frozen params do not move; batchNorm moving statistics follow the batches (momentum 0.99);
 * - quantized / float16 params: straight-through, trained in float and snapped at the final sync.
 * Training starts from Param.data (a compiled model is reloaded from its graph, so edits a plugin
 * made since compiling count) and ends by writing the variables back into Param.data and the
 * codebook centroids, annotations re-imposed.
 */
export async function train(model: CompiledModel | Graph, data: TrainData, options: TrainOptions = {}): Promise<TrainSummary> {
  const owned = !('predict' in model);
  const m = owned ? compile(model, { seed: options.seed }) : model;
  const run = new TrainingRun(m, asSource(data, 'train data'), options);
  try {
    await run.prepare();
    return await run.run();
  } finally {
    run.dispose();
    if (owned) m.dispose();
  }
}

class TrainingRun {
  private readonly spec: ModelSpec;
  private task?: Task;
  /** Index of the metric whose sums are the training accuracy (first output with accuracy). */
  private accuracyAt?: { output: number; metric: number };
  private readonly optimizer: Optimizer;
  private readonly contributions: TrainingContribution[];
  private readonly extraVariables = new Map<string, tf.Variable>();
  private readonly taps: string[];
  /** Product of the contributions' taskLossWeight: the factor on the task loss. */
  private readonly taskWeight: number;
  private readonly seed: number;
  private readonly baseLr: number;
  private readonly epochs: number;
  private readonly batchSize: number;
  private stepsPerEpoch = 0;
  private augment?: (xs: Float32Array, n: number) => void;
  private lossSum?: tf.Tensor;
  private correctSum?: tf.Tensor;
  private steps = 0;

  constructor(
    private readonly model: CompiledModel,
    private readonly source: DataSource,
    private readonly o: TrainOptions,
  ) {
    this.spec = modelSpec(model.graph);
    this.optimizer = createOptimizer(o.optimizer ?? 'adam');
    this.contributions = o.contributions ?? [];
    this.taps = [...new Set(this.contributions.flatMap((c) => c.taps ?? []))];
    this.taskWeight = taskLossWeight(this.contributions);
    this.seed = o.seed ?? 1;
    this.baseLr = o.learningRate ?? (this.optimizer.type === 'adam' ? 1e-3 : 0.01);
    this.epochs = o.epochs ?? 1;
    this.batchSize = o.batchSize ?? 32;
    if (!(Number.isInteger(this.batchSize) && this.batchSize > 0)) throw new Error(`train: batchSize must be a positive integer, got ${this.batchSize}`);
    if (o.microBatch !== undefined && !(Number.isInteger(o.microBatch) && o.microBatch > 0))
      throw new Error(`train: microBatch must be a positive integer, got ${o.microBatch}`);
  }

  /** Check the data before any step: every example of a memory source, the first chunk of a stream; size the epoch. */
  async prepare(): Promise<void> {
    if (!this.source.repeatable)
      throw new Error(
        `train: ${this.source.name} is a one-shot iterator, and training reads it more than once (a check, then each epoch); pass a function returning a fresh iterable, e.g. a generator function`,
      );
    const p = await preflight(this.source, this.spec, this.model.graph, this.o.task, 'train');
    if (p.count === 0) throw new Error(`train: ${this.source.name} is empty`);
    this.task = p.task;
    if (!p.task && !this.contributions.some((c) => c.loss)) {
      throw new Error(
        `train: ${this.source.name} has no targets, and nothing gives a loss without them: recover label-free (the tfjs runtime does so by default) or add a distillation contribution`,
      );
    }
    if (this.task) {
      const output = this.task.outputs.findIndex((t) => t.metrics.some((m) => m.name === 'accuracy'));
      if (output >= 0) this.accuracyAt = { output, metric: this.task.outputs[output].metrics.findIndex((m) => m.name === 'accuracy') };
    }
    const count = p.count ?? (needsLength(this.o.schedule) ? await countExamples(this.source, this.spec) : undefined);
    this.stepsPerEpoch = Math.min(count === undefined ? Infinity : Math.ceil(count / this.batchSize), this.o.stepsPerEpoch ?? Infinity);
    if (!Number.isFinite(this.stepsPerEpoch)) this.stepsPerEpoch = 0; // unknown until the first pass ends
    const example = this.spec.inputs[0]?.shape.map((d) => d ?? -1) ?? [];
    if (this.o.augment) this.augment = imageAugmenter(this.o.augment, example, rng(this.seed + 0x6a09e667));
  }

  async run(): Promise<TrainSummary> {
    const t0 = now();
    const history: EpochRecord[] = [];
    const random = rng(this.seed);
    let aborted = false;
    let trainMs = 0;
    let samples = 0;
    let lastYield = now();
    // The IR is the source of truth between stages: a plugin may have rewritten weights since the
    // model was compiled (or last trained), so start from Param.data.
    this.model.syncFromGraph();
    this.collectVariables();
    for (const c of this.contributions) c.begin?.(this.stepContext(0, this.lr(0, 0)));
    this.afterAnnotationsChange(this.model.refreshAnnotations()); // masks set in begin apply to step 0

    for (let epoch = 0; epoch < this.epochs && !aborted; epoch++) {
      const order = batches(this.source, this.spec, {
        batchSize: this.batchSize,
        random: this.o.shuffle === false ? undefined : random,
        shuffleBuffer: this.o.shuffleBuffer,
      });
      this.emit('epochStart', epoch, { learningRate: this.lr(this.steps, epoch) }, t0);
      const e0 = now();
      let epochSamples = 0;
      let epochSteps = 0;
      let lr = 0;
      const cap = this.o.stepsPerEpoch ?? Infinity;
      for await (const bound of order) {
        if (this.o.signal?.aborted) {
          aborted = true;
          break;
        }
        lr = this.lr(this.steps, epoch);
        if (this.augment) this.augment(bound.inputs[0].values as Float32Array, bound.count);
        const batch = toTensors(
          bound,
          this.task?.outputs.map((t) => t.loss.targetDtype),
        );
        try {
          this.step(batch, this.stepContext(epoch, lr));
        } finally {
          disposeBatch(batch);
        }
        this.steps++;
        epochSteps++;
        epochSamples += batch.count;
        if (this.steps % (this.o.logEvery ?? 10) === 0) {
          const { loss, accuracy } = this.readSums(epochSamples);
          this.emit('step', epoch, { learningRate: lr, loss, accuracy, samplesPerSec: (epochSamples * 1000) / (now() - e0) }, t0);
        }
        if (now() - lastYield > 25) {
          await yieldToEventLoop();
          lastYield = now();
        }
        if (epochSteps >= cap) break;
      }
      if (this.stepsPerEpoch === 0) this.stepsPerEpoch = epochSteps;
      if (epochSteps === 0) break;
      const ms = now() - e0;
      trainMs += ms;
      samples += epochSamples;
      const { loss, accuracy } = this.readSums(epochSamples);
      this.resetSums();
      const record: EpochRecord = { epoch, steps: epochSteps, loss, accuracy, learningRate: lr, samplesPerSec: (epochSamples * 1000) / ms, ms };
      if (this.o.validation) {
        const v = await evaluate(this.model, this.o.validation, { batchSize: Math.max(this.batchSize, 256), task: this.o.task });
        Object.assign(record, { valLoss: v.loss, valAccuracy: v.accuracy });
      }
      history.push(record);
      const { learningRate, valLoss, valAccuracy, samplesPerSec } = record;
      this.emit('epochEnd', epoch, { learningRate, loss, accuracy, valLoss, valAccuracy, samplesPerSec }, t0);
    }

    const endCtx = this.stepContext(Math.max(history.length - 1, 0), this.lr(this.steps, Math.max(history.length - 1, 0)));
    for (const c of this.contributions) c.end?.(endCtx);
    this.model.syncToGraph();
    const last = history.at(-1);
    const summary: TrainSummary = {
      epochs: history.length,
      steps: this.steps,
      finalLoss: last?.loss ?? NaN,
      trainAccuracy: last?.accuracy ?? NaN,
      ...(last?.valLoss !== undefined ? { validation: { loss: last.valLoss, accuracy: last.valAccuracy as number } } : {}),
      history,
      samplesPerSec: trainMs > 0 ? (samples * 1000) / trainMs : 0,
      wallMs: now() - t0,
      aborted,
    };
    this.emit(
      'end',
      Math.max(history.length - 1, 0),
      { learningRate: last?.learningRate ?? this.baseLr, loss: summary.finalLoss, accuracy: summary.trainAccuracy, samplesPerSec: summary.samplesPerSec },
      t0,
    );
    return summary;
  }

  /** One optimizer step on a batch (accumulated over its micro-batches), then the contributions' afterStep and the annotations. */
  private step(batch: TensorBatch, ctx: StepContext): void {
    const trainable = this.trainableVariables();
    tf.tidy(() => {
      let value: tf.Tensor | undefined;
      let correct: tf.Tensor | undefined;
      let grads = new Map<string, tf.Tensor>();
      const add = (a: tf.Tensor | undefined, b: tf.Tensor) => (a ? tf.add(a, b) : b);
      const kept: tf.Tensor[] = [];
      for (const [k, chunk] of this.chunks(batch).entries()) {
        // A chunk's loss counts by its share of the batch, so the sums are the whole batch's loss and gradients.
        const r = this.chunkGradients(chunk, ctx, trainable, chunk.count / batch.count, k);
        value = add(value, r.value);
        if (r.correct) {
          correct = add(correct, r.correct);
          kept.push(r.correct);
        }
        for (const [key, g] of r.grads) grads.set(key, add(grads.get(key), g));
      }
      for (const c of this.contributions) if (c.transformGradients) grads = c.transformGradients(grads, ctx);
      this.applyGradients(grads, ctx.learningRate);
      this.accumulate(value as tf.Tensor, correct, batch.count);
      tf.dispose(kept);
    });
    for (const c of this.contributions) c.afterStep?.(ctx);
    this.afterAnnotationsChange(this.model.refreshAnnotations());
    this.model.applyAnnotations(this.annotated());
  }

  /** The batch itself, or its consecutive chunks of at most `microBatch` examples (slices the step's tidy frees). */
  private chunks(batch: TensorBatch): TensorBatch[] {
    const size = this.o.microBatch;
    const n = batch.count;
    if (size === undefined || size >= n) return [batch];
    const out: TensorBatch[] = [];
    for (let start = 0; start < n; start += size) {
      const len = Math.min(size, n - start);
      const rows = <T extends tf.Tensor>(t: T) => tf.slice(t, start, len) as T;
      out.push({
        xs: batch.xs.map(rows),
        ...(batch.ys ? { ys: batch.ys.map(rows) } : {}),
        ...(batch.weights ? { weights: rows(batch.weights) } : {}),
        count: len,
        indices: batch.indices.subarray(start, start + len),
      });
    }
    return out;
  }

  /**
   * Loss (times `share`), accuracy sum (kept: step() disposes it) and gradients of one chunk;
   * chunk k > 0 draws its own dropout masks.
   */
  private chunkGradients(
    chunk: TensorBatch,
    ctx: StepContext,
    trainable: Map<tf.Variable, string>,
    share: number,
    k: number,
  ): { value: tf.Tensor; correct?: tf.Tensor; grads: Map<string, tf.Tensor> } {
    let correct: tf.Tensor | undefined;
    const f = (): tf.Scalar => {
      const seed = k === 0 ? mixSeed(this.seed, ctx.step) : mixSeed(mixSeed(this.seed, ctx.step), k);
      const r = this.model.predict(chunk.xs, { training: true, taps: this.taps, seed });
      let loss: tf.Tensor = tf.scalar(0);
      if (this.task && chunk.ys) {
        const task = taskLoss(this.task, r, chunk.ys, chunk.weights);
        loss = this.taskWeight === 1 ? task : tf.mul(task, this.taskWeight);
      }
      const lctx: LossContext = {
        x: chunk.xs[0],
        inputs: chunk.xs,
        y: chunk.ys?.[0],
        targets: chunk.ys,
        output: r.output,
        outputs: r.outputs,
        logits: r.logits,
        outputLogits: r.outputLogits,
        taps: r.taps,
        variables: ctx.variables,
        batchIndices: chunk.indices,
        step: ctx.step,
      };
      let first = !(this.task && chunk.ys);
      for (const c of this.contributions) {
        if (!c.loss) continue;
        const extra = c.loss(lctx);
        if (extra.rank !== 0) throw new Error(`contribution '${c.name}': loss must be a scalar, got shape [${extra.shape.join(', ')}]`);
        loss = first ? extra : tf.add(loss, extra);
        first = false;
      }
      const at = this.accuracyAt;
      // Kept: it outlives the forward pass's tidy.
      if (at && chunk.ys && this.task) correct = tf.keep(this.task.outputs[at.output].metrics[at.metric].sum(chunk.ys[at.output], r.outputs[at.output]));
      return (share === 1 ? loss : tf.mul(loss, share)) as tf.Scalar;
    };
    const grads = new Map<string, tf.Tensor>();
    if (trainable.size === 0) {
      const value = f();
      return { value, ...(correct ? { correct } : {}), grads };
    }
    const res = tf.variableGrads(f, [...trainable.keys()]);
    for (const [v, key] of trainable) {
      const g = res.grads[v.name];
      if (g) grads.set(key, g);
    }
    return { value: res.value, ...(correct ? { correct } : {}), grads };
  }

  /** Trainable variables of this step (frozen flags are re-read), mapped to their keys. */
  private trainableVariables(): Map<tf.Variable, string> {
    const out = new Map<tf.Variable, string>();
    for (const b of this.model.bound.values()) if (b.trainable) out.set(b.variable, b.name);
    for (const [key, v] of this.extraVariables) if (v.trainable) out.set(v, key);
    return out;
  }

  private applyGradients(grads: Map<string, tf.Tensor>, lr: number): void {
    const wd = this.o.weightDecay ?? 0;
    const decoupled = this.o.weightDecayMode === 'decoupled';
    const all = this.o.weightDecayParams === 'all';
    for (const [key, grad] of grads) {
      const b = this.model.bound.get(key);
      if (!b) {
        const v = this.extraVariables.get(key);
        if (!v) throw new Error(`gradient for '${key}', which is neither a param nor a contribution variable`);
        if (v.trainable) this.optimizer.step(key, v, grad, lr, decoupled && all ? wd : 0);
        continue;
      }
      if (!b.trainable) continue;
      const decays = wd > 0 && (all || b.kind === 'weight');
      this.updateParam(b, decays && !decoupled ? tf.add(grad, tf.mul(b.variable, wd)) : grad, lr, decays && decoupled ? wd : 0);
    }
  }

  /** Masked gradient; a codebook param moves its centroids by the sums of their members' gradients. */
  private updateParam(b: BoundParam, grad: tf.Tensor, lr: number, decay: number): void {
    const g = b.mask ? tf.mul(grad, b.mask) : grad;
    if (b.codebook) {
      const { centroids, indices } = b.codebook;
      // bincount with weights = segment sum; it exists on every backend (UnsortedSegmentSum is not on WASM).
      const gc = tf.bincount(indices, tf.reshape(g, [-1]) as tf.Tensor1D, centroids.shape[0]);
      this.optimizer.step(`${b.name}#centroids`, centroids, gc, lr, decay);
    } else {
      this.optimizer.step(b.name, b.variable, g, lr, decay);
    }
  }

  /** After a mask or codebook changed: pruned positions lose their momentum; new codebooks restart. */
  private afterAnnotationsChange(changed: string[]): void {
    for (const name of changed) {
      const b = this.model.bound.get(name) as BoundParam;
      this.optimizer.reset(`${name}#centroids`);
      if (b.mask) this.optimizer.maskState(name, b.mask);
    }
  }

  private annotated(): string[] {
    const out: string[] = [];
    for (const b of this.model.bound.values()) if (b.mask || b.codebook) out.push(b.name);
    return out;
  }

  private collectVariables(): void {
    for (const c of this.contributions) {
      for (const [key, v] of c.variables?.() ?? []) {
        if (this.model.bound.has(key) || this.extraVariables.has(key)) throw new Error(`contribution '${c.name}': variable name '${key}' is already taken`);
        this.extraVariables.set(key, v);
      }
    }
  }

  private allVariables(): Map<string, tf.Variable> {
    return new Map([...this.model.variables, ...this.extraVariables]);
  }

  private stepContext(epoch: number, learningRate: number): StepContext {
    return {
      step: this.steps,
      epoch,
      stepsPerEpoch: this.stepsPerEpoch,
      totalSteps: this.epochs * this.stepsPerEpoch,
      learningRate,
      variables: this.allVariables(),
      graph: this.model.graph,
      model: this.model,
    };
  }

  private lr(step: number, epoch: number): number {
    return learningRateAt(this.o.schedule, { step, epoch, stepsPerEpoch: this.stepsPerEpoch, totalSteps: this.epochs * this.stepsPerEpoch, base: this.baseLr });
  }

  /** Running sums stay on the device; they are read only every `logEvery` steps. */
  private accumulate(loss: tf.Tensor, correct: tf.Tensor | undefined, n: number): void {
    const [oldLoss, oldCorrect] = [this.lossSum, this.correctSum];
    this.lossSum = tf.keep(oldLoss ? tf.add(oldLoss, tf.mul(loss, n)) : tf.mul(loss, n));
    if (correct) this.correctSum = tf.keep(oldCorrect ? tf.add(oldCorrect, correct) : tf.clone(correct));
    oldLoss?.dispose();
    if (correct) oldCorrect?.dispose();
  }

  private readSums(samples: number): { loss: number; accuracy: number } {
    if (!this.lossSum || samples === 0) return { loss: NaN, accuracy: NaN };
    return { loss: this.lossSum.dataSync()[0] / samples, accuracy: this.correctSum ? this.correctSum.dataSync()[0] / samples : NaN };
  }

  private resetSums(): void {
    this.lossSum?.dispose();
    this.correctSum?.dispose();
    this.lossSum = this.correctSum = undefined;
  }

  private emit(type: TrainEvent['type'], epoch: number, fields: Partial<TrainEvent> & { learningRate: number }, t0: number): void {
    this.o.onEvent?.({
      type,
      epoch,
      epochs: this.epochs,
      step: this.steps,
      stepsPerEpoch: this.stepsPerEpoch,
      totalSteps: this.epochs * this.stepsPerEpoch,
      elapsedMs: now() - t0,
      ...fields,
    });
  }

  dispose(): void {
    this.resetSums();
    this.optimizer.dispose();
  }
}

const now = (): number => performance.now();

/** The factor on the task loss: the product of the contributions' weights, each finite and >= 0. */
function taskLossWeight(contributions: TrainingContribution[]): number {
  let w = 1;
  for (const c of contributions) {
    const f = c.taskLossWeight ?? 1;
    if (!(Number.isFinite(f) && f >= 0)) throw new Error(`contribution '${c.name}': taskLossWeight must be a finite number >= 0, got ${f}`);
    w *= f;
  }
  return w;
}

/** A 32-bit mix of the run seed and the step: the dropout seed of that step. */
function mixSeed(seed: number, step: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(step + 1, 0xc2b2ae35);
  h ^= h >>> 15;
  return Math.imul(h, 0x27d4eb2f) >>> 0;
}

/** Whether a schedule needs the number of steps ahead. */
const needsLength = (s: LearningRateSchedule | undefined): boolean => s !== undefined && (typeof s === 'function' || s.type !== 'constant');

/** Examples in one pass of a source of unknown size (a schedule needs the steps ahead). */
async function countExamples(source: DataSource, spec: ModelSpec): Promise<number> {
  if (!source.repeatable)
    throw new Error(
      `train: ${source.name} can be read once, and a learning-rate schedule needs its size first; pass a function returning a fresh iterable, or a constant schedule`,
    );
  let n = 0;
  for await (const chunk of source.stream()) n += bindChunk(chunk, spec, source.name, undefined, n).count;
  return n;
}

/** Let timers, I/O and abort() run between steps. */
function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  return new Promise((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)));
}
