/**
 * Graph rewrites: a dense / conv2d node becomes a kronDense / kronConv2d node whose factors are
 * the nearest Kronecker sum of its kernel, and back (materialize) for loaders without the runtime.
 */
import { cost, getNode, paramUses, type Graph, type Node, type Param } from '@condense/ir';
import type { TopSvdOptions } from './linalg.js';
import { checkFactorShapes, kronSum, nkp, sizeOf } from './nkp.js';
import { chooseShapes, maxRank, paramsPerTerm, rankForRatio, type FactorShapes } from './shapes.js';
import './ops/index.js';

export class KroneckerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KroneckerError';
  }
}

/** What the factorization of one layer did. */
export interface LayerReport {
  layer: string;
  op: 'dense' | 'conv2d';
  kernel: number[];
  a: number[];
  b: number[];
  rank: number;
  /** The largest rank these factor shapes allow (exact at that rank). */
  maxRank: number;
  kernelParams: number;
  factorParams: number;
  /** kernelParams / factorParams. */
  ratio: number;
  /** MACs per example of the layer before and after (as the kernels run). */
  macsBefore: number;
  macsAfter: number;
  /** ||W - sum A_k (x) B_k||_F / ||W||_F, measured. */
  relativeError: number;
  /** The same predicted by the singular values left out: sqrt(sum_{k > r} s_k^2 / ||W||^2). */
  tailRelativeError: number;
  singularValues: number[];
  method: 'jacobi' | 'subspace';
  iterations: number;
  ms: number;
}

export interface LayerPlanOptions {
  rank?: number;
  /** Target kernel / factor ratio; the rank is the largest that reaches it. */
  ratio?: number;
  shapes?: FactorShapes;
  /** Shape choice: candidates within this fraction of the fewest values per term compete on balance. */
  tolerance?: number;
}

export interface LayerPlan {
  shapes: FactorShapes;
  rank: number;
}

const FACTORABLE = ['dense', 'conv2d'];

/** The kernel of a dense / conv2d node, checked for what a factorization would lose. */
export function kernelOf(graph: Graph, node: Node): Param {
  const where = `layer '${node.name}'`;
  if (!FACTORABLE.includes(node.op)) throw new KroneckerError(`${where}: op '${node.op}' cannot be factorized (only ${FACTORABLE.join(', ')})`);
  const k = graph.params.get(node.params.kernel ?? '');
  if (!k) throw new KroneckerError(`${where}: has no kernel param`);
  const annotations = (['mask', 'codebook', 'quant', 'float16'] as const).filter((a) => k[a] !== undefined && k[a] !== false);
  if (annotations.length)
    throw new KroneckerError(
      `${where}: kernel '${k.name}' carries ${annotations.join(', ')}, which a factorization would drop; factorize before pruning or quantizing`,
    );
  if (paramUses(graph).filter((u) => u.param === k).length > 1) throw new KroneckerError(`${where}: kernel '${k.name}' is shared with another layer`);
  if (node.op === 'conv2d') {
    const d = node.attrs.dilation;
    if (d !== undefined && (Array.isArray(d) ? d.some((x) => x !== 1) : d !== 1))
      throw new KroneckerError(`${where}: dilated convolutions cannot be factorized (dilation ${JSON.stringify(d)})`);
  }
  return k;
}

/** Factor shapes and rank of a layer from explicit shapes, a rank or a target ratio. */
export function planLayer(graph: Graph, layer: string, o: LayerPlanOptions): LayerPlan {
  const node = getNode(graph, layer);
  const kernel = kernelOf(graph, node);
  const where = `layer '${layer}'`;
  let shapes: FactorShapes;
  try {
    if (o.shapes) {
      checkFactorShapes(kernel.shape, o.shapes.a, o.shapes.b);
      shapes = { a: [...o.shapes.a], b: [...o.shapes.b] };
    } else {
      shapes = chooseShapes(kernel.shape, { tolerance: o.tolerance, minRank: o.rank });
    }
  } catch (e) {
    throw new KroneckerError(`${where}: ${(e as Error).message}`);
  }
  const limit = maxRank(shapes);
  let rank: number;
  if (o.rank !== undefined) {
    rank = o.rank;
  } else if (o.ratio !== undefined) {
    rank = rankForRatio(sizeOf(kernel.shape), shapes, o.ratio);
    if (rank < 1) {
      const best = sizeOf(kernel.shape) / paramsPerTerm(shapes);
      throw new KroneckerError(
        `${where}: ratio ${o.ratio} is out of reach; one term of [${shapes.a.join(', ')}] (x) [${shapes.b.join(', ')}] already gives ${best.toFixed(1)}x`,
      );
    }
  } else {
    throw new KroneckerError(`${where}: give a rank or a ratio`);
  }
  if (!(Number.isInteger(rank) && rank >= 1 && rank <= limit)) {
    throw new KroneckerError(
      `${where}: rank must be an integer in [1, ${limit}] for factors [${shapes.a.join(', ')}] (x) [${shapes.b.join(', ')}], got ${rank}`,
    );
  }
  return { shapes, rank };
}

function freshParamName(graph: Graph, base: string): string {
  if (!graph.params.has(base)) return base;
  let k = 1;
  while (graph.params.has(`${base}_${k}`)) k++;
  return `${base}_${k}`;
}

const layerMacs = (graph: Graph, layer: string): number => cost(graph).layers.find((l) => l.node === layer)?.macs ?? 0;

/**
 * Replace a dense / conv2d node by its nearest Kronecker sum (in place): the node becomes
 * kronDense / kronConv2d with params `a` [r, ...A] and `b` [r, ...B]; bias, activation, strides and
 * padding carry over, and the old kernel is removed.
 */
export function factorizeLayer(graph: Graph, layer: string, plan: LayerPlan, svd: TopSvdOptions = {}): LayerReport {
  const t0 = performance.now();
  const node = getNode(graph, layer);
  const kernel = kernelOf(graph, node);
  checkFactorShapes(kernel.shape, plan.shapes.a, plan.shapes.b);
  const macsBefore = layerMacs(graph, layer);
  const op = node.op as 'dense' | 'conv2d';
  const r = nkp(kernel.data, plan.shapes.a, plan.shapes.b, plan.rank, svd);
  const a: Param = { name: freshParamName(graph, `${layer}/kron_a`), shape: [plan.rank, ...plan.shapes.a], data: r.a };
  const b: Param = { name: freshParamName(graph, `${layer}/kron_b`), shape: [plan.rank, ...plan.shapes.b], data: r.b };
  if (kernel.frozen) a.frozen = b.frozen = true;
  const { kernel: _old, ...rest } = node.params;
  graph.params.delete(kernel.name);
  graph.params.set(a.name, a);
  graph.params.set(b.name, b);
  node.op = op === 'dense' ? 'kronDense' : 'kronConv2d';
  node.params = { a: a.name, b: b.name, ...rest };
  const factorParams = a.data.length + b.data.length;
  return {
    layer,
    op,
    kernel: [...kernel.shape],
    a: [...plan.shapes.a],
    b: [...plan.shapes.b],
    rank: plan.rank,
    maxRank: maxRank(plan.shapes),
    kernelParams: kernel.data.length,
    factorParams,
    ratio: kernel.data.length / factorParams,
    macsBefore,
    macsAfter: layerMacs(graph, layer),
    relativeError: r.relativeError,
    tailRelativeError: r.tailRelativeError,
    singularValues: r.singularValues,
    method: r.method,
    iterations: r.iterations,
    ms: performance.now() - t0,
  };
}

/** The kernel a kronDense / kronConv2d node computes with: sum_k a[k] (x) b[k]. */
export function materializedKernel(graph: Graph, node: Node): { shape: number[]; data: Float32Array } {
  const a = graph.params.get(node.params.a ?? '');
  const b = graph.params.get(node.params.b ?? '');
  if (!a || !b) throw new KroneckerError(`layer '${node.name}': missing factor params`);
  const [rank, ...sa] = a.shape;
  const [, ...sb] = b.shape;
  return { shape: sa.map((d, t) => d * sb[t]), data: kronSum(a.data, b.data, sa, sb, rank) };
}

const KRON_OPS: Record<string, 'dense' | 'conv2d'> = { kronDense: 'dense', kronConv2d: 'conv2d' };

/** Turn one kronDense / kronConv2d node back into a plain dense / conv2d with the materialized kernel (in place). */
export function materializeLayer(graph: Graph, layer: string): void {
  const node = getNode(graph, layer);
  const op = KRON_OPS[node.op];
  if (!op) throw new KroneckerError(`layer '${layer}': op '${node.op}' is not a Kronecker layer`);
  const { shape, data } = materializedKernel(graph, node);
  const kernel: Param = { name: freshParamName(graph, `${layer}/kernel`), shape, data };
  const { a, b, ...rest } = node.params;
  if (graph.params.get(a)?.frozen && graph.params.get(b)?.frozen) kernel.frozen = true;
  graph.params.delete(a);
  graph.params.delete(b);
  graph.params.set(kernel.name, kernel);
  node.op = op;
  node.params = { kernel: kernel.name, ...rest };
}

/** Materialize every Kronecker layer (or the named ones); returns the layers changed. */
export function materialize(graph: Graph, layers?: string[]): string[] {
  const names = layers ?? graph.nodes.filter((n) => KRON_OPS[n.op]).map((n) => n.name);
  for (const l of names) materializeLayer(graph, l);
  return names;
}
