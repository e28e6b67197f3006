import { Type } from '@sinclair/typebox';
import { definePlugin } from './plugin.js';

/** Fine-tune with every active training contribution (masks, codebooks and frozen params honoured). */
export const finetune = definePlugin({
  name: 'finetune',
  description: 'Fine-tune the model on the training data; applies every active training contribution (distillation, sparsity penalties, gradual pruning).',
  schema: Type.Object(
    {
      epochs: Type.Integer({ minimum: 0, default: 1, description: 'passes over the training data' }),
      batchSize: Type.Integer({ minimum: 1, default: 128 }),
      optimizer: Type.Union([Type.Literal('adam'), Type.Literal('sgd')], { default: 'adam' }),
      learningRate: Type.Number({ exclusiveMinimum: 0, default: 1e-3 }),
      momentum: Type.Number({ minimum: 0, maximum: 1, default: 0.9, description: 'SGD momentum' }),
      weightDecay: Type.Number({ minimum: 0, default: 0 }),
      schedule: Type.Union([Type.Literal('constant'), Type.Literal('cosine')], { default: 'constant', description: 'learning rate: constant, or cosine decay to 0 over the stage' }),
      shuffleBuffer: Type.Optional(Type.Integer({ minimum: 1, description: "examples a streamed dataset's shuffle holds (memory stays bounded by it and the batch); default 1024" })),
      augment: Type.Optional(
        Type.Object(
          {
            shift: Type.Optional(Type.Integer({ minimum: 0, description: 'random translation of up to this many pixels (zero fill)' })),
            flip: Type.Optional(Type.Boolean({ description: 'mirror left-right with probability 1/2' })),
          },
          { additionalProperties: false, description: 'random per-example augmentation of image inputs' },
        ),
      ),
    },
    { additionalProperties: false },
  ),
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
