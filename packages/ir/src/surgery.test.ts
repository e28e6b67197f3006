import { describe, expect, it } from 'vitest';
import {
  bypassNode,
  channelGroups,
  cloneGraph,
  getNode,
  GraphBuilder,
  insertAfter,
  param,
  referenceValues,
  registerOp,
  removeChannels,
  removeUnusedParams,
  runReference,
  shiftOutput,
  uniqueNodeName,
  validate,
  type Graph,
} from './index.js';

// A per-channel scale, as the SSS plugin would register it.
registerOp({
  op: 'surgeryScale',
  arity: 1,
  params: { scale: { kind: 'other', shape: (ctx) => [ctx.inputs[0].at(-1) as number] } },
  inferShape: (ctx) => ctx.inputs[0],
  channels: { kind: 'elementwise', params: [{ role: 'scale', axis: 0 }] },
  reference: ([x], ctx) => {
    const s = ctx.param('scale')!.data;
    return { shape: x.shape, data: x.data.map((v, i) => v * s[i % s.length]) };
  },
});

const mlp = (): Graph => new GraphBuilder('m', [3], 2).dense(4, { name: 'fc1', activation: 'relu' }).dense(2, { name: 'fc2' }).build();
const x = Float32Array.from([0.5, -1, 2, 1, 1, 1]);

describe('surgery', () => {
  it('uniqueNodeName', () => {
    const g = mlp();
    expect(uniqueNodeName(g, 'scale')).toBe('scale');
    expect(uniqueNodeName(g, 'fc1')).toBe('fc1_1');
  });

  it('insertAfter rewires readers and outputs; an identity scale keeps function and joins the channel group', () => {
    const g = mlp();
    const before = runReference(g, x, 2);
    insertAfter(g, 'fc1', { name: 'fc1_scale', op: 'surgeryScale', attrs: {}, params: { scale: 'fc1_scale/scale' } }, [
      param('fc1_scale/scale', [4], new Float32Array(4).fill(1)),
    ]);
    validate(g);
    expect(getNode(g, 'fc2').inputs).toEqual(['fc1_scale']);
    expect(g.nodes.map((n) => n.name)).toEqual(['input', 'fc1', 'fc1_scale', 'fc2']);
    expect(runReference(g, x, 2)).toEqual(before);
    const group = channelGroups(g).find((c) => c.id === 'fc1')!;
    expect(group.slices.map((s) => s.param)).toContain('fc1_scale/scale');
    removeChannels(g, group, [0, 3]);
    expect(g.params.get('fc1_scale/scale')!.shape).toEqual([2]);

    const h = mlp();
    insertAfter(h, 'fc2', { name: 'tail', op: 'dropout', attrs: { rate: 0.1 }, params: {} });
    expect(h.outputs).toEqual(['tail']);
  });

  it('insertAfter rolls back when the result is invalid', () => {
    const g = mlp();
    const snapshot = cloneGraph(g);
    expect(() => insertAfter(g, 'fc1', { name: 'bad', op: 'surgeryScale', attrs: {}, params: { scale: 'bad/scale' } }, [param('bad/scale', [5])])).toThrow(
      /inserting 'bad' after 'fc1': node 'bad': param 'bad\/scale' \(role 'scale'\) has shape \[5\], expected \[4\]; nothing was changed/,
    );
    expect(g).toEqual(snapshot);
    expect(() => insertAfter(g, 'fc1', { name: 'fc2', op: 'dropout', attrs: {}, params: {} })).toThrow(/node 'fc2': duplicate node name/);
  });

  it('bypassNode removes a same-shape node and its own params', () => {
    const g = mlp();
    insertAfter(g, 'fc1', { name: 's', op: 'surgeryScale', attrs: {}, params: { scale: 's/scale' } }, [param('s/scale', [4], new Float32Array(4).fill(1))]);
    bypassNode(g, 's');
    validate(g);
    expect(g.params.has('s/scale')).toBe(false);
    expect(getNode(g, 'fc2').inputs).toEqual(['fc1']);
    expect(() => bypassNode(g, 'fc1')).toThrow(/node 'fc1': cannot bypass: output \[null, 4\] differs from input \[null, 3\]/);
    insertAfter(g, 'fc2', { name: 'drop', op: 'dropout', attrs: {}, params: {} });
    bypassNode(g, 'drop');
    expect(g.outputs).toEqual(['fc2']);
  });

  it('removeUnusedParams', () => {
    const g = mlp();
    g.params.set('orphan', param('orphan', [1]));
    expect(removeUnusedParams(g)).toEqual(['orphan']);
    expect(g.params.size).toBe(4);
  });

  it('shiftOutput moves a layer output by a per-channel delta: through its bias, a sole batch norm, or a new bias', () => {
    const b = new GraphBuilder('s', [4, 4, 2], 3);
    b.conv2d(3, 1, { name: 'withBias' }).conv2d(3, 1, { name: 'toNorm', bias: false }).batchNorm({ name: 'bn' });
    b.conv2d(2, 1, { name: 'bare', bias: false, activation: 'relu' }).batchNorm({ name: 'bn2' });
    const g = b.build();
    const input = Float32Array.from({ length: 2 * 4 * 4 * 2 }, (_, i) => Math.sin(i));
    const delta = [0.5, -1, 2];
    const before = referenceValues(g, input, 2);
    /** After shifting `layer` (on a copy): whether the value `name` moved by `d` per channel. */
    const moves = (layer: string, param: string, name: string, d: number[]) => {
      const h = cloneGraph(g);
      expect(shiftOutput(h, layer, delta)).toEqual({ param });
      const after = referenceValues(h, input, 2).get(name)!.data;
      return after.every((v, i) => Math.abs(v - before.get(name)!.data[i] - d[i % d.length]) < 1e-9);
    };
    expect(moves('withBias', 'withBias/bias', 'withBias', delta)).toBe(true);
    // bn(toNorm + delta) = bn with mean - delta: its output moves by gamma * delta / sqrt(var + eps)
    const gamma = g.params.get('bn/gamma')!.data;
    const v = g.params.get('bn/movingVariance')!.data;
    expect(
      moves(
        'toNorm',
        'bn/movingMean',
        'bn',
        delta.map((d, c) => (gamma[c] * d) / Math.sqrt(v[c] + 1e-3)),
      ),
    ).toBe(true);
    // A fused activation sits between the kernel and the batch norm: a new bias takes the shift.
    expect(shiftOutput(g, 'bare', [1, 2])).toEqual({ param: 'bare/bias' });
    validate(g);
    const q = g.params.get('withBias/bias')!;
    q.mask = new Uint8Array(3).fill(1);
    expect(shiftOutput(g, 'withBias', delta)).toEqual({ reason: "'withBias/bias' is masked" });
    expect(shiftOutput(g, 'withBias', [1])).toEqual({ reason: "'withBias/bias' has 3 values, the shift 1" });
  });
});
