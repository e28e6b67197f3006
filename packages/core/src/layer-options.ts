/**
 * Schema builders for the options every plugin spells the same way: which layers (include /
 * exclude), per-layer values (one for all, or a map name/glob/op type -> value), and a nested
 * fine-tune. Matching follows `select.ts`.
 */
import { Type, type SchemaOptions, type TSchema } from '@sinclair/typebox';

const RULE = 'layer names, param names, op types or globs (* and ?)';

/** `include` / `exclude` properties, to spread into a plugin's options object. */
export function selectionOptions(what = 'layers') {
  return {
    include: Type.Optional(Type.Array(Type.String(), { description: `${what} to select: ${RULE} (default: all)` })),
    exclude: Type.Optional(Type.Array(Type.String(), { description: `${what} never to touch (wins over include): ${RULE}` })),
  };
}

/** A map pattern -> value; each layer takes its most specific key (exact name, glob, op type; the later on ties). */
export function layerMap<T extends TSchema>(value: T, options: SchemaOptions = {}) {
  return Type.Record(Type.String(), value, {
    ...options,
    description: `${options.description ?? 'per-layer values'} (keys: ${RULE}; the most specific key wins)`,
  });
}

/** One value for every layer, or a `layerMap` of them. */
export function perLayer<T extends TSchema>(value: T, options: SchemaOptions = {}) {
  return Type.Union([value, Type.Record(Type.String(), value)], {
    ...options,
    description: `${options.description ?? 'a value'}: one for every layer, or a map of ${RULE} -> value (the most specific key wins)`,
  });
}

/**
 * The options of a fine-tune: the `finetune` stage's schema, and the nested `finetune` of plugins
 * that train. Every field is optional with a default, so `{ epochs: 2 }` is a whole value in code too.
 */
export function finetuneSchema(options: SchemaOptions = {}) {
  return Type.Object(
    {
      epochs: Type.Optional(Type.Integer({ minimum: 0, default: 1, description: 'passes over the training data' })),
      batchSize: Type.Optional(Type.Integer({ minimum: 1, default: 128 })),
      optimizer: Type.Optional(Type.Union([Type.Literal('adam'), Type.Literal('sgd')], { default: 'adam' })),
      learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, default: 1e-3 })),
      momentum: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0.9, description: 'SGD momentum' })),
      weightDecay: Type.Optional(Type.Number({ minimum: 0, default: 0 })),
      schedule: Type.Optional(
        Type.Union([Type.Literal('constant'), Type.Literal('cosine')], {
          default: 'constant',
          description: 'learning rate: constant, or cosine decay to 0 over the stage',
        }),
      ),
      shuffleBuffer: Type.Optional(
        Type.Integer({ minimum: 1, description: "examples a streamed dataset's shuffle holds (memory stays bounded by it and the batch); default 1024" }),
      ),
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
    { ...options, additionalProperties: false },
  );
}
