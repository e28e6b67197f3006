import * as tf from '@tensorflow/tfjs-core';
import { enforceAnnotations, getOp, inferShapes, setFloat16, setQuant, topoSort, type Graph, type Node, type Param, type ParamSpec } from '@condense/ir';
import { getKernel, type KernelContext, type KernelEntry } from './kernels.js';
import './builtin.js';
import './gradients.js';

export interface CompileOptions {
  /** Base seed of dropout masks; each training-mode call derives its own. Default 1. */
  seed?: number;
}

export interface PredictOptions {
  /** Training mode: dropout active, batchNorm on batch statistics (and updating its moving ones). */
  training?: boolean;
  /** Names of nodes whose outputs to return in `taps`. */
  taps?: string[];
  /** Dropout seed of this call. Default: the model seed mixed with a call counter. */
  seed?: number;
  /** In training mode, write batchNorm's moving statistics. Default true. */
  updateStats?: boolean;
}

export interface PredictResult {
  /** The value of the first graph output. */
  output: tf.Tensor;
  /** Every graph output, in `graph.outputs` order. */
  outputs: tf.Tensor[];
  /** The pre-softmax value when the first output ends in a softmax (fused or an activation node); `outputLogits[0]`. */
  logits?: tf.Tensor;
  /** Per output, in `graph.outputs` order: its pre-softmax value when it ends in a softmax, else undefined. */
  outputLogits: (tf.Tensor | undefined)[];
  taps: Record<string, tf.Tensor>;
}

/** A param bound to its variable and the tensor form of its annotations. */
export interface BoundParam {
  readonly name: string;
  /** The graph's Param object (re-read on refresh). */
  param: Param;
  variable: tf.Variable;
  /** Role kind from the op definition; weight decay applies to 'weight' by default. */
  kind: ParamSpec['kind'];
  /** A kernel state (batchNorm moving stats): never moved by the optimizer. */
  isState: boolean;
  /** Moved by the optimizer: not frozen and not state. */
  trainable: boolean;
  /** 1/0 float32 mask of the param's shape. */
  mask?: tf.Tensor;
  /** Codebook in tensor form: `variable = reshape(gather(centroids, indices)) * mask`. */
  codebook?: { centroids: tf.Variable; indices: tf.Tensor1D };
}

export interface CompiledModel {
  readonly graph: Graph;
  /** One variable per param used by a node (param name -> variable). Frozen/state params are not trainable. */
  readonly variables: Map<string, tf.Variable>;
  /** Variables with their annotation tensors (masks, codebooks). */
  readonly bound: Map<string, BoundParam>;
  /** Per-example shapes of the graph inputs, of the first output and of every output. */
  readonly inputShapes: number[][];
  readonly outputShape: number[];
  readonly outputShapes: number[][];
  /** Run the graph. Returned tensors are the caller's to dispose; intermediates are freed. */
  predict(x: tf.Tensor | tf.Tensor[], opts?: PredictOptions): PredictResult;
  /** Write variables into Param.data (and codebook centroids), re-imposing every annotation. */
  syncToGraph(): void;
  /** Reload every variable from Param.data, re-plan the graph (after surgery), rebuild annotations. */
  syncFromGraph(): void;
  /**
   * Pick up annotation changes on the graph's params (new or edited mask, codebook, frozen flag)
   * and re-impose them on the variables. Edits are detected by identity and content of the mask
   * and of the codebook indices; `force` names params to rebuild regardless (e.g. after editing
   * centroids in place). Returns the names of the params that changed.
   */
  refreshAnnotations(force?: string[]): string[];
  /** Re-impose masks and codebooks on the variables (tensor ops). Default: every annotated param. */
  applyAnnotations(names?: Iterable<string>): void;
  dispose(): void;
}

interface PlanStep {
  node: Node;
  kernel: KernelEntry;
  index: number;
  /** The output node with its fused softmax removed, when logits are wanted. */
  logitsNode?: Node;
}

interface Snapshot {
  mask?: Uint8Array;
  maskCopy?: Uint8Array;
  codebook?: Param['codebook'];
  centroids?: Float32Array;
  indicesCopy?: Uint16Array;
}

/**
 * Node outputs during one predict, each freed right after its last consumer ran (unless it is an
 * output, a tap or the logits' source), so memory follows the live activations, not the sum of
 * all of them: MobileNetV2 holds ~8.5 MB of activations per image in all. A tensor held under
 * several names (a kernel returning its input) is freed when the last of them dies. Under
 * tf.variableGrads this changes nothing the tape needs: gradients read only what kernels
 * saved, and tfjs frees the forward pass's intermediates before backprop anyway.
 */
class LiveValues {
  private readonly values = new Map<string, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();
  private readonly lastUse = new Map<string, number>();

  constructor(
    plan: PlanStep[],
    private readonly keep: string[],
  ) {
    for (const step of plan) for (const i of step.node.inputs) this.lastUse.set(i, step.index);
  }

  get(name: string): tf.Tensor | undefined {
    return this.values.get(name);
  }

  set(name: string, t: tf.Tensor): void {
    this.values.set(name, t);
    this.holders.set(t, (this.holders.get(t) ?? 0) + 1);
  }

  /** After `step` ran: drop the inputs it used last; never the graph inputs or variables. */
  release(step: PlanStep, graphInputs: tf.Tensor[]): void {
    for (const name of new Set(step.node.inputs)) {
      if (this.lastUse.get(name) !== step.index || this.keep.includes(name)) continue;
      const t = this.values.get(name) as tf.Tensor;
      this.values.delete(name);
      const left = (this.holders.get(t) as number) - 1;
      if (left > 0) this.holders.set(t, left);
      else {
        this.holders.delete(t);
        if (!graphInputs.includes(t) && !(t instanceof tf.Variable)) t.dispose();
      }
    }
  }
}

let modelCount = 0;

/** Compile an IR graph into a differentiable function over tf.Variables (one per param). */
export function compile(graph: Graph, options: CompileOptions = {}): CompiledModel {
  return new Executor(graph, options.seed ?? 1);
}

class Executor implements CompiledModel {
  readonly variables = new Map<string, tf.Variable>();
  readonly bound = new Map<string, BoundParam>();
  inputShapes: number[][] = [];
  outputShape: number[] = [];
  outputShapes: number[][] = [];
  private plan: PlanStep[] = [];
  private snapshots = new Map<string, Snapshot>();
  private readonly prefix = `condense${++modelCount}`;
  private calls = 0;
  private disposed = false;

  constructor(
    readonly graph: Graph,
    private readonly seed: number,
  ) {
    this.syncFromGraph();
  }

  predict(x: tf.Tensor | tf.Tensor[], opts: PredictOptions = {}): PredictResult {
    this.checkAlive();
    const xs = Array.isArray(x) ? x : [x];
    this.checkInputs(xs);
    const training = opts.training ?? false;
    const base = opts.seed ?? (training ? mix(this.seed, ++this.calls) : this.seed);
    const wanted = opts.taps ?? [];
    for (const t of wanted) if (!this.plan.some((s) => s.node.name === t)) throw new Error(`tap '${t}': no node of that name in graph '${this.graph.name}'`);
    return tf.tidy(() => {
      // An output that is an unfused softmax: its input is the output's logits.
      const softmaxInputs = new Map<string, string>();
      for (const out of this.graph.outputs) {
        // An identity naming the output (a graph model's Identity) is looked through.
        let outNode = this.plan.find((s) => s.node.name === out)?.node;
        while (outNode?.op === 'identity') outNode = this.plan.find((s) => s.node.name === outNode!.inputs[0])?.node;
        if (outNode?.op === 'activation' && outNode.attrs.fn === 'softmax') softmaxInputs.set(out, outNode.inputs[0]);
      }
      const values = new LiveValues(this.plan, [...this.graph.outputs, ...wanted, ...softmaxInputs.values()]);
      this.graph.inputs.forEach((name, i) => values.set(name, xs[i]));
      const updates: { bound: BoundParam; value: tf.Tensor }[] = [];
      const logitsOf = new Map<string, tf.Tensor>();
      const trains = new Set<string>(); // values that depend on a trainable param
      for (const step of this.plan) {
        if (step.node.op === 'input') continue;
        const inputs = step.node.inputs.map((i) => values.get(i) as tf.Tensor);
        const inputGrad = training && step.node.inputs.some((i) => trains.has(i));
        if (inputGrad || Object.values(step.node.params).some((p) => this.bound.get(p)?.trainable)) trains.add(step.node.name);
        const ctx = this.context(step, base, training, inputGrad, updates);
        if (step.logitsNode) {
          const z = this.run(step, step.logitsNode, inputs, ctx);
          logitsOf.set(step.node.name, z);
          values.set(step.node.name, tf.softmax(z));
        } else {
          values.set(step.node.name, this.run(step, step.node, inputs, ctx));
        }
        values.release(step, xs);
      }
      for (const [out, z] of softmaxInputs) if (!logitsOf.has(out)) logitsOf.set(out, values.get(z) as tf.Tensor);
      if (training && (opts.updateStats ?? true)) for (const u of updates) if (!u.bound.param.frozen) u.bound.variable.assign(u.value);
      // Returned tensors are the caller's to dispose: never hand out an input or a variable itself.
      const own = (t: tf.Tensor) => (xs.includes(t) || t instanceof tf.Variable ? tf.clone(t) : t);
      const outputs = this.graph.outputs.map((o) => own(values.get(o) as tf.Tensor));
      const outputLogits = this.graph.outputs.map((o) => {
        const z = logitsOf.get(o);
        return z ? own(z) : undefined;
      });
      const taps: Record<string, tf.Tensor> = {};
      for (const t of wanted) taps[t] = own(values.get(t) as tf.Tensor);
      const logits = outputLogits[0];
      return { output: outputs[0], outputs, ...(logits ? { logits } : {}), outputLogits, taps };
    });
  }

  private context(step: PlanStep, base: number, training: boolean, inputGrad: boolean, updates: { bound: BoundParam; value: tf.Tensor }[]): KernelContext {
    const { node, kernel } = step;
    return {
      training,
      inputGrad,
      seed: mix(base, step.index),
      graph: this.graph,
      assign: (role, value) => {
        if (!kernel.stateRoles?.includes(role)) throw new Error(`node '${node.name}': role '${role}' of op '${node.op}' is not a state role`);
        const name = node.params[role];
        if (name !== undefined) updates.push({ bound: this.bound.get(name) as BoundParam, value });
      },
    };
  }

  private run(step: PlanStep, node: Node, inputs: tf.Tensor[], ctx: KernelContext): tf.Tensor {
    const params: Record<string, tf.Tensor> = {};
    for (const [role, name] of Object.entries(node.params)) params[role] = this.variables.get(name) as tf.Variable;
    try {
      return step.kernel.fn(node, inputs, params, ctx);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (msg.startsWith(`node '${node.name}'`)) throw e;
      throw new Error(`node '${node.name}' (${node.op}): ${msg}`, { cause: e });
    }
  }

  private checkInputs(xs: tf.Tensor[]): void {
    if (xs.length !== this.graph.inputs.length) throw new Error(`graph '${this.graph.name}' takes ${this.graph.inputs.length} input(s), got ${xs.length}`);
    xs.forEach((x, i) => {
      const want = this.inputShapes[i];
      const got = x.shape.slice(1);
      // A size known only at run time (null) takes any size.
      if (got.length !== want.length || got.some((d, j) => want[j] !== null && d !== want[j])) {
        throw new Error(`input '${this.graph.inputs[i]}': expected shape [batch, ${want.join(', ')}], got [${x.shape.join(', ')}]`);
      }
    });
  }

  syncToGraph(): void {
    this.checkAlive();
    this.refreshAnnotations();
    this.applyAnnotations();
    for (const b of this.bound.values()) {
      const p = b.param;
      p.data.set(b.variable.dataSync() as Float32Array);
      if (p.codebook && b.codebook) p.codebook.centroids.set(b.codebook.centroids.dataSync() as Float32Array);
      enforceAnnotations(p);
      // Straight-through quantization: the variable trained in float; snap to the grid now.
      const snapped = (p.quant && !p.codebook) || p.float16;
      if (p.quant && !p.codebook) setQuant(p, p.quant);
      if (p.float16) setFloat16(p);
      if (snapped) tf.tidy(() => b.variable.assign(tf.tensor(p.data, p.shape)));
    }
  }

  syncFromGraph(): void {
    this.checkAlive();
    const shapes = inferShapes(this.graph);
    this.plan = this.makePlan();
    this.inputShapes = this.graph.inputs.map((i) => (shapes.get(i) as number[]).slice(1));
    this.outputShapes = this.graph.outputs.map((o) => (shapes.get(o) as number[]).slice(1));
    this.outputShape = this.outputShapes[0];
    const used = this.usedParams();
    for (const [name, b] of this.bound) if (!used.has(name)) this.unbind(b);
    for (const [name, use] of used) this.bind(name, use.kind, use.isState);
    this.refreshAnnotations([...this.bound.keys()]);
  }

  private makePlan(): PlanStep[] {
    const outputs = new Set(this.graph.outputs);
    return topoSort(this.graph).map((node, index) => {
      const kernel = getKernel(node.op, node.name);
      const step: PlanStep = { node, kernel, index };
      if (outputs.has(node.name) && node.attrs.activation === 'softmax') step.logitsNode = { ...node, attrs: { ...node.attrs, activation: 'linear' } };
      return step;
    });
  }

  /** Params used by nodes, with their role kind and whether some kernel treats them as state. */
  private usedParams(): Map<string, { kind: ParamSpec['kind']; isState: boolean }> {
    const used = new Map<string, { kind: ParamSpec['kind']; isState: boolean }>();
    for (const { node, kernel } of this.plan) {
      for (const [role, name] of Object.entries(node.params)) {
        const kind = getOp(node.op, node.name).params?.[role]?.kind ?? 'other';
        const isState = kernel.stateRoles?.includes(role) ?? false;
        const prev = used.get(name);
        used.set(name, { kind: prev?.kind === 'weight' ? 'weight' : kind, isState: (prev?.isState ?? false) || isState });
      }
    }
    return used;
  }

  /** Create (or reload) the variable of a param from Param.data. */
  private bind(name: string, kind: ParamSpec['kind'], isState: boolean): void {
    const p = this.graph.params.get(name) as Param;
    const old = this.bound.get(name);
    if (old && sameShape(old.variable.shape, p.shape)) {
      tf.tidy(() => old.variable.assign(tf.tensor(p.data, p.shape)));
      Object.assign(old, { param: p, kind, isState, trainable: !isState && !p.frozen });
      return;
    }
    if (old) this.unbind(old);
    const trainable = !isState && !p.frozen;
    const variable = tf.tidy(() => tf.variable(tf.tensor(p.data, p.shape), trainable, `${this.prefix}/${name}`));
    this.bound.set(name, { name, param: p, variable, kind, isState, trainable });
    this.variables.set(name, variable);
  }

  private unbind(b: BoundParam): void {
    b.variable.dispose();
    this.disposeAnnotations(b);
    this.bound.delete(b.name);
    this.variables.delete(b.name);
    this.snapshots.delete(b.name);
  }

  private disposeAnnotations(b: BoundParam): void {
    b.mask?.dispose();
    b.codebook?.centroids.dispose();
    b.codebook?.indices.dispose();
    b.mask = undefined;
    b.codebook = undefined;
  }

  refreshAnnotations(force: string[] = []): string[] {
    this.checkAlive();
    const changed: string[] = [];
    for (const b of this.bound.values()) {
      const p = this.graph.params.get(b.name);
      if (!p) throw new Error(`param '${b.name}' was removed from graph '${this.graph.name}'; call syncFromGraph()`);
      const replaced = p !== b.param;
      if (replaced) {
        // A new Param object (surgery, import): reload its values; a new shape needs a re-plan.
        if (!sameShape(b.variable.shape, p.shape)) throw new Error(`param '${b.name}' changed shape; call syncFromGraph()`);
        this.bind(b.name, b.kind, b.isState);
      }
      b.trainable = !b.isState && !p.frozen;
      b.variable.trainable = b.trainable;
      const s = this.snapshots.get(b.name) ?? {};
      const maskChanged = p.mask !== s.mask || (p.mask !== undefined && !sameBytes(p.mask, s.maskCopy as Uint8Array));
      const cb = p.codebook;
      const cbChanged = cb !== s.codebook || (cb !== undefined && (cb.centroids !== s.centroids || !sameBytes(cb.indices, s.indicesCopy as Uint16Array)));
      if (!maskChanged && !cbChanged && !replaced && !force.includes(b.name)) continue;
      this.rebuildAnnotations(b, p);
      changed.push(b.name);
    }
    if (changed.length) this.applyAnnotations(changed);
    return changed;
  }

  private rebuildAnnotations(b: BoundParam, p: Param): void {
    this.disposeAnnotations(b);
    b.param = p;
    if (p.mask) {
      if (p.mask.length !== p.data.length) throw new Error(`param '${p.name}': mask has ${p.mask.length} entries, param has ${p.data.length}`);
      b.mask = tf.tensor(Float32Array.from(p.mask), p.shape);
    }
    const cb = p.codebook;
    if (cb) {
      if (cb.indices.length !== p.data.length) throw new Error(`param '${p.name}': codebook has ${cb.indices.length} indices, param has ${p.data.length}`);
      b.codebook = {
        centroids: tf.tidy(() => tf.variable(tf.tensor1d(cb.centroids), false, `${this.prefix}/${p.name}#centroids`)),
        indices: tf.tensor1d(Int32Array.from(cb.indices), 'int32'),
      };
    }
    this.snapshots.set(b.name, {
      mask: p.mask,
      maskCopy: p.mask?.slice(),
      codebook: cb,
      centroids: cb?.centroids,
      indicesCopy: cb?.indices.slice(),
    });
  }

  applyAnnotations(names?: Iterable<string>): void {
    this.checkAlive();
    const list = names ? [...names].map((n) => this.bound.get(n) as BoundParam) : [...this.bound.values()];
    tf.tidy(() => {
      for (const b of list) {
        if (b.codebook) {
          const w = tf.reshape(tf.gather(b.codebook.centroids, b.codebook.indices), b.param.shape);
          b.variable.assign(b.mask ? tf.mul(w, b.mask) : w);
        } else if (b.mask) {
          b.variable.assign(tf.mul(b.variable, b.mask));
        }
      }
    });
  }

  dispose(): void {
    if (this.disposed) return;
    for (const b of [...this.bound.values()]) this.unbind(b);
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error(`compiled model of graph '${this.graph.name}' was disposed`);
  }
}

/** A 32-bit hash of two integers, for per-call and per-node seeds. */
function mix(a: number, b: number): number {
  let h = Math.imul((a >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((b >>> 0) + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Byte equality of two typed arrays (native memcmp through Buffer when available). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const B = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (B) return B.from(a.buffer, a.byteOffset, a.byteLength).equals(B.from(b.buffer, b.byteOffset, b.byteLength));
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
