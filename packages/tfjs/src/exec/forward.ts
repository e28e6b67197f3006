/**
 * `Runtime.forward` on TF.js: compute some nodes of a graph in inference mode from given values
 * of their inputs, one batch. The params are bound fresh from `Param.data` on every call (the
 * values the model computes with, every annotation applied), so a layer a stage has just
 * rewritten computes as it is now; a call's tensors are freed before it returns.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ForwardRequest, NodeValue } from '@condense/core';
import type { Graph, Node } from '@condense/ir';
import { getKernel, type KernelContext } from './kernels.js';
import './builtin.js';

function inference(graph: Graph, node: Node): KernelContext {
  return {
    training: false,
    inputGrad: false,
    seed: 1,
    graph,
    assign: () => {
      throw new Error(`node '${node.name}': forward runs in inference mode; state params are not updated`);
    },
  };
}

/** The outputs of one node from its inputs, params bound from the graph. Errors name the node. */
function runNode(graph: Graph, node: Node, inputs: tf.Tensor[], param: (name: string) => tf.Tensor): tf.Tensor {
  const params: Record<string, tf.Tensor> = {};
  for (const [role, name] of Object.entries(node.params)) params[role] = param(name);
  try {
    return getKernel(node.op, node.name).fn(node, inputs, params, inference(graph, node));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg.startsWith(`node '${node.name}'`)) throw e;
    throw new Error(`node '${node.name}' (${node.op}): ${msg}`, { cause: e });
  }
}

/** Compute `request.nodes` (in order) from `request.feeds` and read back `request.outputs` as float32. */
export async function forwardNodes(graph: Graph, request: ForwardRequest): Promise<Map<string, NodeValue>> {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const outs = tf.tidy(() => {
    const values = new Map<string, tf.Tensor>();
    for (const [name, v] of request.feeds) values.set(name, tf.tensor(v.values, [...v.shape], 'float32'));
    const bound = new Map<string, tf.Tensor>();
    const param = (name: string): tf.Tensor => {
      let t = bound.get(name);
      if (!t) {
        const p = graph.params.get(name);
        if (!p) throw new Error(`forward: param '${name}' is not in graph '${graph.name}'`);
        bound.set(name, (t = tf.tensor(p.data, p.shape, 'float32')));
      }
      return t;
    };
    for (const name of request.nodes) {
      const node = byName.get(name);
      if (!node) throw new Error(`forward: no node '${name}' in graph '${graph.name}'`);
      const inputs = node.inputs.map((i) => {
        const v = values.get(i);
        if (!v) throw new Error(`forward: node '${name}' reads '${i}', which is neither fed nor computed before it`);
        return v;
      });
      values.set(name, runNode(graph, node, inputs, param));
    }
    return request.outputs.map((o) => {
      const v = values.get(o);
      if (!v) throw new Error(`forward: '${o}' is neither fed nor computed`);
      // A fed value is the caller's data: hand back a tensor this call owns.
      return request.feeds.has(o) ? tf.clone(v) : v;
    });
  });
  try {
    const result = new Map<string, NodeValue>();
    for (const [i, t] of outs.entries()) {
      // The backend's own copy of a disposed tensor: no one else holds it.
      const data = await t.data();
      result.set(request.outputs[i], { values: data instanceof Float32Array ? data : Float32Array.from(data), shape: t.shape });
    }
    return result;
  } finally {
    tf.dispose(outs);
  }
}
