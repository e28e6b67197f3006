import * as tf from '@tensorflow/tfjs-core';

/**
 * Labelled samples, row-major NHWC float32 with integer labels. `shape` is the per-example shape
 * or `[count, ...example]`; either way it must agree with the model input. The `images`/`labels`
 * spelling of @condense/datasets' Split is accepted too.
 */
export type Dataset =
  | { x: Float32Array; y: Uint8Array | Int32Array; count: number; shape: number[] }
  | { images: Float32Array; labels: Uint8Array | Int32Array; count: number; shape: number[] };

export interface Arrays {
  x: Float32Array;
  y: Uint8Array | Int32Array;
  count: number;
  /** Per-example shape (the model input's). */
  example: number[];
  size: number;
}

/** Normalise and check a dataset against the model's per-example input shape and class count. */
export function toArrays(data: Dataset, example: number[], classes: number, what = 'data'): Arrays {
  const x = 'x' in data ? data.x : data.images;
  const y = 'y' in data ? data.y : data.labels;
  const { count } = data;
  const size = example.reduce((a, b) => a * b, 1);
  const shape = data.shape.length === example.length + 1 ? data.shape.slice(1) : data.shape;
  if (shape.length !== example.length || shape.some((d, i) => d !== example[i])) {
    throw new Error(`${what}: shape [${data.shape.join(', ')}] does not match the model input [${example.join(', ')}]`);
  }
  if (x.length !== count * size) throw new Error(`${what}: ${x.length} values for ${count} examples of ${size}`);
  if (y.length < count) throw new Error(`${what}: ${y.length} labels for ${count} examples`);
  for (let i = 0; i < count; i++) {
    if (y[i] >= classes) throw new Error(`${what}: label ${y[i]} at index ${i} is out of range for ${classes} classes`);
  }
  return { x, y, count, example, size };
}

export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor1D;
  indices: Int32Array;
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
  if (!(Number.isInteger(shift) && shift >= 0 && shift < Math.min(h, w))) throw new Error(`train: augment.shift must be an integer in [0, ${Math.min(h, w)}), got ${shift}`);
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

/** Copy the examples at order[start, end) into tensors (the caller disposes them), transformed in place by `transform` if given. */
export function makeBatch(
  a: Arrays,
  order: ArrayLike<number> | undefined,
  start: number,
  end: number,
  transform?: (xs: Float32Array, n: number) => void,
): Batch {
  const n = end - start;
  const indices = new Int32Array(n);
  for (let k = 0; k < n; k++) indices[k] = order ? order[start + k] : start + k;
  let xs: Float32Array;
  if (order) {
    xs = new Float32Array(n * a.size);
    for (let k = 0; k < n; k++) xs.set(a.x.subarray(indices[k] * a.size, (indices[k] + 1) * a.size), k * a.size);
  } else {
    xs = a.x.slice(start * a.size, end * a.size);
  }
  transform?.(xs, n);
  const ys = new Int32Array(n);
  for (let k = 0; k < n; k++) ys[k] = a.y[indices[k]];
  return { x: tf.tensor(xs, [n, ...a.example]), y: tf.tensor1d(ys, 'int32'), indices };
}
