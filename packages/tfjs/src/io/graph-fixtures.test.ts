/**
 * GraphModels made by TensorFlow and converted in tfjs-converter's graph-model layout (see
 * tools/graph-fixtures/make.py, which wrote fixtures/graph/ and each directory's sample.json:
 * inputs and TensorFlow's own outputs). Stock TF.js loads each with `loadGraphModel` and must give
 * TensorFlow's outputs: the fixtures are what the converter writes, and the reference for the
 * GraphModel importer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { beforeAll, describe, expect, it } from 'vitest';
import { fileHandler, tf, useCpu } from './test-helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/graph/', import.meta.url));

interface TensorJson {
  dtype: 'float32' | 'int32';
  shape: number[];
  values: number[];
}
type TensorsJson = Record<string, TensorJson>;
interface SampleFile {
  tensorflow_version: string;
  execute: 'execute' | 'executeAsync';
  samples: { inputs: TensorsJson; outputs: TensorsJson; float_outputs?: TensorsJson }[];
}
interface ModelJson {
  format?: string;
  modelTopology: { node: { op: string }[]; library?: { function?: { nodeDef?: { op: string }[] }[] } };
  signature: { inputs?: Record<string, { name: string }>; outputs: Record<string, { name: string }> };
  userDefinedMetadata?: { structuredOutputKeys?: string[] };
  weightsManifest: { weights: { name: string; dtype: string; quantization?: { dtype: string } }[] }[];
}

// Each fixture, the stored encodings its manifest must hold (weight dtype, or quantization dtype), and
// ops it is there to cover (graph nodes and library functions).
const MOBILENET = ['_FusedConv2D', 'FusedDepthwiseConv2dNative', 'Pad', 'AddV2', 'Mean', '_FusedMatMul', 'Softmax'];
const BLAZEFACE = ['_FusedConv2D', 'FusedDepthwiseConv2dNative', 'Pad', 'MaxPool', 'Prelu', 'Reshape', 'ConcatV2'];
const RESNET = ['_FusedConv2D', 'MaxPool', 'Sub', 'Mul', 'Add', 'Squeeze', 'MatMul'];
const CLASSIFIER = ['_FusedConv2D', 'Reshape', '_FusedMatMul', 'Softmax'];
const CASES = [
  { name: 'mobilenet-v2', encodings: ['float32', 'int32'], ops: MOBILENET },
  { name: 'mobilenet-v2-uint8', encodings: ['uint8', 'int32'], ops: MOBILENET },
  { name: 'mobilenet-v2-float16', encodings: ['float16', 'int32'], ops: MOBILENET },
  { name: 'blazeface', encodings: ['float32', 'int32'], ops: BLAZEFACE },
  { name: 'blazeface-float16', encodings: ['float16', 'int32'], ops: BLAZEFACE },
  { name: 'blazeface-mixed', encodings: ['uint8', 'float16', 'int32'], ops: BLAZEFACE },
  { name: 'resnet-block', encodings: ['float32', 'int32'], ops: RESNET },
  { name: 'resnet-block-uint8', encodings: ['uint8', 'int32'], ops: RESNET },
  { name: 'while-loop', encodings: ['float32', 'int32'], ops: ['Enter', 'Merge', 'Switch', 'LoopCond', 'NextIteration', 'Exit', 'TensorArrayV3', 'TensorArrayReadV3'] },
  { name: 'while-loop-v2', encodings: ['float32', 'int32'], ops: ['While', 'StatelessIf', 'TensorListReserve', 'TensorListGetItem', 'TensorListSetItem'] },
  { name: 'nms', encodings: ['float32', 'int32'], ops: ['NonMaxSuppressionV3', 'Where', 'GatherV2', 'StridedSlice'] },
  { name: 'dynamic-shapes', encodings: ['float32', 'int32'], ops: ['Shape', 'StridedSlice', 'Pack', 'MirrorPad', 'ResizeBilinear', 'Conv2DBackpropInput', 'DepthToSpace'] },
  { name: 'no-format', encodings: ['float32', 'int32'], ops: CLASSIFIER },
  { name: 'frozen-classifier', encodings: ['float32', 'int32'], ops: CLASSIFIER },
  { name: 'frozen-classifier-uint8', encodings: ['uint8', 'int32'], ops: CLASSIFIER },
];

const readJson = async <T>(dir: string, file: string): Promise<T> => JSON.parse(await readFile(join(dir, file), 'utf8')) as T;

const toTensors = (ts: TensorsJson): tf.NamedTensorMap =>
  Object.fromEntries(Object.entries(ts).map(([k, t]) => [k, tf.tensor(t.values, t.shape, t.dtype)]));

/** max |got - want| relative to the largest |want| (exact for integer outputs). */
function scaledDiff(got: tf.Tensor, want: TensorJson): number {
  expect(got.dtype).toBe(want.dtype);
  expect(got.shape).toEqual(want.shape);
  const g = got.dataSync();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.values.length; i++) {
    diff = Math.max(diff, Math.abs(g[i] - want.values[i]));
    scale = Math.max(scale, Math.abs(want.values[i]));
  }
  return want.dtype === 'int32' ? diff : diff / Math.max(scale, 1e-30);
}

async function run(model: GraphModel, how: SampleFile['execute'], inputs: tf.NamedTensorMap, outputs: string[]): Promise<tf.Tensor[]> {
  const r = how === 'execute' ? model.execute(inputs, outputs) : await model.executeAsync(inputs, outputs);
  return Array.isArray(r) ? r : [r];
}

beforeAll(async () => {
  await useCpu();
});

describe('graph-model fixtures: stock TF.js loadGraphModel gives TensorFlow outputs', () => {
  it.each(CASES)('$name', async ({ name, encodings, ops }) => {
    const dir = join(FIXTURES, name);
    const json = await readJson<ModelJson>(dir, 'model.json');
    const sample = await readJson<SampleFile>(dir, 'sample.json');
    expect(json.format).toBe(name === 'no-format' ? undefined : 'graph-model');
    const stored = new Set(json.weightsManifest.flatMap((g) => g.weights.map((w) => w.quantization?.dtype ?? w.dtype)));
    expect([...stored].sort()).toEqual([...encodings].sort());
    const functions = json.modelTopology.library?.function ?? [];
    const present = new Set([...json.modelTopology.node, ...functions.flatMap((f) => f.nodeDef ?? [])].map((n) => n.op));
    for (const op of ops) expect(present, op).toContain(op);

    const model = await loadGraphModel(fileHandler(dir));
    const keys = Object.keys(json.signature.outputs);
    try {
      for (const s of sample.samples) {
        const inputs = toTensors(s.inputs);
        if (sample.execute === 'executeAsync') expect(() => model.execute(inputs, keys)).toThrow(/executeAsync/);
        const got = await run(model, sample.execute, inputs, keys);
        keys.forEach((k, i) => expect(scaledDiff(got[i], s.outputs[k]), k).toBeLessThanOrEqual(1e-5));

        const structured = json.userDefinedMetadata?.structuredOutputKeys;
        if (structured) {
          // predict() names its outputs by structuredOutputKeys, in the signature's output order
          const named = model.predict(inputs) as tf.NamedTensorMap;
          expect(Object.keys(named).sort()).toEqual([...structured].sort());
          for (const k of structured) expect(scaledDiff(named[k], s.outputs[k]), k).toBeLessThanOrEqual(1e-5);
          tf.dispose(named);
        }
        tf.dispose([...got, ...Object.values(inputs)]);
      }
    } finally {
      model.dispose();
    }
  });
});
