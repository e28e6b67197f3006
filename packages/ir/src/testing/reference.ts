/**
 * A slow, exact pure-JS interpreter of the IR (inference mode, NHWC, TF semantics), computing in
 * float64. It is the oracle that graph rewrites are checked against: a rewrite that claims to
 * preserve function must give the same outputs here. Plugin ops join by defining `reference`
 * on their OpDef.
 */
import { GraphError } from '../errors.js';
import { inferShapes, nodeParam, sizeOf, topoSort } from '../graph.js';
import { referenceActivation, type ActivationFn } from '../ops/activations.js';
import '../ops/all.js';
import { MERGES, type MergeOp } from '../ops/merge.js';
import { GATES, type RecurrentOp } from '../ops/recurrent.js';
import { getOp, type OpContext, type RefTensor } from '../ops/registry.js';
import type { Graph, Node, Shape } from '../types.js';
import { conv1d, conv2d, conv2dTranspose, depthwiseConv2d } from './ref/conv.js';
import { fusedActivation, identity, paramData, required, type Kernel } from './ref/kernel.js';
import { merge } from './ref/merge.js';
import { batchNorm, layerNorm, normalization, rescaling } from './ref/normalization.js';
import { globalPool, pool1d, pool2d } from './ref/pooling.js';
import { embedding, notEqual, recurrent } from './ref/sequence.js';
import { concat, cropping, permute, repeatVector, upSampling2d, zeroPad2d } from './ref/shape.js';

const POOLS = ['max', 'avg'] as const;
const GLOBAL = { max: 'Max', avg: 'Avg' } as const;

const BUILTIN: Record<string, Kernel> = {
  dense,
  conv2d,
  conv1d,
  depthwiseConv2d,
  conv2dTranspose,
  batchNorm,
  layerNorm,
  normalization,
  rescaling,
  activation: (inputs, ctx, out) => referenceActivation(ctx.node.attrs.fn as ActivationFn, inputs[0].data.slice(), out[out.length - 1], ctx.node.attrs),
  ...Object.fromEntries(
    POOLS.flatMap((kind) => [
      [`${kind}Pool2d`, pool2d(kind)],
      [`${kind}Pool1d`, pool1d(kind)],
      [`global${GLOBAL[kind]}Pool2d`, globalPool(kind)],
      [`global${GLOBAL[kind]}Pool1d`, globalPool(kind)],
    ]),
  ),
  flatten: identity,
  reshape: identity,
  dropout: identity,
  add: merge('add'),
  ...Object.fromEntries((Object.keys(MERGES) as MergeOp[]).map((op) => [op, merge(op)])),
  concat,
  zeroPad2d,
  cropping2d: cropping,
  upSampling2d,
  repeatVector,
  permute,
  embedding,
  notEqual,
  ...Object.fromEntries((Object.keys(GATES) as RecurrentOp[]).map((op) => [op, recurrent(op)])),
};

/** Dense over the last axis of any rank. */
function dense(inputs: RefTensor[], ctx: OpContext, out: number[]): Float64Array {
  const [x] = inputs;
  const k = required(ctx, 'kernel');
  const inF = x.shape[x.shape.length - 1];
  const outF = out[out.length - 1];
  const bias = paramData(ctx, 'bias');
  const rows = x.data.length / inF;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inF; i++) {
      const v = x.data[r * inF + i];
      if (v === 0) continue;
      for (let o = 0; o < outF; o++) y[r * outF + o] += v * k[i * outF + o];
    }
    if (bias) for (let o = 0; o < outF; o++) y[r * outF + o] += bias[o];
  }
  return fusedActivation(ctx, y, out);
}

function runNode(graph: Graph, node: Node, values: Map<string, RefTensor>, shapes: Map<string, Shape>, batch: number): RefTensor {
  const inputs = node.inputs.map((i) => values.get(i) as RefTensor);
  const ctx: OpContext = { node, inputs: node.inputs.map((i) => shapes.get(i) as Shape), param: (role) => nodeParam(graph, node, role) };
  const out = (shapes.get(node.name) as Shape).map((d) => d ?? batch);
  const def = getOp(node.op, node.name);
  const builtin = BUILTIN[node.op];
  if (!def.reference && builtin) return { shape: out, data: builtin(inputs, ctx, out) };
  if (!def.reference) throw new GraphError(`reference: op '${node.op}' has no reference implementation (define OpDef.reference)`, node.name);
  const t = def.reference(inputs, ctx);
  if (t.data.length !== sizeOf(out))
    throw new GraphError(`reference: op '${node.op}' returned ${t.data.length} values, shape [${out.join(', ')}] needs ${sizeOf(out)}`, node.name);
  return t;
}

/**
 * Every value of the graph for a batch of inputs (one Float32Array per graph input, row-major,
 * batch first), computed in float64.
 */
export function referenceValues(graph: Graph, inputs: Float32Array | Float32Array[], batch: number): Map<string, RefTensor> {
  const feeds = Array.isArray(inputs) ? inputs : [inputs];
  if (feeds.length !== graph.inputs.length) throw new GraphError(`reference: graph '${graph.name}' has ${graph.inputs.length} inputs, got ${feeds.length}`);
  const shapes = inferShapes(graph);
  const values = new Map<string, RefTensor>();
  graph.inputs.forEach((name, i) => {
    const shape = (shapes.get(name) as Shape).map((d) => d ?? batch);
    if (feeds[i].length !== sizeOf(shape))
      throw new GraphError(`reference: input has ${feeds[i].length} values, shape [${shape.join(', ')}] needs ${sizeOf(shape)}`, name);
    values.set(name, { shape, data: Float64Array.from(feeds[i]) });
  });
  for (const node of topoSort(graph)) {
    if (node.op === 'input') continue;
    values.set(node.name, runNode(graph, node, values, shapes, batch));
  }
  return values;
}

/**
 * Part of a forward pass: the values of `nodes` (in topological order, each reading `feeds` or a
 * node before it in the list) for one batch of `batch` examples, computed in float64. The oracle
 * a runtime's layer-by-layer forward is checked against.
 */
export function referenceForward(
  graph: Graph,
  feeds: ReadonlyMap<string, { data: ArrayLike<number>; shape: readonly number[] }>,
  nodes: readonly string[],
  batch: number,
): Map<string, RefTensor> {
  const shapes = inferShapes(graph);
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const values = new Map<string, RefTensor>();
  for (const [name, v] of feeds) values.set(name, { shape: [...v.shape], data: Float64Array.from(v.data) });
  for (const name of nodes) {
    const node = byName.get(name);
    if (!node) throw new GraphError(`reference: no node '${name}'`);
    const missing = node.inputs.find((i) => !values.has(i));
    if (missing !== undefined) throw new GraphError(`reference: input '${missing}' is neither fed nor computed before`, name);
    values.set(name, runNode(graph, node, values, shapes, batch));
  }
  return values;
}

/** The first graph output for a batch of inputs (see `referenceValues`), as float32. */
export function runReference(graph: Graph, input: Float32Array | Float32Array[], batch: number): Float32Array {
  return Float32Array.from((referenceValues(graph, input, batch).get(graph.outputs[0]) as RefTensor).data);
}
