import * as tf from '@tensorflow/tfjs-core';
import { rng, shuffle, type Graph } from '@condense/ir';
import { compile, type BoundParam, type CompiledModel } from '../exec/index.js';
import type { LossContext, StepContext, TrainingContribution } from './contribution.js';
import { imageAugmenter, makeBatch, toArrays, type Arrays, type Augment, type Batch, type Dataset } from './data.js';
import { evaluate } from './evaluate.js';
import { correctCount, crossEntropy } from './metrics.js';
import { createOptimizer, type Optimizer, type OptimizerConfig } from './optimizer.js';
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
  validation?: Dataset;
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
  /** Mean loss (cross-entropy plus contribution terms) of the epoch so far. */
  loss?: number;
  /** Training accuracy of the epoch so far (training mode, so with dropout). */
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
 * Train a compiled model (or a graph, compiled for the call) on labelled examples, honouring the
 * params' annotations exactly:
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
export async function train(model: CompiledModel | Graph, data: Dataset, options: TrainOptions = {}): Promise<TrainSummary> {
  const owned = !('predict' in model);
  const m = owned ? compile(model, { seed: options.seed }) : model;
  const run = new TrainingRun(m, data, options);
  try {
    return await run.run();
  } finally {
    run.dispose();
    if (owned) m.dispose();
  }
}

class TrainingRun {
  private readonly arrays: Arrays;
  private readonly classes: number;
  private readonly optimizer: Optimizer;
  private readonly contributions: TrainingContribution[];
  private readonly extraVariables = new Map<string, tf.Variable>();
  private readonly taps: string[];
  /** Product of the contributions' taskLossWeight: the factor on the cross-entropy. */
  private readonly taskWeight: number;
  private readonly seed: number;
  private readonly baseLr: number;
  private readonly epochs: number;
  private readonly batchSize: number;
  private readonly stepsPerEpoch: number;
  private readonly augment?: (xs: Float32Array, n: number) => void;
  private lossSum?: tf.Tensor;
  private correctSum?: tf.Tensor;
  private steps = 0;

  constructor(
    private readonly model: CompiledModel,
    data: Dataset,
    private readonly o: TrainOptions,
  ) {
    this.classes = model.outputShape.at(-1) as number;
    this.arrays = toArrays(data, model.inputShapes[0], this.classes, 'train');
    this.optimizer = createOptimizer(o.optimizer ?? 'adam');
    this.contributions = o.contributions ?? [];
    this.taps = [...new Set(this.contributions.flatMap((c) => c.taps ?? []))];
    this.taskWeight = taskLossWeight(this.contributions);
    this.seed = o.seed ?? 1;
    this.baseLr = o.learningRate ?? (this.optimizer.type === 'adam' ? 1e-3 : 0.01);
    this.epochs = o.epochs ?? 1;
    this.batchSize = o.batchSize ?? 32;
    if (!(Number.isInteger(this.batchSize) && this.batchSize > 0)) throw new Error(`train: batchSize must be a positive integer, got ${this.batchSize}`);
    if (o.microBatch !== undefined && !(Number.isInteger(o.microBatch) && o.microBatch > 0)) throw new Error(`train: microBatch must be a positive integer, got ${o.microBatch}`);
    if (this.arrays.count === 0) throw new Error('train: the dataset is empty');
    this.stepsPerEpoch = Math.min(Math.ceil(this.arrays.count / this.batchSize), o.stepsPerEpoch ?? Infinity);
    if (o.augment) this.augment = imageAugmenter(o.augment, this.arrays.example, rng(this.seed + 0x6a09e667));
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
      const order = this.o.shuffle === false ? undefined : shuffle(Int32Array.from({ length: this.arrays.count }, (_, i) => i), random);
      this.emit('epochStart', epoch, { learningRate: this.lr(this.steps, epoch) }, t0);
      const e0 = now();
      let epochSamples = 0;
      let epochSteps = 0;
      let lr = 0;
      for (let s = 0; s < this.stepsPerEpoch; s++) {
        if (this.o.signal?.aborted) {
          aborted = true;
          break;
        }
        lr = this.lr(this.steps, epoch);
        const start = s * this.batchSize;
        const batch = makeBatch(this.arrays, order, start, Math.min(start + this.batchSize, this.arrays.count), this.augment);
        try {
          this.step(batch, this.stepContext(epoch, lr));
        } finally {
          tf.dispose([batch.x, batch.y]);
        }
        this.steps++;
        epochSteps++;
        epochSamples += batch.indices.length;
        if (this.steps % (this.o.logEvery ?? 10) === 0) {
          const { loss, accuracy } = this.readSums(epochSamples);
          this.emit('step', epoch, { learningRate: lr, loss, accuracy, samplesPerSec: (epochSamples * 1000) / (now() - e0) }, t0);
        }
        if (now() - lastYield > 25) {
          await yieldToEventLoop();
          lastYield = now();
        }
      }
      if (epochSteps === 0) break;
      const ms = now() - e0;
      trainMs += ms;
      samples += epochSamples;
      const { loss, accuracy } = this.readSums(epochSamples);
      this.resetSums();
      const record: EpochRecord = { epoch, steps: epochSteps, loss, accuracy, learningRate: lr, samplesPerSec: (epochSamples * 1000) / ms, ms };
      if (this.o.validation) {
        const v = evaluate(this.model, this.o.validation, { batchSize: Math.max(this.batchSize, 256) });
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
    this.emit('end', Math.max(history.length - 1, 0), { learningRate: last?.learningRate ?? this.baseLr, loss: summary.finalLoss, accuracy: summary.trainAccuracy, samplesPerSec: summary.samplesPerSec }, t0);
    return summary;
  }

  /** One optimizer step on a batch, then the contributions' afterStep and the annotations. */
  private step(batch: Batch, ctx: StepContext): void {
    const trainable = this.trainableVariables();
    tf.tidy(() => {
      let value: tf.Tensor | undefined;
      let correct: tf.Tensor | undefined;
      let grads = new Map<string, tf.Tensor>();
      const add = (a: tf.Tensor | undefined, b: tf.Tensor) => (a ? tf.add(a, b) : b);
      const kept: tf.Tensor[] = [];
      for (const [k, chunk] of this.chunks(batch).entries()) {
        // A chunk's loss counts by its share of the batch, so the sums are the whole batch's loss and gradients.
        const r = this.chunkGradients(chunk, ctx, trainable, chunk.indices.length / batch.indices.length, k);
        [value, correct] = [add(value, r.value), add(correct, r.correct)];
        kept.push(r.correct);
        for (const [key, g] of r.grads) grads.set(key, add(grads.get(key), g));
      }
      for (const c of this.contributions) if (c.transformGradients) grads = c.transformGradients(grads, ctx);
      this.applyGradients(grads, ctx.learningRate);
      this.accumulate(value as tf.Tensor, correct as tf.Tensor, batch.indices.length);
      tf.dispose(kept);
    });
    for (const c of this.contributions) c.afterStep?.(ctx);
    this.afterAnnotationsChange(this.model.refreshAnnotations());
    this.model.applyAnnotations(this.annotated());
  }

  /** The batch itself, or its consecutive chunks of at most `microBatch` examples. */
  private chunks(batch: Batch): Batch[] {
    const size = this.o.microBatch;
    const n = batch.indices.length;
    if (size === undefined || size >= n) return [batch];
    const out: Batch[] = [];
    for (let start = 0; start < n; start += size) {
      const len = Math.min(size, n - start);
      out.push({ x: tf.slice(batch.x, start, len), y: tf.slice(batch.y, start, len), indices: batch.indices.subarray(start, start + len) });
    }
    return out;
  }

  /** Loss (times `share`), correct count and gradients of one chunk; chunk k > 0 draws its own dropout masks. */
  private chunkGradients(chunk: Batch, ctx: StepContext, trainable: Map<tf.Variable, string>, share: number, k: number): { value: tf.Tensor; correct: tf.Tensor; grads: Map<string, tf.Tensor> } {
    let correct: tf.Tensor | undefined;
    const f = (): tf.Scalar => {
      const seed = k === 0 ? mixSeed(this.seed, ctx.step) : mixSeed(mixSeed(this.seed, ctx.step), k);
      const r = this.model.predict(chunk.x, { training: true, taps: this.taps, seed });
      const ce = crossEntropy(r, chunk.y, this.classes);
      let loss: tf.Tensor = this.taskWeight === 1 ? ce : tf.mul(ce, this.taskWeight);
      const lctx: LossContext = { x: chunk.x, y: chunk.y, output: r.output, logits: r.logits, taps: r.taps, variables: ctx.variables, batchIndices: chunk.indices, step: ctx.step };
      for (const c of this.contributions) {
        if (!c.loss) continue;
        const extra = c.loss(lctx);
        if (extra.rank !== 0) throw new Error(`contribution '${c.name}': loss must be a scalar, got shape [${extra.shape.join(', ')}]`);
        loss = tf.add(loss, extra);
      }
      correct = tf.keep(correctCount(r.output, chunk.y)); // outlives the forward pass's tidy; step() disposes it
      return (share === 1 ? loss : tf.mul(loss, share)) as tf.Scalar;
    };
    const grads = new Map<string, tf.Tensor>();
    if (trainable.size === 0) return { value: f(), correct: correct as tf.Tensor, grads };
    const res = tf.variableGrads(f, [...trainable.keys()]);
    for (const [v, key] of trainable) {
      const g = res.grads[v.name];
      if (g) grads.set(key, g);
    }
    return { value: res.value, correct: correct as tf.Tensor, grads };
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
  private accumulate(loss: tf.Tensor, correct: tf.Tensor, n: number): void {
    const [oldLoss, oldCorrect] = [this.lossSum, this.correctSum];
    this.lossSum = tf.keep(oldLoss ? tf.add(oldLoss, tf.mul(loss, n)) : tf.mul(loss, n));
    this.correctSum = tf.keep(oldCorrect ? tf.add(oldCorrect, correct) : tf.clone(correct));
    oldLoss?.dispose();
    oldCorrect?.dispose();
  }

  private readSums(samples: number): { loss: number; accuracy: number } {
    if (!this.lossSum || !this.correctSum || samples === 0) return { loss: NaN, accuracy: NaN };
    return { loss: this.lossSum.dataSync()[0] / samples, accuracy: this.correctSum.dataSync()[0] / samples };
  }

  private resetSums(): void {
    this.lossSum?.dispose();
    this.correctSum?.dispose();
    this.lossSum = this.correctSum = undefined;
  }

  private emit(type: TrainEvent['type'], epoch: number, fields: Partial<TrainEvent> & { learningRate: number }, t0: number): void {
    this.o.onEvent?.({
      type, epoch, epochs: this.epochs, step: this.steps, stepsPerEpoch: this.stepsPerEpoch,
      totalSteps: this.epochs * this.stepsPerEpoch, elapsedMs: now() - t0, ...fields,
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

/** Let timers, I/O and abort() run between steps. */
function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  return new Promise((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)));
}
