/**
 * The built-in Keras layer <-> IR op mappings, one file per layer family. Each is registered the
 * way a plugin registers its own (see `registerLayerMapping`); importing this module is the
 * registration.
 */
import { registerLayerMapping } from '../mapping.js';
import { activations } from './activations.js';
import { convolutional } from './convolutional.js';
import { core } from './core.js';
import type { LayerFamily } from './family.js';
import { input } from './input.js';
import { merge } from './merge.js';
import { normalization } from './normalization.js';
import { padding } from './padding.js';
import { pooling } from './pooling.js';
import { recurrent } from './recurrent.js';
import { reshaping } from './reshaping.js';
import { embeddings } from './embeddings.js';

export const LAYER_FAMILIES: readonly LayerFamily[] = [
  input,
  core,
  activations,
  convolutional,
  normalization,
  pooling,
  merge,
  padding,
  reshaping,
  embeddings,
  recurrent,
];

for (const family of LAYER_FAMILIES) {
  for (const [op, mapping] of Object.entries(family.mappings)) registerLayerMapping(op, mapping);
}
