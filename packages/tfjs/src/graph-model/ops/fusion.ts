/**
 * A fused conv / depthwise / matmul with a Prelu imports as two IR nodes: the producer (named
 * `<node>/prelu_input`, `attrs.tf.partOf` naming the TF node) and a prelu named like the TF
 * node, which keeps its NodeDef. Export writes them back as the one fused node while the pair is
 * intact: the producer read by the prelu alone, without an activation of its own.
 */
import type { Node } from '@condense/ir';
import { tfAttrs, type ExportContext } from '../mapping.js';

export const preluInputName = (node: string): string => `${node}/prelu_input`;

/** The prelu node a producer is written into, when the pair is intact. */
export function fusedInto(producer: Node, ctx: ExportContext): Node | undefined {
  const owner = tfAttrs(producer).partOf;
  if (owner === undefined) return undefined;
  const readers = ctx.readers(producer.name);
  const prelu = readers[0];
  const linear = producer.attrs.activation === undefined || producer.attrs.activation === 'linear';
  if (readers.length !== 1 || prelu.name !== owner || prelu.op !== 'prelu' || !linear || ctx.graph.outputs.includes(producer.name)) return undefined;
  return prelu;
}

/** The producer written into this prelu, when the pair is intact. */
export function fusedProducer(prelu: Node, ctx: ExportContext): Node | undefined {
  const producer = ctx.graph.nodes.find((n) => n.name === prelu.inputs[0]);
  return producer && fusedInto(producer, ctx) === prelu ? producer : undefined;
}
