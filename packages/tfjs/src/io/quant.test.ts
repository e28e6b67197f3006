import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { getParam, quantSlots, setCodebook, setFloat16, setMask, setQuant, toFloat16Bits, type Graph } from '@condense/ir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromArtifacts, loadModel, saveModel, toArtifacts } from './index.js';
import { artifactsOf, loadStock, maxAbsDiff, predict, randomInput, randomizeWeights, tempDir, tf, tfl, useCpu, writeModelFiles } from './test-helpers.js';

type QDtype = 'uint8' | 'uint16' | 'float16';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  await useCpu();
  tmp = await tempDir();
});
afterAll(() => tmp.done());

/** Affine quantization exactly as tfjs-converter's quantization.py does it (zero point nudged when 0 is in range). */
function converterQuantize(data: Float32Array, dtype: 'uint8' | 'uint16'): { codes: Uint8Array | Uint16Array; scale: number; min: number } {
  const qmax = dtype === 'uint8' ? 255 : 65535;
  const codes = dtype === 'uint8' ? new Uint8Array(data.length) : new Uint16Array(data.length);
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) [min, max] = [Math.min(min, v), Math.max(max, v)];
  if (min === max) return { codes, scale: 1, min };
  const scale = (max - min) / qmax;
  const nudgedMin = min <= 0 && max >= 0 ? -Math.round(-min / scale) * scale : min;
  const nudgedMax = qmax * scale + nudgedMin;
  data.forEach((v, i) => (codes[i] = Math.round((Math.min(Math.max(v, nudgedMin), nudgedMax) - nudgedMin) / scale)));
  return { codes, scale, min: nudgedMin };
}

/** Re-encode float32 artifacts with quantized manifests, as the converter's --quantize flags would. */
function quantizeArtifacts(a: tf.io.ModelArtifacts, pick: (name: string) => QDtype | undefined): tf.io.ModelArtifacts {
  const src = new Float32Array(tf.io.concatenateArrayBuffers(a.weightData!));
  const parts: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  let off = 0;
  for (const spec of a.weightSpecs!) {
    const n = spec.shape.reduce((x, y) => x * y, 1);
    const data = src.slice(off, off + n);
    off += n;
    const q = pick(spec.name);
    if (q === 'float16') {
      parts.push(new Uint8Array(Uint16Array.from(data, toFloat16Bits).buffer));
      specs.push({ ...spec, quantization: { dtype: 'float16' } });
    } else if (q) {
      const { codes, scale, min } = converterQuantize(data, q);
      parts.push(new Uint8Array(codes.buffer));
      specs.push({ ...spec, quantization: { dtype: q, scale, min } });
    } else {
      parts.push(new Uint8Array(data.buffer));
      specs.push(spec);
    }
  }
  const weightData = tf.io.concatenateArrayBuffers(parts.map((p) => p.slice().buffer));
  return { ...a, weightSpecs: specs, weightData };
}

/** The weights a stock-loaded model holds, by manifest name. */
function stockWeights(model: tfl.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
}

const equalBits = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

function smallModel(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 4, kernelSize: 3, name: 'conv' }));
  m.add(tfl.layers.flatten({ name: 'flat' }));
  m.add(tfl.layers.dense({ units: 8, activation: 'relu', name: 'fc1' }));
  m.add(tfl.layers.dense({ units: 3, name: 'fc2' }));
  randomizeWeights(m);
  // An all-positive bias: its manifest min is not a whole number of steps, so it has no IR affine form.
  m.getLayer('fc2').setWeights([m.getLayer('fc2').getWeights()[0], tf.tensor1d([0.3, 0.5, 0.9])]);
  return m;
}

const PICK: Record<string, QDtype> = { 'conv/kernel': 'uint8', 'conv/bias': 'float16', 'fc1/kernel': 'uint16', 'fc1/bias': 'uint8', 'fc2/kernel': 'float16', 'fc2/bias': 'uint8' };

describe('quantized weight manifests', () => {
  it('decodes uint8/uint16/float16 manifests, annotates them, and re-exports them exactly', async () => {
    const m = smallModel();
    const src = join(tmp.dir, 'q-src');
    await writeModelFiles(src, quantizeArtifacts(await artifactsOf(m), (n) => PICK[n]));
    const stock = await loadStock(src);
    const stockW = stockWeights(stock);
    const graph = await loadModel(src);

    for (const [name, dtype] of Object.entries(PICK)) {
      const p = getParam(graph, name);
      const want = stockW.get(name)!;
      if (dtype === 'float16') {
        expect(p.float16).toBe(true);
        expect(equalBits(p.data, want)).toBe(true);
      } else if (name === 'fc2/bias') {
        expect(p.quant).toBeUndefined();
        expect(equalBits(p.data, want)).toBe(true);
      } else {
        expect(p.quant).toMatchObject({ bits: dtype === 'uint8' ? 8 : 16, signed: false });
        expect(p.quant!.zeroPoint[0]).toBeGreaterThan(0);
        // The IR keeps data = scale * (q - zeroPoint) with a float32 scale: within float32 rounding of what TF.js decodes.
        const largest = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        expect(maxAbsDiff(p.data, want)).toBeLessThanOrEqual(largest * 2 ** -22);
      }
    }

    const out = join(tmp.dir, 'q-out');
    const saved = await saveModel(graph, out);
    expect(saved.notes).toEqual([]);
    const manifest = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')).weightsManifest[0].weights as tf.io.WeightsManifestEntry[];
    const dtypes = Object.fromEntries(manifest.map((w) => [w.name, w.quantization?.dtype ?? w.dtype]));
    expect(dtypes).toEqual({ ...PICK, 'fc2/bias': 'float32' });

    const exported = await loadStock(out);
    for (const [name, data] of stockWeights(exported)) expect(equalBits(data, getParam(graph, name).data), name).toBe(true);
    const x = randomInput(m);
    expect(maxAbsDiff(predict(exported, x), predict(stock, x))).toBeLessThan(1e-5);
    // Quantized storage: well under the float32 bytes.
    const floatBytes = [...graph.params.values()].reduce((a, p) => a + p.data.length * 4, 0);
    expect((await stat(join(out, 'group1-shard1of1.bin'))).size).toBeLessThan(floatBytes / 2);
  });

  describe('export of IR annotations', () => {
    async function graphOf(): Promise<{ graph: Graph; model: tfl.LayersModel }> {
      const model = smallModel();
      return { graph: fromArtifacts(await artifactsOf(model)), model };
    }
    const load = (g: Graph, o = {}) => {
      const { artifacts, notes } = toArtifacts(g, o);
      return { artifacts, notes, model: tfl.loadLayersModel(tf.io.fromMemory(artifacts)) };
    };
    const dtypeOf = (a: tf.io.ModelArtifacts, name: string) => {
      const w = a.weightSpecs!.find((s) => s.name === name)!;
      return w.quantization?.dtype ?? w.dtype;
    };

    it('writes per-tensor affine params (unsigned, signed int8, 4-bit) as uint8/uint16 manifests equal to the IR data', async () => {
      const { graph, model } = await graphOf();
      setQuant(getParam(graph, 'fc1/kernel'), { bits: 8, signed: true, scale: Float32Array.of(0.004), zeroPoint: Int32Array.of(-3) });
      setQuant(getParam(graph, 'conv/kernel'), { bits: 4, signed: false, scale: Float32Array.of(0.07), zeroPoint: Int32Array.of(7) });
      setQuant(getParam(graph, 'fc2/kernel'), { bits: 12, signed: false, scale: Float32Array.of(0.0003), zeroPoint: Int32Array.of(2000) });
      const { artifacts, notes, model: loaded } = load(graph);
      expect(notes).toEqual([]);
      expect([dtypeOf(artifacts, 'fc1/kernel'), dtypeOf(artifacts, 'conv/kernel'), dtypeOf(artifacts, 'fc2/kernel')]).toEqual(['uint8', 'uint8', 'uint16']);
      const exported = await loaded;
      for (const [name, data] of stockWeights(exported)) expect(equalBits(data, getParam(graph, name).data), name).toBe(true);
      // Same predictions as the dequantized float32 export of the same IR.
      const dequantized = await load(graph, { quantized: 'dequantize' }).model;
      const x = randomInput(model);
      expect(maxAbsDiff(predict(exported, x), predict(dequantized, x))).toBe(0);
      expect(dtypeOf(toArtifacts(graph, { quantized: 'dequantize' }).artifacts, 'fc1/kernel')).toBe('float32');
    });

    it('dequantizes what TF.js cannot express and says so', async () => {
      const { graph } = await graphOf();
      const fc1 = getParam(graph, 'fc1/kernel'); // [64, 8]
      setQuant(fc1, { bits: 8, signed: true, axis: 1, scale: new Float32Array(8).fill(0.01), zeroPoint: new Int32Array(8) });
      const conv = getParam(graph, 'conv/kernel');
      setCodebook(conv, { bits: 2, centroids: Float32Array.of(-0.2, 0, 0.1, 0.3), indices: Uint16Array.from(conv.data, (_, i) => i % 4) });
      const fc2 = getParam(graph, 'fc2/kernel');
      setQuant(fc2, { bits: 8, signed: false, scale: Float32Array.of(0.01), zeroPoint: Int32Array.of(128) });
      fc2.data[0] += 0.001; // off the grid
      const { artifacts, notes, model } = load(graph);
      expect(notes).toHaveLength(3);
      expect(notes.find((n) => n.includes("'fc1/kernel'"))).toMatch(/per-channel/);
      expect(notes.find((n) => n.includes("'conv/kernel'"))).toMatch(/codebook/);
      expect(notes.find((n) => n.includes("'fc2/kernel'"))).toMatch(/not exactly on the quantization grid/);
      expect(['fc1/kernel', 'conv/kernel', 'fc2/kernel'].map((n) => dtypeOf(artifacts, n))).toEqual(['float32', 'float32', 'float32']);
      for (const [name, data] of stockWeights(await model)) expect(equalBits(data, getParam(graph, name).data), name).toBe(true);
    });

    it('writes group-wise quantization dequantized, as float32 or float16, with a note', async () => {
      const { graph } = await graphOf();
      const conv = getParam(graph, 'conv/kernel');
      const { slots } = quantSlots(conv.shape, { axis: 3, group: { size: 4 } });
      setQuant(conv, { bits: 4, signed: true, axis: 3, group: { size: 4 }, scale: Float32Array.from({ length: slots }, (_, s) => 0.01 + s / 1000), zeroPoint: new Int32Array(slots) });
      const { artifacts, notes, model } = load(graph);
      expect(notes).toEqual(["param 'conv/kernel': group-wise quantization (axis 3, groups of 4 rows) has no TF.js manifest form; written as float32 (dequantized)"]);
      expect(dtypeOf(artifacts, 'conv/kernel')).toBe('float32');
      expect(equalBits(stockWeights(await model).get('conv/kernel')!, conv.data)).toBe(true);
      const half = load(graph, { float16: true });
      expect(half.notes[0]).toMatch(/groups of 4 rows\) has no TF.js manifest form; written as float16 \(dequantized\)/);
      expect(maxAbsDiff(stockWeights(await half.model).get('conv/kernel')!, conv.data)).toBeLessThan(1e-3);
    });

    it('writes masked weights as zeros, float16 params as float16, and everything as float16 on request', async () => {
      const { graph } = await graphOf();
      const k = getParam(graph, 'fc1/kernel');
      setMask(k, Uint8Array.from(k.data, (_, i) => (i % 3 === 0 ? 0 : 1)));
      k.data[3] = 5; // a stage that forgot to re-apply the mask
      setFloat16(getParam(graph, 'fc2/kernel'));
      const { artifacts, notes, model } = load(graph);
      expect(notes).toEqual([]);
      expect(dtypeOf(artifacts, 'fc2/kernel')).toBe('float16');
      expect(dtypeOf(artifacts, 'fc1/kernel')).toBe('float32');
      const w = stockWeights(await model);
      expect(w.get('fc1/kernel')!.filter((_, i) => i % 3 === 0).every((v) => v === 0)).toBe(true);
      expect(w.get('fc1/kernel')![1]).toBe(k.data[1]);
      expect(equalBits(w.get('fc2/kernel')!, getParam(graph, 'fc2/kernel').data)).toBe(true);

      const half = load(graph, { float16: true });
      expect(half.artifacts.weightSpecs!.every((s) => s.quantization?.dtype === 'float16')).toBe(true);
      expect(half.notes).toEqual(['float16: float32 weights were rounded to float16']);
      const hw = stockWeights(await half.model);
      expect(maxAbsDiff(hw.get('conv/kernel')!, getParam(graph, 'conv/kernel').data)).toBeLessThan(1e-3);
    });
  });
});
