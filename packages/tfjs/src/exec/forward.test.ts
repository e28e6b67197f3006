import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { LayerPass, type NodeValue } from '@condense/core';
import { GraphBuilder, referenceValues, rng, setMask, vggSmall } from '@condense/ir';
import { tfjsRuntime } from '../runtime.js';
import { compile } from './compile.js';
import { forwardNodes } from './forward.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4) =>
  a.length === b.length && Array.from(a).every((v, i) => Math.abs(v - b[i]) <= tol * (1 + Math.abs(b[i])));

describe('forwardNodes (Runtime.forward on TF.js)', () => {
  const graph = vggSmall(2, { batchNorm: true });
  const x = Float32Array.from({ length: 3 * 28 * 28 }, rng(3));
  const feeds = new Map<string, NodeValue>([['input', { values: x, shape: [3, 28, 28, 1] }]]);
  const nodes = graph.nodes.filter((n) => n.op !== 'input').map((n) => n.name);

  it('the whole graph in one call equals compile().predict, taps included; a masked param computes as masked', async () => {
    setMask(
      graph.params.get('conv2/kernel')!,
      Uint8Array.from(graph.params.get('conv2/kernel')!.data, (_, i) => i % 2),
    );
    const out = await forwardNodes(graph, { feeds, nodes, outputs: ['conv3_relu', 'fc2'] });
    const model = compile(graph);
    const r = model.predict(tf.tensor(x, [3, 28, 28, 1]), { taps: ['conv3_relu'] });
    expect(close(out.get('fc2')!.values, r.output.dataSync())).toBe(true);
    expect(close(out.get('conv3_relu')!.values, r.taps.conv3_relu.dataSync())).toBe(true);
    expect(out.get('conv3_relu')!.shape).toEqual([3, 14, 14, 64]);
    tf.dispose([r.output, r.logits, ...Object.values(r.taps)]);
    model.dispose();
  });

  it('two calls, the second fed the first one’s output, give the same values; no tensor is left behind', async () => {
    const cut = nodes.indexOf('pool1') + 1;
    const before = tf.memory().numTensors;
    const first = await forwardNodes(graph, { feeds, nodes: nodes.slice(0, cut), outputs: ['pool1'] });
    const second = await forwardNodes(graph, { feeds: first, nodes: nodes.slice(cut), outputs: ['fc2', 'pool1'] });
    const whole = await forwardNodes(graph, { feeds, nodes, outputs: ['fc2'] });
    expect(close(second.get('fc2')!.values, whole.get('fc2')!.values, 1e-6)).toBe(true);
    expect(second.get('pool1')!.values).toEqual(first.get('pool1')!.values); // a fed value handed back
    expect(tf.memory().numTensors).toBe(before);
  });

  it('errors name the node and the value', async () => {
    await expect(forwardNodes(graph, { feeds, nodes: ['conv2'], outputs: ['conv2'] })).rejects.toThrow(
      /forward: node 'conv2' reads 'conv1_relu', which is neither fed nor computed before it/,
    );
    await expect(forwardNodes(graph, { feeds, nodes: ['nope'], outputs: [] })).rejects.toThrow(/no node 'nope' in graph 'vgg-small'/);
    const bad = new Map<string, NodeValue>([['flatten', { values: new Float32Array(3 * 5), shape: [3, 5] }]]);
    await expect(forwardNodes(graph, { feeds: bad, nodes: ['fc1'], outputs: ['fc1'] })).rejects.toThrow(/^node 'fc1' \(dense\): /);
  });

  it('a LayerPass through tfjsRuntime streams the layer inputs a whole forward pass computes', async () => {
    const g = new GraphBuilder('small', [8, 8, 3], 5)
      .conv2d(6, 3, { name: 'c1', padding: 'same', activation: 'relu' })
      .depthwiseConv2d(3, { name: 'dw', activation: 'relu6' })
      .globalAvgPool2d({ name: 'gap' })
      .dense(4, { name: 'fc' })
      .build();
    const images = Float32Array.from({ length: 7 * 8 * 8 * 3 }, rng(6));
    const pass = new LayerPass(tfjsRuntime().forward!, g, { count: 7, inputs: [{ values: images, shape: [7, 8, 8, 3] }] }, { batchSize: 3 });
    const ref = referenceValues(g, images, 7);
    for (const layer of ['dw', 'fc']) {
      await pass.advance(layer);
      const input = g.nodes.find((n) => n.name === layer)!.inputs[0];
      const got: number[] = [];
      for await (const b of pass.values([input])) got.push(...b.get(input)!.values);
      expect(close(got, ref.get(input)!.data), layer).toBe(true);
    }
  });
});
