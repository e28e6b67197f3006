/**
 * Graph models in the differentiable executor: compile() runs the native nodes with the IR's
 * kernels and opaque ones as one-node TF.js graphs, giving what TF.js gives, and trains; what
 * only TF.js's graph executor can run is refused with the node and the reason.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../exec/compile.js';
import { loadModel } from '../io/files.js';
import { tf, useCpu } from '../io/test-helpers.js';
import { train } from '../train/train.js';
import './index.js';
import { toGraphModel } from './run.js';
import { GRAPH_FIXTURES, readJson, scaledDiff, toTensors, type SampleFile } from './testing.js';

beforeAll(async () => {
  await useCpu();
});

describe('compile() on graph models', () => {
  it.each(['mobilenet-v2', 'mobilenet-v2-uint8', 'resnet-block', 'blazeface', 'dynamic-shapes', 'frozen-classifier'])(
    '%s: the IR executor gives TF.js outputs',
    async (name) => {
      const dir = join(GRAPH_FIXTURES, name);
      const graph = await loadModel(dir);
      const sample = await readJson<SampleFile>(dir, 'sample.json');
      const model = compile(graph);
      const reference = toGraphModel(graph);
      for (const s of sample.samples) {
        const inputs = toTensors(s.inputs);
        const x = graph.inputs.map(
          (i) => Object.values(inputs)[Object.keys(inputs).findIndex((k) => k === i || k.split(':')[0] === i)] ?? Object.values(inputs)[0],
        );
        const r = model.predict(x);
        const want = reference.execute(inputs, graph.outputs) as tf.Tensor | tf.Tensor[];
        (Array.isArray(want) ? want : [want]).forEach((w, i) => {
          expect(scaledDiff(r.outputs[i], { dtype: 'float32', shape: w.shape, values: Array.from(w.dataSync()) }), graph.outputs[i]).toBeLessThanOrEqual(1e-5);
        });
        tf.dispose([...r.outputs, ...(Array.isArray(want) ? want : [want]), ...Object.values(inputs)]);
      }
      model.dispose();
      reference.dispose();
    },
  );

  it('fine-tunes a graph model whose ops all have gradients (the softmax behind its Identity is seen as the output)', async () => {
    const graph = await loadModel(join(GRAPH_FIXTURES, 'mobilenet-v2'));
    const n = 8;
    const x = tf.randomUniform([n, 32, 32, 3], -1, 1, 'float32', 2).dataSync() as Float32Array;
    const y = Uint8Array.from({ length: n }, (_, i) => i % 10);
    const before = graph.params.get('StatefulPartitionedCall/stem/Conv2D_weights')!.data.slice();
    const r = await train(graph, { x, y, count: n, shape: [n, 32, 32, 3] }, { epochs: 2, batchSize: 8, learningRate: 1e-2, seed: 1 });
    expect(r.finalLoss).toBeLessThan(r.history[0].loss);
    expect(graph.params.get('StatefulPartitionedCall/stem/Conv2D_weights')!.data).not.toEqual(before);
  });

  it('refuses control flow and asynchronous ops, naming the node', async () => {
    const loop = compile(await loadModel(join(GRAPH_FIXTURES, 'while-loop-v2')));
    expect(() => loop.predict(tf.zeros([1, 3, 4]))).toThrow(/node '.*' \(tfOp\): compile\(\) cannot run this \w+ node: it is control flow/);
    loop.dispose();
    const nms = compile(await loadModel(join(GRAPH_FIXTURES, 'nms')));
    expect(() => nms.predict(tf.zeros([1, 16, 16, 3]))).toThrow(
      /node 'StatefulPartitionedCall\/Where' \(tfOp\): compile\(\) cannot run this Where node: TF.js runs it asynchronously/,
    );
    nms.dispose();
  });
});
