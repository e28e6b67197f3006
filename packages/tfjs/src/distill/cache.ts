import * as tf from '@tensorflow/tfjs-core';
import { rng } from '@condense/ir';

/** Bytes a teacher-output cache may hold unless told: 256 MiB. */
export const DEFAULT_CACHE_BYTES = 256 * 2 ** 20;

/**
 * Teacher outputs per example index, so that a fine-tune of E epochs runs the teacher over the
 * data once instead of E times. Each entry also stores a checksum of its inputs (a fixed random
 * projection of the example), so a different dataset, an augmented example or a changed teacher
 * (`version`) is recomputed rather than served stale. Examples whose index lies beyond what the
 * memory budget holds are not cached (the teacher runs for them every time).
 */
export class OutputCache {
  /** Values per example of each output. */
  readonly sizes: number[];
  /** Examples the budget holds. */
  readonly capacity: number;
  private values: Float32Array[];
  private sums = new Float32Array(0);
  private filled = new Uint8Array(0);
  private probes = new Map<string, tf.Tensor2D>();
  private version = '';
  hits = 0;
  misses = 0;

  /** `shapes`: each output's per-example shape; `budgetBytes`: what the cache may hold. */
  constructor(
    shapes: number[][],
    readonly budgetBytes = DEFAULT_CACHE_BYTES,
  ) {
    this.sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const perExample = this.sizes.reduce((a, b) => a + b, 0) * 4 + 5;
    this.capacity = Math.max(0, Math.floor(budgetBytes / perExample));
    this.values = this.sizes.map(() => new Float32Array(0));
  }

  /** Whether this cache fits outputs of these per-example shapes. */
  fits(shapes: number[][]): boolean {
    return shapes.length === this.sizes.length && shapes.every((s, i) => s.reduce((a, b) => a * b, 1) === this.sizes[i]);
  }

  /** Forget every entry when the teacher changed. */
  setVersion(version: string): void {
    if (version !== this.version) this.clear();
    this.version = version;
  }

  clear(): void {
    this.filled.fill(0);
  }

  /** Per-example checksums of a batch: each input [n, ...] times a fixed random vector, summed (read from the device). */
  checksums(x: tf.Tensor | tf.Tensor[]): Float32Array {
    const xs = Array.isArray(x) ? x : [x];
    const n = xs[0].shape[0] as number;
    return tf
      .tidy(() => {
        const parts = xs.map((t, i) => {
          const size = t.size / n;
          return tf.matMul(tf.reshape(tf.cast(t, 'float32'), [n, size]), this.probe(i, size));
        });
        return parts.length === 1 ? parts[0] : tf.addN(parts);
      })
      .dataSync() as Float32Array;
  }

  private probe(input: number, size: number): tf.Tensor2D {
    const key = `${input}:${size}`;
    let w = this.probes.get(key);
    if (!w) {
      const r = rng(0x5eed + input);
      w = tf.keep(
        tf.tensor2d(
          Float32Array.from({ length: size }, () => r() * 2 - 1),
          [size, 1],
        ),
      );
      this.probes.set(key, w);
    }
    return w;
  }

  /** Rows of the batch whose outputs are not cached (or whose input changed). */
  missing(indices: Int32Array, sums: Float32Array): number[] {
    const out: number[] = [];
    indices.forEach((idx, row) => {
      const ok = idx < this.filled.length && this.filled[idx] === 1 && close(this.sums[idx], sums[row]);
      if (!ok) out.push(row);
    });
    this.misses += out.length;
    this.hits += indices.length - out.length;
    return out;
  }

  /** Whether every row of the batch can be cached (its index is within the budget). */
  holds(indices: Int32Array): boolean {
    for (const i of indices) if (i >= this.capacity) return false;
    return true;
  }

  /** Store outputs for some rows of a batch: `outputs[k]` holds one row of output k per entry of `rows`, in order. */
  store(indices: Int32Array, sums: Float32Array, rows: number[], outputs: Float32Array[]): void {
    this.grow(Math.max(...rows.map((r) => indices[r])) + 1);
    for (const [j, row] of rows.entries()) {
      const idx = indices[row];
      this.sizes.forEach((k, o) => this.values[o].set(outputs[o].subarray(j * k, (j + 1) * k), idx * k));
      this.sums[idx] = sums[row];
      this.filled[idx] = 1;
    }
  }

  /** The cached output `o` of a batch as a [n, ...shape] tensor (every row must be stored). */
  gather(indices: Int32Array, o: number, shape: number[]): tf.Tensor {
    const k = this.sizes[o];
    const out = new Float32Array(indices.length * k);
    indices.forEach((idx, row) => out.set(this.values[o].subarray(idx * k, (idx + 1) * k), row * k));
    return tf.tensor(out, [indices.length, ...shape]);
  }

  dispose(): void {
    for (const w of this.probes.values()) w.dispose();
    this.probes.clear();
  }

  private grow(count: number): void {
    if (count <= this.filled.length) return;
    const cap = Math.min(Math.max(count, this.filled.length * 2, 1024), Math.max(this.capacity, count));
    this.values = this.values.map((v, o) => {
      const next = new Float32Array(cap * this.sizes[o]);
      next.set(v);
      return next;
    });
    const sums = new Float32Array(cap);
    sums.set(this.sums);
    const filled = new Uint8Array(cap);
    filled.set(this.filled);
    this.sums = sums;
    this.filled = filled;
  }
}

/** Same input up to float32 rounding of the projection (batch composition may change the summation order). */
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-5 * (1 + Math.abs(a));

/**
 * A batch's teacher outputs through the cache: rows cached with an unchanged input are served
 * from it, the others run through `run` (on just those rows) and are stored. A batch with rows
 * beyond the budget runs the teacher whole. Returns the outputs and how many rows ran.
 */
export function cachedOutputs(
  cache: OutputCache,
  inputs: tf.Tensor[],
  indices: Int32Array,
  shapes: number[][],
  run: (xs: tf.Tensor[]) => tf.Tensor[],
): { outputs: tf.Tensor[]; computed: number } {
  const n = inputs[0].shape[0] as number;
  if (indices.length !== n || !cache.holds(indices)) return { outputs: run(inputs), computed: n };
  const sums = cache.checksums(inputs);
  const missing = cache.missing(indices, sums);
  if (missing.length === n) {
    cache.store(
      indices,
      sums,
      missing,
      run(inputs).map((t) => t.dataSync() as Float32Array),
    );
  } else if (missing.length > 0) {
    const rows = inputs.map((x) => tf.gather(x, missing));
    cache.store(
      indices,
      sums,
      missing,
      run(rows).map((t) => t.dataSync() as Float32Array),
    );
    tf.dispose(rows);
  }
  return { outputs: shapes.map((s, o) => cache.gather(indices, o, s)), computed: missing.length };
}
