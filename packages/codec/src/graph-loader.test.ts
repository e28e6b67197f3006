/**
 * Containers of graph models (read by @condense/tfjs from tfjs-converter's graph-model format):
 * the standalone loader rebuilds a tf.GraphModel from the stored GraphDef and the decoded params;
 * readContainer gets the IR graph back, checked against the stored topology.
 */
import { fileURLToPath } from 'node:url';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { setFloat16, setMask, type Graph } from '@condense/ir';
import { exportTopology, loadModel, toGraphModel } from '@condense/tfjs';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeGraph, encodeGraph } from './container.js';
import { CodecError } from './errors.js';
import { loadCondenseGraphModel } from './graph-loader.js';
import { loadCondenseModel } from './loader.js';
import { loaderOptions } from './plugin.js';
import { joinContainer, splitContainer } from './test-helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../tfjs/src/io/fixtures/graph/${name}`, import.meta.url));

/** The fixture with a pruned kernel and a float16 one, so that the container holds real compression state. */
async function compressed(name: string): Promise<Graph> {
  const g = await loadModel(fixture(name));
  const [first, second] = [...g.params.values()].filter((p) => p.shape.length >= 2);
  setMask(
    first,
    Uint8Array.from(first.data, (_, i) => (i % 3 === 0 ? 0 : 1)),
  );
  setFloat16(second);
  return g;
}

const run = async (m: GraphModel<any>, x: tf.NamedTensorMap, async = false) => {
  const r = async ? await m.executeAsync(x) : m.execute(x);
  return (Array.isArray(r) ? r : [r]).map((t: tf.Tensor) => Array.from(t.dataSync()));
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('graph-model containers', () => {
  it.each([
    ['mobilenet-v2', [2, 32, 32, 3], false],
    ['while-loop-v2', [2, 5, 4], true],
    ['nms', [1, 16, 16, 3], true],
  ] as const)('%s: the loader builds a tf.GraphModel computing what the graph computes', async (name, shape, isAsync) => {
    const graph = await compressed(name);
    const { bytes } = encodeGraph(graph, await loaderOptions(graph));
    const loaded = await loadCondenseGraphModel(bytes);
    const reference = toGraphModel(graph);
    const input = graph.inputs[0];
    const x = { [input]: tf.randomUniform([...shape], -1, 1, 'float32', 3) };
    expect(await run(loaded, x, isAsync)).toEqual(await run(reference, x, isAsync));
    // The IR graph comes back too, checked against the stored topology (readContainer passes exportTopology).
    const back = decodeGraph(bytes, 'm.cdz', { exportTopology });
    expect(back.nodes.map((n) => n.name)).toEqual(graph.nodes.map((n) => n.name));
    loaded.dispose();
    reference.dispose();
  });

  it('loadCondenseModel points a graph model to loadCondenseGraphModel, and a tampered GraphDef is refused', async () => {
    const graph = await compressed('mobilenet-v2');
    const { bytes } = encodeGraph(graph, await loaderOptions(graph));
    await expect(loadCondenseModel(bytes)).rejects.toThrow(/holds a graph model: load it with loadCondenseGraphModel from @condense\/codec\/graph-loader/);

    const { header, body } = splitContainer(bytes);
    const nodes = header.modelTopology.model.modelTopology.node as { name: string; input?: string[] }[];
    const first = nodes.findIndex((n) => n.input?.length);
    nodes[first].input = [...(nodes[first].input ?? []), nodes[nodes.length - 1].name];
    const cyclic = joinContainer(header, body);
    await expect(loadCondenseGraphModel(cyclic)).rejects.toThrow(/the stored graph model: the nodes form a cycle through/);
    expect(() => decodeGraph(cyclic, 'm.cdz', { exportTopology })).toThrow(CodecError);

    const noWeight = splitContainer(bytes);
    noWeight.header.modelTopology.weights.pop();
    await expect(loadCondenseGraphModel(joinContainer(noWeight.header, noWeight.body))).rejects.toThrow(/Const node '.*' has no stored weight/);
  });
});
