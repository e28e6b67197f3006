/**
 * Opaque nodes in the differentiable executor (`compile`): each runs as a one-node TF.js graph
 * model (its NodeDef reading placeholders), so TF.js computes it as it would in the whole model.
 * Nodes that only make sense inside TF.js's own graph executor are refused with a reason: control
 * flow (loops, conditionals, tensor arrays and lists), nodes run asynchronously (NMS, Where), and
 * reading or feeding an output other than the first (the IR passes one tensor per node).
 */
import type { Graph, Node } from '@condense/ir';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModelSync, type GraphModel } from '@tensorflow/tfjs-converter';
import { registerKernel } from '../exec/kernels.js';
import { graphModelMeta } from './import.js';
import { tfAttrs } from './mapping.js';
import { parseRef } from './parse.js';
import type { NodeDef } from './types.js';

const CONTROL_FLOW = /^(Enter|Exit|Merge|Switch|NextIteration|LoopCond|While|StatelessWhile|If|StatelessIf|TensorArray\w*|TensorList\w*)$/;

/** Why compile() cannot run this opaque node, if it cannot. */
function unrunnable(node: Node, t: NodeDef, graph: Graph): string | undefined {
  if (CONTROL_FLOW.test(t.op)) return "it is control flow, which only TF.js's graph executor runs";
  if (t.op === 'Placeholder') return 'it is an input without a batch dimension, which compile() cannot feed';
  const port = (t.input ?? []).map(parseRef).find((r) => !r.control && r.port !== 0);
  if (port) return `it reads output ${port.port} of '${port.node}'`;
  const reader = graph.nodes.find(
    (n) =>
      n.op === 'tfOp' &&
      (tfAttrs(n).node?.input ?? []).some((i) => {
        const r = parseRef(i);
        return r.node === node.name && r.port !== 0;
      }),
  );
  if (reader) return `'${reader.name}' reads one of its other outputs`;
  return undefined;
}

/** The one-node graph model of an opaque node: placeholders for its data inputs, its library functions. */
function singleNodeModel(t: NodeDef, graph: Graph): GraphModel<tf.io.IOHandlerSync> {
  const data = (t.input ?? []).filter((i) => !i.startsWith('^'));
  const placeholders: NodeDef[] = data.map((_, k) => ({ name: `__condense_input_${k}`, op: 'Placeholder', attr: {} }));
  const own: NodeDef = { ...t, input: placeholders.map((p) => p.name) };
  const topology = graphModelMeta(graph)?.topology ?? {};
  const modelTopology = { node: [...placeholders, own], versions: topology.versions ?? {}, ...(topology.library ? { library: topology.library } : {}) };
  return loadGraphModelSync(tf.io.fromMemorySync({ modelTopology, weightSpecs: [], weightData: new ArrayBuffer(0), format: 'graph-model' }));
}

const models = new WeakMap<Node, GraphModel<tf.io.IOHandlerSync>>();

registerKernel('tfOp', (node, inputs, _params, ctx) => {
  const t = tfAttrs(node).node;
  if (!t) throw new Error('an opaque node without its NodeDef (attrs.tf.node)');
  const why = unrunnable(node, t, ctx.graph);
  if (why) throw new Error(`compile() cannot run this ${t.op} node: ${why}; run the graph with toGraphModel`);
  let model = models.get(node);
  if (!model) {
    model = singleNodeModel(t, ctx.graph);
    models.set(node, model);
  }
  const feeds: tf.NamedTensorMap = {};
  // IR inputs follow the NodeDef's inputs, control ones included: feed the data ones in order.
  const map = tfAttrs(node).inputMap ?? [];
  let k = 0;
  (t.input ?? []).forEach((text, j) => {
    if (!text.startsWith('^')) feeds[`__condense_input_${k++}`] = inputs[map[j]];
  });
  try {
    return model.execute(feeds, t.name) as tf.Tensor;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new Error(/executeAsync/.test(msg) ? `compile() cannot run this ${t.op} node: TF.js runs it asynchronously; run the graph with toGraphModel` : msg);
  }
});
