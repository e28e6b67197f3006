/**
 * What ThiNet repairs before a group's channels go: the kept channels' least-squares scales,
 * folded into the next layer's input rows, and the mean shift the removal leaves, added to the
 * next layer's bias. Also the reconstruction errors that measure both.
 */
import { applyFloat16, type ChannelGroup, type Graph, type Param } from '@condense/ir';
import { targetOf, type ConsumerGram } from './contrib.js';
import { fitScales, reconstructionError } from './math.js';

export interface ConsumerReport {
  consumer: string;
  /** || y - y_kept ||^2 / || y ||^2 on the calibration samples, kept channels unscaled. */
  error: number;
  /** The same after the least-squares rescaling. */
  errorLS?: number;
  /** Why the rescaling or the bias correction was not applied, when it was not. */
  note?: string;
}

/** Multiply the consumer's input rows of each kept channel by its least-squares scale. */
function foldScales(graph: Graph, group: ChannelGroup, consumer: string, kept: number[], w: Float64Array): string | undefined {
  const slice = group.slices.find((s) => s.node === consumer && s.kind === 'in' && s.role === 'kernel');
  if (!slice) return 'no input rows to scale';
  const p = graph.params.get(slice.param) as Param;
  if (p.quant || p.codebook) return `kernel '${p.name}' is ${p.quant ? 'quantized' : 'shared (codebook)'}; kept channels not rescaled`;
  const inner = p.shape.slice(slice.axis + 1).reduce((a, b) => a * b, 1);
  const outer = p.shape.slice(0, slice.axis).reduce((a, b) => a * b, 1);
  kept.forEach((c, k) => {
    for (const pos of slice.positions[c]) {
      for (let o = 0; o < outer; o++) {
        const from = (o * slice.dim + pos) * inner;
        for (let e = from; e < from + inner; e++) p.data[e] *= w[k];
      }
    }
  });
  applyFloat16(p);
  return undefined;
}

/**
 * Add to the next layer's bias, per output channel k, the mean over every calibration location
 * of (target - sum of the kept channels' rescaled contributions): what the removal shifted.
 */
function correctBias(graph: Graph, g: ConsumerGram, channels: number, kept: number[], w: ArrayLike<number>): string | undefined {
  if (!g.means) return 'no mean contributions for bias correction';
  const { x, outputs: K, target } = g.means;
  const shift = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    if (target) shift[k] = target[k];
    else for (let c = 0; c < channels; c++) shift[k] += x[c * K + k];
    kept.forEach((c, i) => (shift[k] -= w[i] * x[c * K + k]));
  }
  const into = biasSlot(graph, g.consumer);
  if (typeof into === 'string') return into;
  const { param, sign } = into;
  for (let k = 0; k < K; k++) param.data[k] += sign * shift[k];
  applyFloat16(param);
  return undefined;
}

/**
 * Where a per-output-channel shift of a layer goes: its bias, or, for a layer without one whose
 * only reader is a batch norm, that norm's moving mean (subtracted). A string says why neither.
 */
function biasSlot(graph: Graph, layer: string): { param: Param; sign: 1 | -1 } | string {
  const node = graph.nodes.find((n) => n.name === layer) as Graph['nodes'][number];
  let slot: { param: Param; sign: 1 | -1 } | undefined;
  const bias = node.params.bias === undefined ? undefined : graph.params.get(node.params.bias);
  if (bias) slot = { param: bias, sign: 1 };
  else {
    const readers = graph.nodes.filter((n) => n.inputs.includes(layer));
    const bn = readers.length === 1 && readers[0].op === 'batchNorm' && !graph.outputs.includes(layer) ? readers[0] : undefined;
    const mean = bn?.params.movingMean === undefined ? undefined : graph.params.get(bn.params.movingMean);
    if (mean) slot = { param: mean, sign: -1 };
  }
  if (!slot) return `'${layer}' has no bias and no batch norm after it; not bias-corrected`;
  if (slot.param.quant || slot.param.codebook || slot.param.mask) return `'${slot.param.name}' is quantized, shared or masked; not bias-corrected`;
  return slot;
}

/**
 * Measure the reconstruction error of one next layer and repair it: least-squares scales on the
 * kept channels' input rows, then the mean shift into its bias (each when asked).
 */
export function compensate(
  graph: Graph,
  group: ChannelGroup,
  g: ConsumerGram,
  kept: number[],
  o: { leastSquares: boolean; biasCorrection: boolean },
): ConsumerReport {
  const target = targetOf(g, group.size);
  const r: ConsumerReport = { consumer: g.consumer, error: reconstructionError(g.gram, group.size, kept, undefined, target) };
  const notes: string[] = [];
  let w: Float64Array = new Float64Array(kept.length).fill(1);
  if (o.leastSquares) {
    const fitted = fitScales(g.gram, group.size, kept, target);
    const note = foldScales(graph, group, g.consumer, kept, fitted);
    if (note) notes.push(note);
    else [w, r.errorLS] = [fitted, reconstructionError(g.gram, group.size, kept, fitted, target)];
  }
  if (o.biasCorrection) {
    const note = correctBias(graph, g, group.size, kept, w);
    if (note) notes.push(note);
  }
  if (notes.length) r.note = notes.join('; ');
  return r;
}
