import type { Batch } from './batches.js';

/** Images of a single-input model, NHWC float32, with class labels when the first target holds them. */
export interface ImageSet {
  images: Float32Array;
  labels?: Int32Array;
  count: number;
  /** [count, ...example]. */
  shape: number[];
}

/** Examples of a single-input image model as plain images (+ labels), for stages that work on images directly. */
export function imageSplit(batch: Batch, where: string): ImageSet {
  if (batch.inputs.length !== 1 || batch.inputs[0].dtype !== 'float32') {
    throw new Error(
      `${where}: needs a model with one float32 input, the data has ${batch.inputs.length} input(s)${batch.inputs[0] ? ` (${batch.inputs[0].dtype})` : ''}`,
    );
  }
  const x = batch.inputs[0];
  const y = batch.targets?.[0];
  const labels = y && y.shape.length === 1 && y.dtype !== 'float32' ? Int32Array.from(y.values) : undefined;
  return { images: x.values as Float32Array, ...(labels ? { labels } : {}), count: batch.count, shape: [...x.shape] };
}
