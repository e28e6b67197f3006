/** Test helpers: the graph-model fixtures (src/io/fixtures/graph, made by tools/graph-fixtures) and their TensorFlow samples. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';

export const GRAPH_FIXTURES = fileURLToPath(new URL('../io/fixtures/graph/', import.meta.url));

export const FIXTURE_NAMES = [
  'mobilenet-v2',
  'mobilenet-v2-uint8',
  'mobilenet-v2-float16',
  'blazeface',
  'blazeface-float16',
  'blazeface-mixed',
  'resnet-block',
  'resnet-block-uint8',
  'while-loop',
  'while-loop-v2',
  'nms',
  'dynamic-shapes',
  'no-format',
  'frozen-classifier',
  'frozen-classifier-uint8',
] as const;

export interface TensorJson {
  dtype: 'float32' | 'int32';
  shape: number[];
  values: number[];
}
type TensorsJson = Record<string, TensorJson>;
export interface SampleFile {
  tensorflow_version: string;
  execute: 'execute' | 'executeAsync';
  /** `float_outputs`: the source model's outputs, for fixtures whose weights were quantized. */
  samples: { inputs: TensorsJson; outputs: TensorsJson; float_outputs?: TensorsJson }[];
}

export const readJson = async <T>(dir: string, file: string): Promise<T> => JSON.parse(await readFile(join(dir, file), 'utf8')) as T;

export const toTensors = (ts: TensorsJson): tf.NamedTensorMap =>
  Object.fromEntries(Object.entries(ts).map(([k, t]) => [k, tf.tensor(t.values, t.shape, t.dtype)]));

/** The model's outputs for the signature's output keys, as TF.js runs it (execute or executeAsync). */
export async function runOutputs(
  model: Pick<GraphModel, 'execute' | 'executeAsync'>,
  how: SampleFile['execute'],
  inputs: tf.NamedTensorMap,
  keys: string[],
): Promise<tf.Tensor[]> {
  const r = how === 'execute' ? model.execute(inputs, keys) : await model.executeAsync(inputs, keys);
  return Array.isArray(r) ? r : [r];
}

/** max |got - want| over the largest |want| (absolute for integer outputs); Infinity when the dtype or shape differs. */
export function scaledDiff(got: tf.Tensor, want: TensorJson): number {
  const g = got.dataSync();
  if (got.dtype !== want.dtype || got.shape.join() !== want.shape.join() || g.length !== want.values.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.values.length; i++) {
    diff = Math.max(diff, Math.abs(g[i] - want.values[i]));
    scale = Math.max(scale, Math.abs(want.values[i]));
  }
  return want.dtype === 'int32' ? diff : diff / Math.max(scale, 1e-30);
}

/** Bitwise equality of two tensors' values. */
export function sameBits(a: tf.Tensor, b: tf.Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return false;
  const x = new Uint8Array((a.dataSync() as Float32Array).buffer.slice(0));
  const y = new Uint8Array((b.dataSync() as Float32Array).buffer.slice(0));
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
