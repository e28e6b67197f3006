import type { Graph } from '@condense/ir';

/**
 * The one runtime capability layer-wise stages need: compute some nodes of a graph, in inference
 * mode, from given values of their inputs, for one batch. What to compute when, what to keep and
 * what to free is `LayerPass`'s business (framework-neutral, in core); a runtime only executes.
 */

/** One batch of one value (a graph input or a node's output): row-major float32, batch axis first. */
export interface NodeValue {
  values: Float32Array;
  shape: readonly number[];
}

/** A call of `Runtime.forward`. Every value in it belongs to the same batch. */
export interface ForwardRequest {
  /** Known values: graph inputs, or outputs of nodes computed earlier. */
  feeds: ReadonlyMap<string, NodeValue>;
  /** Nodes to compute, in topological order; each reads feeds or nodes listed before it. */
  nodes: readonly string[];
  /** The values to return (computed nodes or feeds). */
  outputs: readonly string[];
}

/** `Runtime.forward`: the named outputs of one batch. */
export type Forward = (graph: Graph, request: ForwardRequest) => Promise<Map<string, NodeValue>>;
