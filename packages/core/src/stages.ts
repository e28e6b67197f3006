import { Type } from '@sinclair/typebox';
import { finetuneSchema } from './layer-options.js';
import { definePlugin } from './plugin.js';

/** Fine-tune with every active training contribution (masks, codebooks and frozen params honoured). */
export const finetune = definePlugin({
  name: 'finetune',
  description: 'Fine-tune the model on the training data; applies every active training contribution (distillation, sparsity penalties, gradual pruning).',
  schema: finetuneSchema(),
  create: (options) => ({
    contract: { requires: ['labels'], runtime: ['train'] },
    async apply(graph, ctx) {
      const r = await ctx.finetune(graph, options);
      return { details: { finalLoss: r.finalLoss, trainAccuracy: r.trainAccuracy } };
    },
  }),
});

/** Measure accuracy on the test split (a snapshot records it anyway; this stage makes it explicit in a recipe). */
export const evaluateStage = definePlugin({
  name: 'evaluate',
  description: 'Evaluate the model on the test data.',
  schema: Type.Object({}, { additionalProperties: false }),
  create: () => ({
    contract: { requires: ['labels'], runtime: ['evaluate'] },
    async apply(graph, ctx) {
      const r = await ctx.evaluate(graph);
      return { details: { accuracy: r.accuracy, loss: r.loss } };
    },
  }),
});
