/**
 * One forward pass over a calibration set, taken a layer at a time. Layer-wise stages (GPTQ,
 * SparseGPT, ThiNet, BN re-estimation) compress layer i on the inputs that the already-compressed
 * layers before it produce; running the whole network for every layer costs a forward pass per
 * layer. A `LayerPass` instead keeps the frontier: the values computed so far that a node not yet
 * computed still reads. `advance(node)` computes every node before `node` (once, on the params
 * as they are then, so layers compressed before the call count) and frees what nothing ahead
 * reads any more; `values(names)` streams values at or past the frontier, batch by batch, without
 * moving it. The whole calibration set's frontier stays in memory (float32, outside the runtime),
 * and nothing else does.
 */
import { sizeOf, topoSort, type Graph, type Node } from '@condense/ir';
import type { Split } from '../context.js';
import type { Batch } from '../data/batches.js';
import type { Forward, NodeValue } from './forward.js';

/** Examples to run through a graph: one value per graph input (in `graph.inputs` order), batch axis first. */
export interface ModelInputs {
  count: number;
  inputs: readonly NodeValue[];
}

export interface LayerPassOptions {
  /** Examples per runtime call (default 32): bounds the runtime's working memory, not the frontier's. */
  batchSize?: number;
  /**
   * The graph does not change while the pass lives (a reference model): what `values` computes
   * ahead of the frontier is kept like the frontier's own values (while a node not computed yet
   * reads it) instead of being computed again, and `advance` may name a node already computed.
   */
  frozen?: boolean;
  /**
   * Frozen passes: which values computed past the frontier to keep for a later look-ahead
   * (default: all). Say which ones can be asked for (e.g. the inputs of conv layers) and the
   * rest are freed as in a pass that is not frozen.
   */
  retain?: (value: string) => boolean;
}

/** What a pass has cost so far. */
export interface PassUsage {
  /** Bytes of frontier values held now (all batches). */
  bytes: number;
  /** The most the frontier held. */
  peakBytes: number;
  /** Time spent in the runtime's forward calls, ms. */
  forwardMs: number;
  /** Nodes computed by `advance` (each once). */
  computed: number;
}

export const DEFAULT_PASS_BATCH = 32;

/**
 * The first `limit` examples of a split as model inputs (views, no copy). `split.shape` is
 * `[count, ...example]` or the example's shape alone.
 */
export function splitInputs(split: Split, limit = split.count): ModelInputs {
  const count = Math.min(limit, split.count);
  const example = sizeOf(split.shape) === split.images.length && split.shape[0] === split.count ? split.shape.slice(1) : split.shape;
  const size = sizeOf(example);
  return { count, inputs: [{ values: split.images.subarray(0, count * size), shape: [count, ...example] }] };
}

/** A batch (e.g. `ctx.examples(...)`) as model inputs: float32 inputs as views, int32/bool ones as float32 copies. */
export function batchInputs(batch: Batch): ModelInputs {
  const inputs = batch.inputs.map((x) => ({ values: x.values instanceof Float32Array ? x.values : Float32Array.from(x.values), shape: x.shape }));
  return { count: batch.count, inputs };
}

/** The batches of a set of examples: views into the caller's arrays, no copy. */
function splitBatches(graph: Graph, examples: ModelInputs, batchSize: number, who: string): Map<string, NodeValue>[] {
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`${who}: batchSize must be a positive integer, got ${batchSize}`);
  if (examples.inputs.length !== graph.inputs.length)
    throw new Error(`${who}: graph '${graph.name}' takes ${graph.inputs.length} input(s), the examples have ${examples.inputs.length}`);
  if (!(Number.isInteger(examples.count) && examples.count >= 1)) throw new Error(`${who}: needs at least one example, got ${examples.count}`);
  const per = examples.inputs.map((x, i) => {
    const name = graph.inputs[i];
    if (x.shape[0] !== examples.count || x.values.length !== sizeOf(x.shape)) {
      throw new Error(`${who}: input '${name}' has ${x.values.length} values of shape [${x.shape.join(', ')}], expected ${examples.count} examples`);
    }
    return { name, rest: x.shape.slice(1), size: sizeOf(x.shape.slice(1)), values: x.values };
  });
  const out: Map<string, NodeValue>[] = [];
  for (let start = 0; start < examples.count; start += batchSize) {
    const n = Math.min(batchSize, examples.count - start);
    out.push(new Map(per.map((x) => [x.name, { values: x.values.subarray(start * x.size, (start + n) * x.size), shape: [n, ...x.rest] }])));
  }
  return out;
}

export class LayerPass {
  private readonly frontier: Map<string, NodeValue>[];
  private readonly done = new Set<string>();
  private readonly usage: PassUsage = { bytes: 0, peakBytes: 0, forwardMs: 0, computed: 0 };
  private disposed = false;
  private readonly frozen: boolean;
  private readonly retain: (value: string) => boolean;
  /** The node `advance` last moved to (the furthest). */
  private cut?: string;
  private readonly who: string;
  /** Examples in the pass. */
  readonly count: number;

  constructor(
    private readonly forward: Forward,
    readonly graph: Graph,
    examples: ModelInputs,
    options: LayerPassOptions = {},
  ) {
    this.who = `layer pass over '${graph.name}'`;
    this.frontier = splitBatches(graph, examples, options.batchSize ?? DEFAULT_PASS_BATCH, this.who);
    this.count = examples.count;
    this.frozen = options.frozen ?? false;
    this.retain = options.retain ?? (() => true);
    for (const name of graph.inputs) this.done.add(name);
    for (const batch of this.frontier) for (const v of batch.values()) this.usage.bytes += v.values.byteLength;
    this.usage.peakBytes = this.usage.bytes;
  }

  get batches(): number {
    return this.frontier.length;
  }

  stats(): PassUsage {
    return { ...this.usage };
  }

  /** Whether `advance` has computed `node`. */
  computed(node: string): boolean {
    return this.done.has(node);
  }

  /**
   * Compute every node before `node` in topological order that is not computed yet, on the graph
   * as it is now, and free the values no node from the frontier on reads. Moves forward only.
   */
  async advance(node: string): Promise<void> {
    this.checkAlive();
    const order = topoSort(this.graph);
    const at = order.findIndex((n) => n.name === node);
    if (at < 0) throw new Error(`${this.who}: no node '${node}'`);
    if (this.done.has(node) && !this.frozen)
      throw new Error(`${this.who}: node '${node}' is behind the frontier (the pass only moves forward; open a new pass)`);
    if (this.cut === undefined || at > order.findIndex((n) => n.name === this.cut)) this.cut = node;
    const todo = order.slice(0, at).filter((n) => !this.done.has(n.name));
    if (todo.length === 0) {
      this.commit([], order);
      return;
    }
    for (const n of todo) this.done.add(n.name);
    const keep = this.liveValues(order);
    const names = todo.map((n) => n.name);
    const outputs = names.filter((n) => keep.has(n));
    const feeds = this.feedsOf(todo);
    for (const [b, batch] of this.frontier.entries()) {
      const out = outputs.length ? await this.run(batch, feeds, names, outputs, b) : new Map<string, NodeValue>();
      for (const [name, v] of out) this.hold(batch, name, v);
      for (const name of [...batch.keys()]) if (!keep.has(name)) this.release(batch, name);
    }
    this.usage.computed += todo.length;
  }

  /**
   * The values of `names` for each batch in turn, computed on the graph as it is now from the
   * frontier (values past it are computed for this call and dropped). Yielded arrays may be the
   * frontier's own: read them, do not change them.
   */
  async *values(names: readonly string[]): AsyncGenerator<Map<string, NodeValue>> {
    this.checkAlive();
    const order = topoSort(this.graph);
    const byName = new Map(order.map((n) => [n.name, n]));
    for (const name of names) if (!byName.has(name)) throw new Error(`${this.who}: no value '${name}'`);
    const todo = this.ancestorsToCompute(names, order, byName);
    const nodes = todo.map((n) => n.name);
    const feeds = this.feedsOf(todo);
    for (const name of names) if (this.done.has(name) && !this.frontier[0].has(name)) throw this.freed(name);
    // Frozen: also bring back what stays live once these nodes count as computed.
    const kept = this.frozen && nodes.length ? this.liveValues(order, nodes) : new Set<string>();
    const outputs = [...new Set([...names.filter((n) => !this.done.has(n)), ...nodes.filter((n) => kept.has(n))])];
    for (const [b, batch] of this.frontier.entries()) {
      const computed = nodes.length ? await this.run(batch, feeds, nodes, outputs, b) : undefined;
      for (const n of kept) if (computed?.has(n)) this.hold(batch, n, computed.get(n) as NodeValue);
      yield new Map(names.map((n) => [n, (batch.get(n) ?? computed?.get(n)) as NodeValue]));
    }
    // Only once every batch has them: a caller that stops early leaves the frontier as it was.
    if (this.frozen && nodes.length) this.commit(todo, order);
  }

  /** Count `nodes` as computed and free what nothing ahead reads any more. */
  private commit(nodes: Node[], order: Node[]): void {
    for (const n of nodes) this.done.add(n.name);
    const keep = this.liveValues(order);
    for (const batch of this.frontier) for (const name of [...batch.keys()]) if (!keep.has(name)) this.release(batch, name);
    this.usage.computed += nodes.length;
  }

  /** Free the frontier. */
  dispose(): void {
    for (const batch of this.frontier) batch.clear();
    this.usage.bytes = 0;
    this.disposed = true;
  }

  /**
   * Values to keep: computed (or about to be: `also`), and read by a node that is not, or a graph
   * output; in a frozen pass also those at or after the cut that `retain` keeps (a later look-ahead
   * may ask for what an earlier one computed, until `advance` moves past it).
   */
  private liveValues(order: Node[], also: readonly string[] = []): Set<string> {
    const extra = new Set(also);
    const done = (n: string) => this.done.has(n) || extra.has(n);
    const keep = new Set<string>(this.graph.outputs.filter(done));
    const cutAt = this.frozen && this.cut !== undefined ? order.findIndex((n) => n.name === this.cut) : Infinity;
    for (const [i, n] of order.entries()) {
      if (done(n.name)) {
        if (i >= cutAt && this.retain(n.name)) keep.add(n.name);
        continue;
      }
      for (const v of n.inputs) if (done(v)) keep.add(v);
    }
    return keep;
  }

  /** The nodes not computed yet that `names` depend on (themselves included), in topological order. */
  private ancestorsToCompute(names: readonly string[], order: Node[], byName: Map<string, Node>): Node[] {
    const need = new Set<string>();
    const stack = names.filter((n) => !this.done.has(n));
    while (stack.length) {
      const name = stack.pop() as string;
      if (need.has(name)) continue;
      need.add(name);
      for (const i of (byName.get(name) as Node).inputs) if (!this.done.has(i)) stack.push(i);
    }
    return order.filter((n) => need.has(n.name));
  }

  /** The frontier values that `nodes` read from outside themselves; throws if one was freed. */
  private feedsOf(nodes: Node[]): string[] {
    const inside = new Set(nodes.map((n) => n.name));
    const feeds = new Set<string>();
    for (const n of nodes) {
      for (const i of n.inputs) {
        if (inside.has(i)) continue;
        if (!this.frontier[0].has(i)) throw this.freed(i, n.name);
        feeds.add(i);
      }
    }
    return [...feeds];
  }

  private freed(name: string, reader?: string): Error {
    const by = reader ? ` (read by '${reader}')` : '';
    return new Error(
      `${this.who}: value '${name}'${by} was computed and freed; nothing ahead of the frontier read it when the pass moved past it (open a new pass)`,
    );
  }

  private async run(batch: Map<string, NodeValue>, feeds: string[], nodes: string[], outputs: string[], b: number): Promise<Map<string, NodeValue>> {
    const t0 = performance.now();
    const out = await this.forward(this.graph, { feeds: new Map(feeds.map((f) => [f, batch.get(f) as NodeValue])), nodes, outputs });
    this.usage.forwardMs += performance.now() - t0;
    for (const o of outputs) if (!out.has(o)) throw new Error(`${this.who}: the runtime returned no value for '${o}' (batch ${b})`);
    return out;
  }

  private hold(batch: Map<string, NodeValue>, name: string, v: NodeValue): void {
    this.release(batch, name);
    batch.set(name, v);
    this.usage.bytes += v.values.byteLength;
    this.usage.peakBytes = Math.max(this.usage.peakBytes, this.usage.bytes);
  }

  private release(batch: Map<string, NodeValue>, name: string): void {
    const v = batch.get(name);
    if (!v) return;
    this.usage.bytes -= v.values.byteLength;
    batch.delete(name);
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error(`${this.who}: the pass was disposed`);
  }
}
