import { describe, expect, it } from 'vitest';
import {
  bypassNode, channelGroups, cloneGraph, getNode, GraphBuilder, insertAfter, param, registerOp, removeChannels, removeUnusedParams, runReference,
  uniqueNodeName, validate, type Graph,
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
    insertAfter(g, 'fc1', { name: 'fc1_scale', op: 'surgeryScale', attrs: {}, params: { scale: 'fc1_scale/scale' } }, [param('fc1_scale/scale', [4], new Float32Array(4).fill(1))]);
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
});
