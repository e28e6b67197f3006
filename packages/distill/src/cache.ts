import * as tf from '@tensorflow/tfjs-core';
import { rng } from '@condense/ir';

/**
 * Teacher logits per dataset index, so that a fine-tune of E epochs runs the teacher over the data
 * once instead of E times. Each entry also stores a checksum of its input (a fixed random
 * projection of the example), so a different dataset, an augmented example or a changed teacher
 * (`version`) is recomputed rather than served stale.
 */
export class LogitCache {
  private logits = new Float32Array(0);
  private sums = new Float32Array(0);
  private filled = new Uint8Array(0);
  private probe?: { size: number; w: tf.Tensor2D };
  private version = '';
  hits = 0;
  misses = 0;

  constructor(readonly classes: number) {}

  /** Forget every entry when the teacher changed. */
  setVersion(version: string): void {
    if (version !== this.version) this.clear();
    this.version = version;
  }

  clear(): void {
    this.filled.fill(0);
  }

  /** Per-example checksums of a batch: x [n, ...] times a fixed random vector (read from the device). */
  checksums(x: tf.Tensor): Float32Array {
    const n = x.shape[0] as number;
    const size = x.size / n;
    if (this.probe?.size !== size) {
      this.probe?.w.dispose();
      const r = rng(0x5eed);
      this.probe = { size, w: tf.keep(tf.tensor2d(Float32Array.from({ length: size }, () => r() * 2 - 1), [size, 1])) };
    }
    const w = this.probe.w;
    return tf.tidy(() => tf.matMul(tf.reshape(x, [n, size]), w)).dataSync() as Float32Array;
  }

  /** Rows of the batch whose logits are not cached (or whose input changed). */
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

  /** Store teacher logits for some rows of a batch: `logits` holds one row per entry of `rows`, in order. */
  store(indices: Int32Array, sums: Float32Array, rows: number[], logits: Float32Array): void {
    this.grow(Math.max(...rows.map((r) => indices[r])) + 1);
    const k = this.classes;
    for (const [j, row] of rows.entries()) {
      const idx = indices[row];
      this.logits.set(logits.subarray(j * k, (j + 1) * k), idx * k);
      this.sums[idx] = sums[row];
      this.filled[idx] = 1;
    }
  }

  /** The cached logits of a batch as a [n, classes] tensor (every row must be stored). */
  gather(indices: Int32Array): tf.Tensor2D {
    const k = this.classes;
    const out = new Float32Array(indices.length * k);
    indices.forEach((idx, row) => out.set(this.logits.subarray(idx * k, (idx + 1) * k), row * k));
    return tf.tensor2d(out, [indices.length, k]);
  }

  dispose(): void {
    this.probe?.w.dispose();
    this.probe = undefined;
  }

  private grow(count: number): void {
    if (count <= this.filled.length) return;
    const cap = Math.max(count, this.filled.length * 2, 1024);
    const logits = new Float32Array(cap * this.classes);
    logits.set(this.logits);
    const sums = new Float32Array(cap);
    sums.set(this.sums);
    const filled = new Uint8Array(cap);
    filled.set(this.filled);
    this.logits = logits;
    this.sums = sums;
    this.filled = filled;
  }
}

/** Same input up to float32 rounding of the projection (batch composition may change the summation order). */
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-5 * (1 + Math.abs(a));
