import { lenet300100, setMask, setQuant } from '@condense/ir';
import { describe, expect, it } from 'vitest';
import { checkContracts, checkPipeline, ContractError, graphCapabilities } from './contract.js';
import type { Plugin } from './plugin.js';

const stage = (name: string, contract: Plugin['contract']): Plugin => ({ name, options: {}, contract });
const encode = stage('codec.deepCompression', { provides: ['encoded'], final: true });
const kmeans = stage('quantize.kmeans', { provides: ['codebook'], conflicts: ['encoded'] });
const thinet = stage('thinet', { provides: ['structure'], conflicts: ['codebook', 'encoded'] });
const prune = stage('prune.magnitude', { provides: ['mask'], conflicts: ['codebook', 'encoded'] });
const centroidTraining = stage('quantize.train', { needs: ['codebook'] });

describe('pipeline contracts', () => {
  it('accepts the Deep Compression order', () => {
    expect(() => checkContracts([prune, kmeans, encode])).not.toThrow();
  });

  it('refuses anything after the final encoding, naming both stages', () => {
    expect(() => checkContracts([prune, encode, kmeans])).toThrow(ContractError);
    expect(() => checkContracts([prune, encode, kmeans])).toThrow(
      'stage 3 (quantize.kmeans) comes after stage 2 (codec.deepCompression), which must be the last stage',
    );
  });

  it('refuses a structural removal that would drop codebooks', () => {
    expect(() => checkContracts([kmeans, thinet])).toThrow(
      'stage 2 (thinet) cannot run after stage 1 (quantize.kmeans): it would drop the codebook that stage left on the graph',
    );
  });

  it('refuses a stage whose needs no earlier stage provides', () => {
    expect(() => checkContracts([centroidTraining])).toThrow(/stage 1 \(quantize.train\) needs codebook/);
    expect(() => checkContracts([kmeans, centroidTraining])).not.toThrow();
  });

  it('checks required data against the context', () => {
    const ft = stage('finetune', { requires: ['labels'] });
    expect(() => checkContracts([ft])).toThrow(/stage 1 \(finetune\) needs training data/);
    const split = { images: new Float32Array(4), labels: new Uint8Array(1), count: 1, shape: [1, 2, 2, 1] };
    expect(() => checkContracts([ft], { data: { train: split } })).not.toThrow();
  });

  it('lets a stage invalidate state, so later conflicts clear', () => {
    const dequantize = stage('dequantize', { invalidates: ['codebook'] });
    expect(() => checkContracts([kmeans, dequantize, thinet])).not.toThrow();
  });

  it("takes the input model's compression state, not its file encoding, as given", () => {
    const g = lenet300100(1);
    const k = g.params.get('fc1/kernel')!;
    // A uint8 manifest is where the weights came from: no capability, nothing refused.
    k.stored = {
      entry: { name: k.name, shape: k.shape, dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.01, min: -1.28 } },
      bytes: new Uint8Array(0),
    };
    expect(graphCapabilities(g)).toEqual([]);
    expect(() => checkPipeline([prune, kmeans, encode], {}, g)).not.toThrow();
    setQuant(g.params.get('fc2/kernel')!, { bits: 8, signed: true, scale: Float32Array.of(0.01), zeroPoint: Int32Array.of(0) });
    setMask(k, new Uint8Array(k.data.length).fill(1));
    expect(graphCapabilities(g).sort()).toEqual(['mask', 'quant']);
    const affineOnly = stage('quantize.kmeans', { provides: ['codebook'], conflicts: ['quant', 'encoded'] });
    expect(() => checkPipeline([prune, affineOnly], {}, g)).toThrow(
      'stage 2 (quantize.kmeans) cannot run on this model: its params carry quant annotations, which this stage would drop',
    );
  });

  it("runs each stage's own check on the input model before anything, naming the stage", () => {
    const g = lenet300100(1);
    const picky = {
      ...stage('kronecker.factorize', {}),
      check: () => {
        throw new Error("layer 'fc1': kernel 'fc1/kernel' carries mask");
      },
    };
    expect(() => checkPipeline([prune, picky], {}, g)).toThrow(
      "stage 2 (kronecker.factorize) cannot run on this model: layer 'fc1': kernel 'fc1/kernel' carries mask",
    );
  });
});
