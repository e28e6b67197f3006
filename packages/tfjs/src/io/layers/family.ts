import type { LayerMapping } from '../mapping.js';

/**
 * A family of Keras layer classes and the IR ops they map to, one file each, grouped as
 * tfjs-layers groups its classes (core, convolutional, pooling, normalization, merge, ...).
 * A new family is a new file exporting one of these, listed in `LAYER_FAMILIES` (index.ts);
 * a new class in an existing family is one more entry of its `mappings`.
 */
export interface LayerFamily {
  name: string;
  /** IR op -> how its nodes are read from and written as Keras layers. */
  mappings: Record<string, LayerMapping>;
}
