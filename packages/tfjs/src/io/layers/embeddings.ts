/**
 * tfjs-layers' Embedding (int ids -> rows), and its padding mask: with mask_zero the recurrent
 * layers after it skip id 0. In the IR the mask is a notEqual(ids, 0) node the recurrent layers
 * read; Keras 3 files have that node (an op node NotEqual), older ones get it from the Embedding.
 * Export writes mask_zero and drops the node: TF.js computes the mask from the Embedding again.
 */
import type { Node } from '@condense/ir';
import { brief } from '../errors.js';
import type { ToKerasContext } from '../mapping.js';
import { expectDims, int, layer, need } from './config.js';
import type { LayerFamily } from './family.js';

/** The mask_zero Embedding whose padding mask a notEqual node is (it reads the same ids and tests for 0). */
function maskedEmbedding(mask: Node, ctx: Pick<ToKerasContext, 'consumers'>): Node | undefined {
  if (((mask.attrs.value as number | undefined) ?? 0) !== 0) return undefined;
  return ctx.consumers(mask.inputs[0]).find((n) => n.op === 'embedding' && n.attrs.maskZero === true);
}

export const embeddings: LayerFamily = {
  name: 'embeddings',
  mappings: {
    embedding: {
      kerasClass: 'Embedding',
      kerasWeightOrder: () => ['embeddings'],
      fromKeras(l, ctx) {
        const table = ctx.weight('embeddings');
        expectDims(table, [int(l.config.input_dim), int(l.config.output_dim)], ctx);
        const maskZero = l.config.mask_zero === true;
        if (maskZero && !ctx.explicitMasks) {
          const mask = `${l.name}/mask`;
          ctx.addNode({ name: mask, op: 'notEqual', inputs: ctx.inputs, attrs: { value: 0 } });
          ctx.setMask(mask);
        }
        ctx.addNode({ name: l.name, op: 'embedding', inputs: ctx.inputs, attrs: maskZero ? { maskZero } : {}, params: { embeddings: table } });
      },
      toKeras(node, ctx) {
        const table = need(ctx, 'embeddings');
        const config = { input_dim: table.shape[0], output_dim: table.shape[1], mask_zero: node.attrs.maskZero === true, input_length: null };
        return layer(ctx, 'Embedding', config, { embeddings: table });
      },
    },

    notEqual: {
      kerasClass: 'NotEqual',
      opNodes: true,
      fromKeras(l, ctx) {
        const [c] = ctx.constants;
        if (ctx.inputs.length !== 1 || ctx.constants.length !== 1)
          ctx.fail(`only NotEqual(x, number) is supported, got ${ctx.inputs.length} tensor(s) and ${ctx.constants.length} number(s)`);
        ctx.addNode({ name: l.name, op: 'notEqual', inputs: ctx.inputs, attrs: { value: c.value } });
      },
      toKeras(node, ctx) {
        if (!maskedEmbedding(node, ctx))
          ctx.fail(
            `a notEqual node is written only as the padding mask of an Embedding with mask_zero reading the same ids (value 0), got value ${brief(node.attrs.value ?? 0)}`,
          );
        return [];
      },
    },
  },
};
