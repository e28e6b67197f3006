import { describe, expect, it } from 'vitest';
import {
  cloneGraph,
  deserializeGraph,
  enforceAnnotations,
  GraphBuilder,
  paramBytes,
  referenceValues,
  serializeGraph,
  validate,
  validateParam,
  type Graph,
  type Param,
} from '@condense/ir';
import { decodeGraph, encodeGraph } from '@condense/codec';
import { gptq } from './gptq.js';
import { gptqCodebookLayer, gptqLayer, sparseGptLayer } from './layer.js';
import { layerSpec } from './layout.js';
import { accumulate, createStats, type LayerStats } from './stats.js';
import { randomValues } from './test-data.js';

function model(): Graph {
  return new GraphBuilder('small', [8, 8, 4])
    .conv2d(8, 3, { name: 'conv', padding: 'same', activation: 'relu' })
    .depthwiseConv2d(3, { name: 'dw', activation: 'relu' })
    .flatten({ name: 'flatten' })
    .dense(6, { name: 'fc' })
    .build();
}

const BATCH = 16;
const input = randomValues(BATCH * 8 * 8 * 4, 41, 1);

/** A layer's statistics on its input as the graph computes it now (after earlier layers changed). */
function statsOf(graph: Graph, layer: string): LayerStats {
  const node = graph.nodes.find((n) => n.name === layer)!;
  const x = referenceValues(graph, input, BATCH).get(node.inputs[0])!;
  const stats = createStats(layerSpec(graph, layer));
  accumulate(stats, x.data, x.shape);
  return stats;
}

/** The param survives the IR's serialization with data and annotations intact. */
function roundTrips(graph: Graph, name: string): Param {
  const back = deserializeGraph(serializeGraph(graph)).params.get(name)!;
  const p = graph.params.get(name)!;
  expect(back.data).toEqual(p.data);
  expect(back.quant).toEqual(p.quant);
  expect(back.codebook).toEqual(p.codebook);
  expect(back.mask).toEqual(p.mask);
  return back;
}

describe('writing the results on the IR', () => {
  it('gptqLayer: a per-channel quant annotation on the channel axis that validates, round-trips and pins the data', () => {
    const g = model();
    const reports = ['conv', 'dw', 'fc'].map((layer) => gptqLayer(g, statsOf(g, layer), { bits: 4 }));
    expect(reports.map((r) => r.param)).toEqual(['conv/kernel', 'dw/kernel', 'fc/kernel']);
    for (const r of reports) expect(r.error.after).toBeLessThan(r.error.before);
    expect(g.params.get('conv/kernel')!.quant).toMatchObject({ bits: 4, signed: true, axis: 3 });
    expect(g.params.get('dw/kernel')!.quant).toMatchObject({ axis: 2 });
    expect(g.params.get('dw/kernel')!.quant!.scale).toHaveLength(8);
    validate(g);
    for (const name of ['conv/kernel', 'dw/kernel', 'fc/kernel']) {
      const p = g.params.get(name)!;
      validateParam(p);
      const data = p.data.slice();
      enforceAnnotations(p);
      expect(p.data).toEqual(data);
      validateParam(roundTrips(g, name));
    }
  });

  it('gptqCodebookLayer: a codebook annotation', () => {
    const g = model();
    const r = gptqCodebookLayer(g, statsOf(g, 'fc'), { bits: 3 });
    const p = g.params.get('fc/kernel')!;
    expect(p.codebook).toMatchObject({ bits: 3 });
    expect(p.quant).toBeUndefined();
    expect(r.error.after).toBeLessThan(r.error.before);
    validateParam(roundTrips(g, 'fc/kernel'));
  });

  it('sparseGptLayer then gptqLayer: the mask survives quantization, masked weights stay 0', () => {
    const g = model();
    const pruned = sparseGptLayer(g, statsOf(g, 'fc'), { sparsity: 0.5 });
    expect(pruned.sparsity).toBe(0.5);
    gptqLayer(g, statsOf(g, 'fc'), { bits: 4 });
    const p = g.params.get('fc/kernel')!;
    p.mask!.forEach((m, i) => m === 0 && expect(p.data[i]).toBe(0));
    validateParam(roundTrips(g, 'fc/kernel'));
  });

  it('sequential calibration sees the compressed prefix', () => {
    const g = model();
    const before = statsOf(g, 'fc');
    gptqLayer(g, statsOf(g, 'conv'), { bits: 2 });
    const after = statsOf(cloneGraph(g), 'fc');
    expect(after.hessians[0]).not.toEqual(before.hessians[0]);
  });

  it('gptqLayer with groupSize: group-wise quant annotations that hold exactly the GPTQ result, through serialize and the codec', () => {
    const g = new GraphBuilder('grouped', [6, 6, 3])
      .conv2d(8, 3, { name: 'conv', padding: 'same', activation: 'relu' })
      .depthwiseConv2d(3, { name: 'dw', depthMultiplier: 2, activation: 'relu' })
      .flatten({ name: 'flatten' })
      .dense(5, { name: 'fc' })
      .build();
    const x = randomValues(BATCH * 6 * 6 * 3, 43, 1);
    const statsIn = (layer: string) => {
      const v = referenceValues(g, x, BATCH).get(g.nodes.find((n) => n.name === layer)!.inputs[0])!;
      const stats = createStats(layerSpec(g, layer));
      accumulate(stats, v.data, v.shape);
      return stats;
    };
    // conv: 27 rows in groups of 8 (4 groups, the last short); dw: 9 taps in groups of 4 (x2 multipliers); fc: 256 rows in groups of 64
    const cases = [
      ['conv', 8, { axis: 3, group: { size: 8 } }, 4 * 8],
      ['dw', 4, { axis: 2, group: { size: 8 } }, 3 * 8],
      ['fc', 64, { axis: 1, group: { size: 64 } }, 4 * 5],
    ] as const;
    for (const [layer, groupSize, annotation, slots] of cases) {
      const stats = statsIn(layer);
      const p = g.params.get(`${layer}/kernel`)!;
      const expected = gptq(stats, p.data, { bits: 4, groupSize }).data;
      const r = gptqLayer(g, stats, { bits: 4, groupSize });
      expect(p.quant, layer).toMatchObject({ bits: 4, ...annotation });
      expect(p.quant!.scale, layer).toHaveLength(slots);
      // setQuant re-snaps the data with the IR's slot layout: equal only if it is the grid's.
      expect(p.data, layer).toEqual(expected);
      expect(r.error.after, layer).toBeLessThan(r.error.before);
      validateParam(roundTrips(g, p.name));
    }
    const back = decodeGraph(encodeGraph(g).bytes);
    for (const layer of ['conv', 'dw', 'fc']) {
      const [a, b] = [back.params.get(`${layer}/kernel`)!, g.params.get(`${layer}/kernel`)!];
      expect(a.quant, layer).toEqual(b.quant);
      expect(new Uint32Array(a.data.buffer), layer).toEqual(new Uint32Array(b.data.buffer));
    }
    // 4-bit codes plus 8 bytes per slot, well under float32
    expect(paramBytes(g.params.get('fc/kernel')!).bytes).toBe((256 * 5) / 2 + 20 * 8);
  });

  it('refuses what the IR cannot hold or the order breaks, naming the layer', () => {
    const g = model();
    gptqLayer(g, statsOf(g, 'fc'));
    expect(() => sparseGptLayer(g, statsOf(g, 'fc'), { sparsity: 0.5 })).toThrow(/layer 'fc'.*quantized; prune before quantizing/);
    const other = createStats({ name: 'fc', op: 'dense', kernelShape: [10, 6] });
    expect(() => gptqLayer(g, other)).toThrow(/layer 'fc' kernel 'fc\/kernel' is \[288, 6\], the statistics are for \[10, 6\]/);
    expect(() => createStats(layerSpec(g, 'flatten'))).toThrow(/layer 'flatten': op 'flatten' has no kernel/);
  });
});
