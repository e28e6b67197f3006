import type { LayerPass } from '@condense/core';
import { topoSort, type Graph, type Node } from '@condense/ir';
import { LAYER_OPS, layerSpec, type LayerOp, type LayerSpec } from './layout.js';
import { accumulate, createStats, statsReport, type LayerStats, type StatsOptions, type StatsReport } from './stats.js';

/** One batch of a layer's input: row-major values and their shape, batch first. */
export interface LayerInput {
  data: ArrayLike<number>;
  shape: readonly number[];
}

/**
 * The batches of a layer's input over the calibration set, computed on the graph as it is now
 * (so earlier layers are already compressed). The runtime that executes the model provides it.
 */
export type InputSource = (graph: Graph, node: Node) => Iterable<LayerInput> | AsyncIterable<LayerInput>;

export interface SequentialStep<R> {
  layer: string;
  stats: StatsReport;
  result: R;
}

/** The nodes with a kernel these methods compress (dense, conv2d, depthwiseConv2d), in topological order. */
export function kernelLayers(graph: Graph): string[] {
  return topoSort(graph)
    .filter((n) => LAYER_OPS.includes(n.op as LayerOp) && n.params.kernel !== undefined)
    .map((n) => n.name);
}

/**
 * Compress layers one after another: for each, stream its input from `inputs` into fresh
 * statistics (`options.stats` per layer, e.g. a row budget), then `compress` it (which writes the graph). Each layer therefore sees the inputs
 * the already-compressed layers before it produce (sequential mode), and only one layer's
 * statistics are alive at a time.
 */
export async function sequential<R>(
  graph: Graph,
  layers: readonly string[],
  inputs: InputSource,
  compress: (stats: LayerStats) => R | Promise<R>,
  options: { stats?: (spec: LayerSpec) => StatsOptions } = {},
): Promise<SequentialStep<R>[]> {
  const steps: SequentialStep<R>[] = [];
  for (const layer of layers) {
    const spec = layerSpec(graph, layer);
    const stats = createStats(spec, options.stats?.(spec));
    const node = graph.nodes.find((n) => n.name === layer) as Node;
    for await (const batch of inputs(graph, node)) accumulate(stats, batch.data, batch.shape);
    steps.push({ layer, stats: statsReport(stats), result: await compress(stats) });
  }
  return steps;
}

/**
 * The inputs of each layer from a `LayerPass` (@condense/core): move the pass's frontier to the
 * layer (computing what comes before it once, on the graph as it is then), then stream the
 * layer's input batch by batch. Layers must come in topological order.
 */
export function passInputs(pass: LayerPass): InputSource {
  return async function* (_graph, node) {
    await pass.advance(node.name);
    const input = node.inputs[0];
    for await (const batch of pass.values([input])) {
      const v = batch.get(input) as { values: Float32Array; shape: readonly number[] };
      yield { data: v.values, shape: v.shape };
    }
  };
}
