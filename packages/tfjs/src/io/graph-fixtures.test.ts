/**
 * GraphModels made by TensorFlow and converted in tfjs-converter's graph-model layout (see
 * tools/graph-fixtures/make.py, which wrote fixtures/graph/ and each directory's sample.json:
 * inputs and TensorFlow's own outputs). Stock TF.js loads each with `loadGraphModel` and must give
 * TensorFlow's outputs: the fixtures are what the converter writes, and the reference for the
 * GraphModel importer.
 */
import { join } from 'node:path';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { beforeAll, describe, expect, it } from 'vitest';
import { GRAPH_FIXTURES as FIXTURES, readJson, runOutputs as run, scaledDiff, toTensors, type SampleFile } from '../graph-model/testing.js';
import { fileHandler, tf, useCpu } from './test-helpers.js';

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
  {
    name: 'while-loop',
    encodings: ['float32', 'int32'],
    ops: ['Enter', 'Merge', 'Switch', 'LoopCond', 'NextIteration', 'Exit', 'TensorArrayV3', 'TensorArrayReadV3'],
  },
  { name: 'while-loop-v2', encodings: ['float32', 'int32'], ops: ['While', 'StatelessIf', 'TensorListReserve', 'TensorListGetItem', 'TensorListSetItem'] },
  { name: 'nms', encodings: ['float32', 'int32'], ops: ['NonMaxSuppressionV3', 'Where', 'GatherV2', 'StridedSlice'] },
  {
    name: 'dynamic-shapes',
    encodings: ['float32', 'int32'],
    ops: ['Shape', 'StridedSlice', 'Pack', 'MirrorPad', 'ResizeBilinear', 'Conv2DBackpropInput', 'DepthToSpace'],
  },
  { name: 'no-format', encodings: ['float32', 'int32'], ops: CLASSIFIER },
  { name: 'frozen-classifier', encodings: ['float32', 'int32'], ops: CLASSIFIER },
  { name: 'frozen-classifier-uint8', encodings: ['uint8', 'int32'], ops: CLASSIFIER },
];

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
