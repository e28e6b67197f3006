import { selectLayers, type LayerSelection } from '@condense/core';
import { getOp, weightParams, type Graph, type Node, type Param } from '@condense/ir';

export interface PrunableLayer {
  node: Node;
  param: Param;
}

export const DEFAULT_OPS = ['dense', 'conv2d', 'depthwiseConv2d'];

/**
 * Layers whose weight param may be pruned: the kernels of `ops` (dense/conv by default, never
 * biases or batchNorm), narrowed by include / exclude with @condense/core's selector rule.
 */
export function prunableLayers(graph: Graph, o: { ops?: string[] } & LayerSelection = {}, who = 'prune.magnitude'): PrunableLayer[] {
  const ops = o.ops ?? DEFAULT_OPS;
  for (const op of ops) getOp(op);
  const layers = weightParams(graph)
    .filter(({ node }) => ops.includes(node.op))
    .map(({ node, param }) => ({ node, param }));
  return selectLayers(layers, o, who);
}
