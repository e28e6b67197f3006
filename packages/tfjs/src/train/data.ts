import * as tf from '@tensorflow/tfjs-core';
import { dataSource, sizeOf, type ArrayTensor, type Batch, type DataInput, type DataSource } from '@condense/core';

/**
 * Labelled samples, row-major NHWC float32 with integer labels. `shape` is the per-example shape
 * or `[count, ...example]`; either way it must agree with the model input. The `images`/`labels`
 * spelling of @condense/datasets' Split is accepted too.
 */
export type Dataset =
  | { x: Float32Array; y: Uint8Array | Int32Array; count: number; shape: number[] }
  | { images: Float32Array; labels: Uint8Array | Int32Array; count: number; shape: number[] };

/** What train and evaluate take: a Dataset, or anything `dataSource` of @condense/core reads (arrays, tf.data.Dataset, iterables). */
export type TrainData = Dataset | DataInput;

export const asSource = (data: TrainData, name: string): DataSource => dataSource(data as DataInput, name);

/** A bound batch as tensors (the caller disposes them): inputs, targets in the dtypes the losses want, weights. */
export interface TensorBatch {
  xs: tf.Tensor[];
  ys?: tf.Tensor[];
  weights?: tf.Tensor1D;
  count: number;
  indices: Int32Array;
}

const tensorOf = (t: ArrayTensor, dtype: 'float32' | 'int32'): tf.Tensor => {
  const values =
    dtype === 'float32'
      ? t.values instanceof Float32Array
        ? t.values
        : Float32Array.from(t.values)
      : t.values instanceof Int32Array
        ? t.values
        : Int32Array.from(t.values);
  return tf.tensor(values, [...t.shape], dtype);
};

export function toTensors(b: Batch, targetDtypes?: ('float32' | 'int32')[]): TensorBatch {
  const xs = b.inputs.map((t) => tensorOf(t, t.dtype === 'float32' ? 'float32' : 'int32'));
  const ys = b.targets && targetDtypes ? b.targets.map((t, i) => tensorOf(t, targetDtypes[i])) : undefined;
  const weights = b.weights ? tf.tensor1d(b.weights) : undefined;
  return { xs, ...(ys ? { ys } : {}), ...(weights ? { weights } : {}), count: b.count, indices: b.indices };
}

export const disposeBatch = (b: TensorBatch) => tf.dispose([...b.xs, ...(b.ys ?? []), ...(b.weights ? [b.weights] : [])]);

/** Per-example size of a batch-first tensor. */
export const rowSize = (t: ArrayTensor) => sizeOf(t.shape.slice(1));

export interface Arrays {
  x: Float32Array;
  y: Uint8Array | Int32Array;
  count: number;
  /** Per-example shape (the model input's). */
  example: number[];
  size: number;
}

/** Random per-example image augmentation for training (NHWC inputs). */
export interface Augment {
  /** Translate each image by up to this many pixels along each axis, filling with zeros. */
  shift?: number;
  /** Mirror each image left-right with probability 1/2. */
  flip?: boolean;
}

/** Validate `o` against the per-example shape; returns an in-place batch transform drawing from `random`. */
export function imageAugmenter(o: Augment, example: number[], random: () => number): (xs: Float32Array, n: number) => void {
  const shift = o.shift ?? 0;
  const flip = o.flip ?? false;
  if (example.length !== 3) throw new Error(`train: augment needs image inputs [height, width, channels], the model input is [${example.join(', ')}]`);
  const [h, w, c] = example;
  if (!(Number.isInteger(shift) && shift >= 0 && shift < Math.min(h, w)))
    throw new Error(`train: augment.shift must be an integer in [0, ${Math.min(h, w)}), got ${shift}`);
  const size = h * w * c;
  const src = new Float32Array(size);
  return (xs, n) => {
    for (let k = 0; k < n; k++) {
      const img = xs.subarray(k * size, (k + 1) * size);
      const dy = Math.floor(random() * (2 * shift + 1)) - shift;
      const dx = Math.floor(random() * (2 * shift + 1)) - shift;
      const mirror = flip && random() < 0.5;
      if (dx === 0 && dy === 0 && !mirror) continue;
      src.set(img);
      img.fill(0);
      for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
        for (let x = Math.max(0, dx); x < Math.min(w, w + dx); x++) {
          const sx = mirror ? w - 1 - (x - dx) : x - dx;
          const from = ((y - dy) * w + sx) * c;
          img.set(src.subarray(from, from + c), (y * w + x) * c);
        }
      }
    }
  };
}
