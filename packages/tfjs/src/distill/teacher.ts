import * as tf from '@tensorflow/tfjs-core';
import { cloneGraph, type Graph } from '@condense/ir';
import { compile, type CompiledModel } from '../exec/index.js';

/** What one teacher forward pass yields: its pre-softmax scores, every output and the requested taps. */
export interface TeacherOutputs {
  /** The first output's logits (its pre-softmax value when it ends in a softmax, else the output). */
  logits: tf.Tensor;
  /** Per output, in `graph.outputs` order: the pre-softmax value when it ends in a softmax, else the output. */
  outputs: tf.Tensor[];
  taps: Record<string, tf.Tensor>;
}

/**
 * A frozen teacher shared by every distillation contribution that names the same graph, so that
 * KD + hint + NST in one fine-tune run the teacher once per step. It is compiled from a frozen
 * copy when the first user begins and disposed when the last one ends.
 */
export class Teacher {
  private model?: CompiledModel;
  private users = 0;
  private readonly tapNames = new Set<string>();
  /** The last batch run (by tensor identity) and its outputs, reused within one step. */
  private last?: { x: tf.Tensor[]; out: TeacherOutputs };
  /** Forward passes run so far (shared passes count once). */
  passes = 0;
  /** Changes whenever the compiled weights may differ: a logit cache keyed on it stays valid. */
  version = '';

  constructor(readonly graph: Graph) {}

  /** Ask for a tap in every later run; throws naming the teacher when there is no such node. */
  addTap(name: string, what: string): void {
    if (!this.graph.nodes.some((n) => n.name === name)) {
      throw new Error(`${what}: '${name}' is not a node of the teacher '${this.graph.name}' (nodes: ${this.graph.nodes.map((n) => n.name).join(', ')})`);
    }
    this.tapNames.add(name);
  }

  acquire(): CompiledModel {
    if (!this.model) {
      const frozen = cloneGraph(this.graph);
      for (const p of frozen.params.values()) p.frozen = true;
      this.model = compile(frozen);
      this.version = fingerprint(this.graph);
    }
    this.users++;
    return this.model;
  }

  release(): void {
    if (this.users === 0) return;
    if (--this.users === 0) {
      this.model?.dispose();
      this.model = undefined;
      this.last = undefined;
    }
  }

  /** Teacher outputs for a batch (one input tensor, or one per model input) in inference mode; a second call with the same tensors reuses the first. */
  run(x: tf.Tensor | tf.Tensor[]): TeacherOutputs {
    if (!this.model) throw new Error(`teacher '${this.graph.name}' is not active: run() outside begin()/end()`);
    const xs = Array.isArray(x) ? x : [x];
    const last = this.last;
    if (last && last.x.length === xs.length && last.x.every((t, i) => t === xs[i]) && !last.out.logits.isDisposed) return last.out;
    const r = this.model.predict(xs, { training: false, taps: [...this.tapNames] });
    this.passes++;
    // Nothing may flow back into the teacher, whatever the trainer differentiates.
    const outputs = r.outputs.map((o, k) => {
      const z = r.outputLogits[k];
      if (z) o.dispose();
      return detach(z ?? o);
    });
    if (r.logits && r.logits !== r.outputLogits[0]) r.logits.dispose();
    const taps: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(r.taps)) taps[k] = detach(v);
    this.last = { x: xs, out: { logits: outputs[0], outputs, taps } };
    return this.last.out;
  }
}

/** Cut the gradient path: identity forward, zero gradient backward. */
const detach = (t: tf.Tensor): tf.Tensor => {
  const identity = (a: tf.Tensor) => ({ value: tf.clone(a), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) });
  const out = tf.customGrad(identity as unknown as Parameters<typeof tf.customGrad>[0])(t);
  t.dispose();
  return out;
};

const shared = new WeakMap<Graph, Teacher>();

/** The shared teacher of a graph. */
export function teacherFor(graph: Graph): Teacher {
  let t = shared.get(graph);
  if (!t) shared.set(graph, (t = new Teacher(graph)));
  return t;
}

/** A cheap hash of every param's values: cached teacher outputs are dropped when the teacher changes. */
export function fingerprint(graph: Graph): string {
  let h = 0x811c9dc5;
  for (const [name, p] of [...graph.params].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    const bits = new Uint32Array(p.data.buffer, p.data.byteOffset, p.data.length);
    for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i], 0x01000193);
  }
  return (h >>> 0).toString(16);
}
