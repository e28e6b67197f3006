/** What `condense inspect` shows of a graph-model node: the TF op behind an opaque node, unknown shapes, constant bytes. */
import type { Graph, Node } from '@condense/ir';
import type { ValueWeight } from '../io/weights.js';
import { tfAttrs } from './mapping.js';

export interface GraphNodeInfo {
  /** The IR op, or for an opaque node the TensorFlow op TF.js runs. */
  op: string;
  opaque: boolean;
  /** False for an opaque node whose shape could not be inferred (its IR shape reads `[]`). */
  shapeKnown: boolean;
  /** Bytes of the non-float constants the node stores (int32 shapes and axes, bool, string), as the weights file holds them. */
  valueBytes: number;
  /** Their dtypes. */
  valueDtypes: string[];
}

const BYTES: Record<ValueWeight['dtype'], number> = { int32: 4, bool: 1, string: 0 };

function valueBytes(w: Omit<ValueWeight, 'name'>): number {
  if (w.dtype === 'string')
    return (w.values as string[]).reduce((a, b64) => a + 4 + Math.floor((b64.length * 3) / 4) - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0), 0);
  return w.values.length * BYTES[w.dtype];
}

export function graphNodeInfo(node: Node): GraphNodeInfo {
  const tf = tfAttrs(node);
  const opaque = node.op === 'tfOp';
  const values = [
    ...(node.op === 'constant' && node.attrs.values !== undefined ? [node.attrs as unknown as ValueWeight] : []),
    ...Object.values(tf.consts ?? {}),
  ];
  return {
    op: opaque ? (tf.node?.op ?? 'tfOp') : node.op,
    opaque,
    shapeKnown: !opaque || !!tf.outputShape,
    valueBytes: values.reduce((a, w) => a + valueBytes(w), 0),
    valueDtypes: [...new Set(values.map((w) => w.dtype))],
  };
}

/** The TF ops of the graph's opaque nodes with how many nodes run each, most frequent first. */
export function opaqueOpCounts(graph: Graph): [string, number][] {
  const counts = new Map<string, number>();
  for (const n of graph.nodes) if (n.op === 'tfOp') counts.set(graphNodeInfo(n).op, (counts.get(graphNodeInfo(n).op) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
