import * as tf from '@tensorflow/tfjs-core';

/**
 * `sgd`: SGD with momentum 0.9 (the papers' setting). `adam`: Adam with Keras defaults.
 * SGD momentum follows tf.train.momentum: m = momentum * m + g; w -= lr * m
 * (Nesterov: w -= lr * (g + momentum * m)).
 */
export type OptimizerConfig =
  | 'sgd'
  | 'adam'
  | { type: 'sgd'; momentum?: number; nesterov?: boolean }
  | { type: 'adam'; beta1?: number; beta2?: number; epsilon?: number };

/**
 * Updates variables from gradients, with state per slot key (a param, a codebook's centroids,
 * a contribution's variable). Written over tensors so that the caller controls masking and
 * codebooks exactly; tf.train optimizers key their state by variable and would not.
 */
export interface Optimizer {
  readonly type: 'sgd' | 'adam';
  /**
   * One update of `v` by `g` at learning rate `lr`. `decay` > 0 applies decoupled weight decay
   * (v -= lr * decay * v, as AdamW). Call inside a tf.tidy; the optimizer keeps its state.
   */
  step(key: string, v: tf.Variable, g: tf.Tensor, lr: number, decay?: number): void;
  /** Multiply a slot's state by a 0/1 mask (after a mask change), so pruned positions hold no momentum. */
  maskState(key: string, mask: tf.Tensor): void;
  /** Forget a slot's state (after its shape or meaning changed). */
  reset(key: string): void;
  dispose(): void;
}

interface SlotState {
  t: number;
  m?: tf.Tensor;
  v?: tf.Tensor;
}

export function createOptimizer(config: OptimizerConfig = 'adam'): Optimizer {
  const c = typeof config === 'string' ? { type: config } : config;
  if (c.type === 'sgd') {
    const momentum = 'momentum' in c && c.momentum !== undefined ? c.momentum : 0.9;
    const nesterov = 'nesterov' in c ? Boolean(c.nesterov) : false;
    return new StatefulOptimizer('sgd', (s, g, lr) => {
      if (momentum === 0) return tf.mul(g, lr);
      s.m = s.m ? tf.add(tf.mul(s.m, momentum), g) : tf.clone(g);
      return tf.mul(nesterov ? tf.add(g, tf.mul(s.m, momentum)) : s.m, lr);
    });
  }
  if (c.type === 'adam') {
    const a = c as { beta1?: number; beta2?: number; epsilon?: number };
    const [b1, b2, eps] = [a.beta1 ?? 0.9, a.beta2 ?? 0.999, a.epsilon ?? 1e-7];
    return new StatefulOptimizer('adam', (s, g, lr) => {
      s.m = s.m ? tf.add(tf.mul(s.m, b1), tf.mul(g, 1 - b1)) : tf.mul(g, 1 - b1);
      // g * g, not tf.square: the same values, and wasm's Square is ~4x slower than Multiply.
      const g2 = tf.mul(g, g);
      s.v = s.v ? tf.add(tf.mul(s.v, b2), tf.mul(g2, 1 - b2)) : tf.mul(g2, 1 - b2);
      // tf.train.adam's lr * mHat / (sqrt(vHat) + eps), with the bias corrections folded into
      // two scalars: elementwise ops dominate the step on WASM, so each one saved counts.
      const c2 = Math.sqrt(1 - b2 ** s.t);
      return tf.div(tf.mul(s.m, (lr * c2) / (1 - b1 ** s.t)), tf.add(tf.sqrt(s.v), eps * c2));
    });
  }
  throw new Error(`optimizer: unknown type '${String((c as { type: unknown }).type)}' (use 'sgd' or 'adam')`);
}

/** An optimizer given by its update rule: (state, gradient, lr) -> the delta to subtract. */
class StatefulOptimizer implements Optimizer {
  private state = new Map<string, SlotState>();

  constructor(
    readonly type: 'sgd' | 'adam',
    private readonly rule: (s: SlotState, g: tf.Tensor, lr: number) => tf.Tensor,
  ) {}

  step(key: string, v: tf.Variable, g: tf.Tensor, lr: number, decay = 0): void {
    let s = this.state.get(key);
    if (s?.m && !sameShape(s.m.shape, v.shape)) {
      this.reset(key);
      s = undefined;
    }
    if (!s) {
      s = { t: 0 };
      this.state.set(key, s);
    }
    const old = { m: s.m, v: s.v };
    s.t++;
    const delta = this.rule(s, g, lr);
    const decayed = decay > 0 ? tf.sub(v, tf.mul(v, lr * decay)) : v;
    v.assign(tf.sub(decayed, delta));
    this.commit(s, old);
  }

  /** Keep the new state tensors past the caller's tidy and free the previous ones. */
  private commit(s: SlotState, old: { m?: tf.Tensor; v?: tf.Tensor }): void {
    if (s.m && s.m !== old.m) {
      tf.keep(s.m);
      old.m?.dispose();
    }
    if (s.v && s.v !== old.v) {
      tf.keep(s.v);
      old.v?.dispose();
    }
  }

  maskState(key: string, mask: tf.Tensor): void {
    const s = this.state.get(key);
    if (!s) return;
    const old = { m: s.m, v: s.v };
    tf.tidy(() => {
      if (s.m && sameShape(s.m.shape, mask.shape)) s.m = tf.mul(s.m, mask);
      if (s.v && sameShape(s.v.shape, mask.shape)) s.v = tf.mul(s.v, mask);
      this.commit(s, old);
    });
  }

  reset(key: string): void {
    const s = this.state.get(key);
    s?.m?.dispose();
    s?.v?.dispose();
    this.state.delete(key);
  }

  dispose(): void {
    for (const key of [...this.state.keys()]) this.reset(key);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
