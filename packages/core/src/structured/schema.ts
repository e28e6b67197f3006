import { Type } from '@sinclair/typebox';
import { layerMap } from '../layer-options.js';

const Fraction = (description?: string) => Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, ...(description ? { description } : {}) });

/** The driver's options for a plugin's schema (spread into `Type.Object`): ratio, layers, ops, include, exclude, coupled, roundTo. */
export function channelPruneOptions(defaultOps: string[] = ['conv2d']) {
  return {
    ratio: Type.Optional(Fraction('fraction of channels removed from every selected layer (default 0.5 when layers is not given)')),
    layers: Type.Optional(layerMap(Fraction(), { description: 'per-layer fractions (override ratio; with no ratio, only these layers are pruned)' })),
    ops: Type.Array(Type.String(), { default: defaultOps, description: 'op types of the layers pruned at ratio' }),
    include: Type.Optional(Type.Array(Type.String(), { description: 'layers pruned at ratio, among those of ops: names, op types or globs (default: all)' })),
    exclude: Type.Optional(
      Type.Array(Type.String(), { description: 'protected layers, never pruned (their whole channel group is left): names, op types or globs' }),
    ),
    coupled: Type.Union([Type.Literal('prune'), Type.Literal('skip')], {
      default: 'prune',
      description: 'layers coupled by a residual add: prune together with a combined criterion, or skip',
    }),
    roundTo: Type.Optional(
      Type.Integer({ minimum: 1, description: "round each layer's kept channel count up to a multiple of this (hardware-friendly widths)" }),
    ),
  };
}

/** Plus a global ranking: `scope` and `maxRatio`. */
export function globalPruneOptions(defaultOps: string[] = ['conv2d']) {
  return {
    ...channelPruneOptions(defaultOps),
    scope: Type.Union([Type.Literal('layer'), Type.Literal('global')], {
      default: 'layer',
      description: "'layer': ratio of every layer; 'global': ratio of all selected channels, ranked together (each layer's scores divided by their mean)",
    }),
    maxRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'at most this fraction of any layer is removed' })),
  };
}
