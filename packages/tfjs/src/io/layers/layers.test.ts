import { ACTIVATIONS, activationFacts, GraphBuilder, registeredOps } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { fromArtifacts } from '../import.js';
import { toArtifacts } from '../export.js';
import { mappingForClass, mappingForOp } from '../mapping.js';
import { LAYER_FAMILIES } from './index.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('layer families', () => {
  it('register every class they name for import, and every op they map for export', () => {
    for (const family of LAYER_FAMILIES) {
      for (const [op, mapping] of Object.entries(family.mappings)) {
        expect(mappingForOp(op)?.toKeras, `${family.name}: ${op}`).toBe(mapping.toKeras);
        for (const c of [mapping.kerasClass ?? []].flat()) expect(mappingForClass(c)?.fromKeras, `${family.name}: ${c}`).toBe(mapping.fromKeras);
      }
    }
  });

  it('cover every builtin IR op', () => {
    const mapped = LAYER_FAMILIES.flatMap((f) => Object.keys(f.mappings));
    // Ops graph-model import makes that no Keras layer computes (graph models write them back as TF ops).
    const graphOnly = new Set(['constant', 'tfOp', 'binaryConst', 'biasAdd', 'identity', 'depthToSpace', 'pad2d', 'resize2d']);
    expect(registeredOps().filter((op) => !mapped.includes(op) && !graphOnly.has(op))).toEqual([]);
    expect(new Set(mapped).size).toBe(mapped.length);
  });
});

/** A dense layer with `fn` exported, then its activation field replaced by `id` and the Keras version set. */
function denseWith(fn: (typeof ACTIVATIONS)[number], id?: string, kerasVersion?: string) {
  const { artifacts } = toArtifacts(new GraphBuilder('m', [4]).dense(2, { name: 'fc', activation: fn }).build());
  const topology = structuredClone(artifacts.modelTopology) as Obj;
  const fc = (topology.config.layers as Obj[]).find((l) => l.config.name === 'fc') as Obj;
  if (id !== undefined) fc.config.activation = id;
  if (kerasVersion !== undefined) topology.keras_version = kerasVersion;
  return { ...artifacts, modelTopology: topology };
}

const fused = (a: ReturnType<typeof denseWith>) => fromArtifacts(a).nodes.find((n) => n.name === 'fc')?.attrs;

describe('activation fields read and written through the IR activation table', () => {
  it('writes each activation tfjs-layers has by its Keras identifier, and reads it back', () => {
    for (const fn of ACTIVATIONS.filter((f) => activationFacts(f).tfjsLayers)) expect(fused(denseWith(fn))).toEqual(fn === 'linear' ? {} : { activation: fn });
  });

  it('reads Keras aliases with the attrs they imply', () => {
    expect(fused(denseWith('relu', 'silu'))).toEqual({ activation: 'swish' });
    expect(fused(denseWith('relu', 'gelu_new'))).toEqual({ activation: 'gelu', approximate: true });
    expect(fused(denseWith('relu', 'leaky_relu'))).toEqual({ activation: 'leakyRelu', alpha: 0.2 });
  });

  it("reads Keras 3's hard_sigmoid as relu6(x + 3) / 6 and refuses unknown identifiers", () => {
    expect(fused(denseWith('hardSigmoid', undefined, '2.15.0'))).toEqual({ activation: 'hardSigmoid' });
    expect(fused(denseWith('hardSigmoid', undefined, '3.3.3'))).toEqual({ activation: 'hardSigmoid6' });
    expect(() => fused(denseWith('relu', 'mish'))).toThrow(/activation 'mish' is not supported \(supported: relu, relu6, .*silu.*gelu_new/);
  });

  it('writes a fused leaky relu as a LeakyReLU layer after the dense', () => {
    const topology = denseWith('leakyRelu').modelTopology as Obj;
    expect((topology.config.layers as Obj[]).map((l) => l.class_name)).toEqual(['InputLayer', 'Dense', 'LeakyReLU']);
  });

  it("writes Keras 3's hard sigmoid and hard swish as the tfjs-layers that compute them", () => {
    const classes = (fn: 'hardSigmoid6' | 'hardSwish') => ((denseWith(fn).modelTopology as Obj).config.layers as Obj[]).map((l) => l.class_name);
    expect(classes('hardSigmoid6')).toEqual(['InputLayer', 'Dense', 'Rescaling', 'ReLU', 'Rescaling']);
    expect(classes('hardSwish')).toEqual(['InputLayer', 'Dense', 'Rescaling', 'ReLU', 'Rescaling', 'Multiply']);
  });
});
