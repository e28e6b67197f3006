/**
 * The training side: what runs inside a fine-tune. Factors (SSS scales, batchNorm gammas) are
 * taken away from the main optimizer and moved by APG; L1 and group-lasso weights take the
 * optimizer's step and then a proximal step. Finalisation runs at the end of the fine-tune.
 */
import * as tf from '@tensorflow/tfjs-core';
import { countNonzero, setMask, type Graph, type Param } from '@condense/ir';
import type { StepContext, TrainingContribution } from '@condense/tfjs';
import { finalize, type FinalizeReport } from './finalize.js';
import { apgStep, groupShrink, softThreshold } from './prox.js';

/** A vector of factors moved by APG. `tied`: one value shared by every entry (a block factor). */
export interface Factor {
  param: string;
  tied: boolean;
  /** This factor's L1 penalty, when it differs from the contribution's `gamma`. */
  gamma?: number;
}

export interface ApgContributionOptions {
  name: string;
  factors: Factor[];
  gamma: number;
  /** APG step size; default: the fine-tune's learning rate at each step. */
  learningRate?: number;
  momentum: number;
  nonNegative: boolean;
  /** Fold and remove at the end of the fine-tune. */
  finalize: boolean;
  onFinalize?: (report: FinalizeReport) => void;
}

/**
 * SSS / Network Slimming: the factors' gradients are captured and removed before the optimizer
 * step (so the optimizer never moves them, and no weight decay applies), then each factor takes
 * one APG step in afterStep.
 */
export function apgContribution(o: ApgContributionOptions): TrainingContribution {
  const grads = new Map<string, tf.Tensor>();
  const momenta = new Map<string, tf.Tensor>();
  const names = new Set(o.factors.map((f) => f.param));
  const dropGrads = () => {
    for (const g of grads.values()) g.dispose();
    grads.clear();
  };
  return {
    name: o.name,
    begin(ctx) {
      for (const f of o.factors)
        if (!ctx.variables.has(f.param))
          throw new Error(`${o.name}: param '${f.param}' is not in the model being trained (was the graph changed after the stage?)`);
    },
    transformGradients(all) {
      dropGrads();
      const rest = new Map<string, tf.Tensor>();
      for (const [name, g] of all) {
        if (names.has(name)) grads.set(name, tf.keep(g));
        else rest.set(name, g);
      }
      return rest;
    },
    afterStep(ctx) {
      const lr = o.learningRate ?? ctx.learningRate;
      for (const f of o.factors) {
        const g = grads.get(f.param);
        const v = ctx.variables.get(f.param);
        if (!g || !v) continue;
        const old = momenta.get(f.param);
        const next = tf.tidy(() => {
          const n = v.shape[0] as number;
          // A tied factor is one scalar: its gradient is the sum over the entries it multiplies.
          const s = f.tied ? tf.slice(v, [0], [1]) : v;
          const grad = f.tied ? tf.reshape(tf.sum(g), [1]) : g;
          const r = apgStep(s, grad, old ?? tf.zerosLike(s), { learningRate: lr, gamma: f.gamma ?? o.gamma, momentum: o.momentum, nonNegative: o.nonNegative });
          v.assign(f.tied ? tf.tile(r.s, [n]) : r.s);
          return tf.keep(r.v);
        });
        old?.dispose();
        momenta.set(f.param, next);
      }
      dropGrads();
    },
    end(ctx) {
      dropGrads();
      for (const m of momenta.values()) m.dispose();
      momenta.clear();
      if (o.finalize) finalizeModel(ctx, o.onFinalize);
    },
  };
}

/** Sync the trained values, finalise the graph, re-plan the compiled model on the smaller graph. */
export function finalizeModel(ctx: StepContext, onFinalize?: (r: FinalizeReport) => void): FinalizeReport {
  ctx.model.syncToGraph();
  const report = finalize(ctx.graph);
  ctx.model.syncFromGraph();
  onFinalize?.(report);
  return report;
}

export interface L1ContributionOptions {
  name: string;
  params: string[];
  lambda: number;
  /** Turn the zeros reached into masks at the end. */
  mask: boolean;
  onEnd?: (stats: { params: number; zeros: number }) => void;
}

/** Proximal L1: after every optimizer step, w = softThreshold(w, lr * lambda); exact zeros become masks at the end. */
export function l1Contribution(o: L1ContributionOptions): TrainingContribution {
  return {
    name: o.name,
    begin(ctx) {
      for (const p of o.params) if (!ctx.variables.has(p)) throw new Error(`${o.name}: param '${p}' is not in the model being trained`);
    },
    afterStep(ctx) {
      const t = ctx.learningRate * o.lambda;
      for (const p of o.params) {
        const v = ctx.variables.get(p);
        if (v?.trainable) tf.tidy(() => v.assign(softThreshold(v, t)));
      }
    },
    end(ctx) {
      let [params, zeros] = [0, 0];
      for (const p of o.params) {
        // The live map: another contribution's end may have finalised (re-planned) the model.
        const v = ctx.model.variables.get(p);
        const param = ctx.graph.params.get(p);
        if (!v || !param) continue;
        const data = v.dataSync() as Float32Array;
        params += data.length;
        zeros += data.length - countNonzero(data);
        if (o.mask) maskZeros(param, data);
      }
      o.onEnd?.({ params, zeros });
    },
  };
}

/** Masks keep the zeros: an existing mask only loses entries. */
function maskZeros(p: Param, data: Float32Array): void {
  const mask = Uint8Array.from(data, (x, i) => (x !== 0 && (p.mask ? p.mask[i] : 1) ? 1 : 0));
  setMask(p, mask);
}

/** One group-lasso layer: its kernel (groups along the last axis) and the bias that belongs to the same groups. */
export interface GroupLayer {
  kernel: string;
  bias?: string;
}

export interface GroupLassoContributionOptions {
  name: string;
  layers: GroupLayer[];
  lambda: number;
  finalize: boolean;
  onFinalize?: (report: FinalizeReport) => void;
}

/** Proximal group lasso: after every optimizer step each filter / neuron shrinks in L2 norm by lr * lambda * sqrt(size). */
export function groupLassoContribution(o: GroupLassoContributionOptions): TrainingContribution {
  return {
    name: o.name,
    begin(ctx) {
      for (const l of o.layers) if (!ctx.variables.has(l.kernel)) throw new Error(`${o.name}: param '${l.kernel}' is not in the model being trained`);
    },
    afterStep(ctx) {
      const t = ctx.learningRate * o.lambda;
      for (const l of o.layers) {
        const k = ctx.variables.get(l.kernel);
        const bias = l.bias ? ctx.variables.get(l.bias) : undefined;
        const b = bias?.trainable ? bias : undefined;
        if (!k?.trainable) continue;
        tf.tidy(() => {
          const r = groupShrink(k, b ? [b] : [], t);
          k.assign(r.kernel);
          if (b) b.assign(r.extra[0]);
        });
      }
    },
    end(ctx) {
      if (o.finalize) finalizeModel(ctx, o.onFinalize);
    },
  };
}

/** Graph-side helper for tests and reports: entries of the factors that are exactly zero. */
export function zeroFactors(graph: Graph, factors: Factor[]): { zero: number; total: number } {
  let [zero, total] = [0, 0];
  for (const f of factors) {
    const d = (graph.params.get(f.param) as Param).data;
    const n = f.tied ? 1 : d.length;
    total += n;
    zero += f.tied ? (d[0] === 0 ? 1 : 0) : d.length - countNonzero(d);
  }
  return { zero, total };
}
