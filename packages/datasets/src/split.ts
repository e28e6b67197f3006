/**
 * A labelled set of samples, row-major: sample i is
 * `images[i * size, (i + 1) * size)` with `size` the product of `Sample`, and its label is `labels[i]`.
 * `shape` is `[count, ...Sample]`, ready for e.g. `tf.tensor(images, shape)`.
 */
export interface Split<Sample extends number[] = [28, 28, 1]> {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  shape: [number, ...Sample];
}

/** Number of values per sample (28*28*1 for Fashion-MNIST). */
export function sampleSize(split: Split<number[]>): number {
  return split.shape.slice(1).reduce((a, b) => a * b, 1);
}

/** Copies the samples at `indices`, in that order, into a new split. */
export function take<S extends number[]>(split: Split<S>, indices: ArrayLike<number>): Split<S> {
  const size = sampleSize(split);
  const count = indices.length;
  const images = new Float32Array(count * size);
  const labels = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    const i = indices[k];
    images.set(split.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = split.labels[i];
  }
  return withCount(split, images, labels, count);
}

/** A split with new data; same per-sample shape. */
export function withCount<S extends number[]>(split: Split<S>, images: Float32Array, labels: Uint8Array, count: number): Split<S> {
  // The cast only re-attaches the per-sample part of the shape, which is copied unchanged.
  return { images, labels, count, shape: [count, ...split.shape.slice(1)] as [number, ...S] };
}
