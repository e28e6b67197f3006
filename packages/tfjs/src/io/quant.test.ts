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

const PICK: Record<string, QDtype> = {
  'conv/kernel': 'uint8',
  'conv/bias': 'float16',
  'fc1/kernel': 'uint16',
  'fc1/bias': 'uint8',
  'fc2/kernel': 'float16',
  'fc2/bias': 'uint8',
};

describe('quantized weight manifests', () => {
  it('decodes uint8/uint16/float16 manifests exactly as TF.js does, as plain values, and writes each back in its own encoding and bytes', async () => {
    const m = smallModel();
    const src = join(tmp.dir, 'q-src');
    await writeModelFiles(
      src,
      quantizeArtifacts(await artifactsOf(m), (n) => PICK[n]),
    );
    const stock = await loadStock(src);
    const stockW = stockWeights(stock);
    const graph = await loadModel(src);
    const srcManifest = JSON.parse(await readFile(join(src, 'model.json'), 'utf8')).weightsManifest[0].weights as tf.io.WeightsManifestEntry[];

    for (const name of Object.keys(PICK)) {
      const p = getParam(graph, name);
      expect(equalBits(p.data, stockW.get(name)!), `${name}: the values TF.js decodes, bit for bit`).toBe(true);
      // The file's encoding is where the weight came from, not a compression annotation.
      expect([p.quant, p.float16, p.codebook]).toEqual([undefined, undefined, undefined]);
      expect(p.stored?.entry.quantization).toEqual(srcManifest.find((w) => w.name === name)!.quantization);
    }

    const out = join(tmp.dir, 'q-out');
    const saved = await saveModel(graph, out);
    expect(saved.notes).toEqual([]);
    const manifest = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')).weightsManifest[0].weights as tf.io.WeightsManifestEntry[];
    for (const w of manifest) expect(w.quantization, w.name).toEqual(srcManifest.find((s) => s.name === w.name)!.quantization);
    const exported = await loadStock(out);
    for (const [name, data] of stockWeights(exported)) expect(equalBits(data, stockW.get(name)!), name).toBe(true);
    const x = randomInput(m);
    expect(Array.from(predict(exported, x))).toEqual(Array.from(predict(stock, x)));
    const size = async (dir: string) => (await stat(join(dir, 'group1-shard1of1.bin'))).size;
    expect(await size(out)).toBe(await size(src));
  });

  it('keeps the input grid through a stage that leaves the values on it, and says when a weight outgrows its input', async () => {
    const src = join(tmp.dir, 'q-stage');
    await writeModelFiles(
      src,
      quantizeArtifacts(await artifactsOf(smallModel()), (n) => PICK[n]),
    );
    const graph = await loadModel(src);
    const k = getParam(graph, 'conv/kernel'); // uint8, its zero point a whole code: 0 is on the grid
    setMask(
      k,
      Uint8Array.from(k.data, (_, i) => (i % 2 === 0 ? 0 : 1)),
    );
    getParam(graph, 'fc1/kernel').data[0] += 1e-3; // a stage moved one value off the uint16 grid
    const { artifacts, notes, encodings } = toArtifacts(graph);
    const byName = Object.fromEntries(encodings.map((e) => [e.weight, e]));
    expect(byName['conv/kernel']).toMatchObject({ dtype: 'uint8', maxError: 0 });
    expect(byName['conv/kernel'].reason).toMatch(/the values lie on the input's uint8 grid/);
    expect(byName['fc1/bias'].reason).toMatch(/bytes unchanged/);
    expect(byName['fc1/kernel']).toMatchObject({ dtype: 'float32', bytes: getParam(graph, 'fc1/kernel').data.length * 4 });
    expect(notes).toEqual([expect.stringMatching(/^param 'fc1\/kernel': written as float32 .* larger than the input's uint16 .*: a stage changed the values/)]);
    const stock = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    for (const [name, data] of stockWeights(stock)) expect(equalBits(data, getParam(graph, name).data), name).toBe(true);
  });

  describe('export of IR annotations', () => {
    async function graphOf(): Promise<{ graph: Graph; model: tfl.LayersModel }> {
      const model = smallModel();
      return { graph: fromArtifacts(await artifactsOf(model)), model };
    }
    const load = (g: Graph, o = {}) => {
      const { artifacts, notes, encodings } = toArtifacts(g, o);
      return { artifacts, notes, encodings, model: tfl.loadLayersModel(tf.io.fromMemory(artifacts)) };
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

    it('writes what TF.js cannot express in the smallest encoding within the tolerance the compression states', async () => {
      const { graph } = await graphOf();
      const fc1 = getParam(graph, 'fc1/kernel'); // [64, 8]
      // Per channel, with scales far apart: no common grid holds it, float16 does within scale / 8.
      setQuant(fc1, { bits: 8, signed: true, axis: 1, scale: Float32Array.from({ length: 8 }, (_, c) => 0.003 * 1.7 ** c), zeroPoint: new Int32Array(8) });
      const conv = getParam(graph, 'conv/kernel');
      setCodebook(conv, { bits: 2, centroids: Float32Array.of(-0.2, 0, 0.1, 0.3), indices: Uint16Array.from(conv.data, (_, i) => i % 4) });
      const fc2 = getParam(graph, 'fc2/kernel');
      setQuant(fc2, { bits: 8, signed: false, scale: Float32Array.of(0.01), zeroPoint: Int32Array.of(128) });
      fc2.data[0] += 0.0037; // a stage moved it off the grid: exact uint8 no longer holds it, a uint16 grid does within scale / 8
      const { artifacts, notes, encodings, model } = load(graph);
      expect(notes).toEqual([]); // the input was float32: nothing grew
      const byName = Object.fromEntries(encodings.map((e) => [e.weight, e]));
      expect(['fc1/kernel', 'conv/kernel', 'fc2/kernel'].map((n) => byName[n].bytes / getParam(graph, n).data.length)).toEqual([2, 1, 2]);
      expect(byName['fc1/kernel'].reason).toMatch(/affine quantization: each value within a quarter of its error bound/);
      expect(byName['conv/kernel'].reason).toMatch(/codebook \(4 centroids\).*uint8 grid/);
      expect(dtypeOf(artifacts, 'fc2/kernel')).toBe('uint16');
      const stock = stockWeights(await model);
      const within = (name: string, tol: (i: number) => number) => {
        const want = getParam(graph, name).data;
        return stock.get(name)!.every((v, i) => Math.abs(v - want[i]) <= tol(i));
      };
      expect(within('fc1/kernel', (i) => (0.003 * 1.7 ** (i % 8)) / 8)).toBe(true);
      expect(within('conv/kernel', () => 0.1 / 8)).toBe(true);
      expect(within('fc2/kernel', () => 0.01 / 8)).toBe(true);
      // Exact float encodings only, on request.
      expect(load(graph, { quantized: 'dequantize' }).encodings.every((e) => e.dtype === 'float32' && e.maxError === 0)).toBe(true);
    });

    it("writes group-wise quantization (no stock form) within each row group's own tolerance, or exactly as float32 on request", async () => {
      const { graph } = await graphOf();
      const conv = getParam(graph, 'conv/kernel');
      const q = { axis: 3, group: { size: 4 } };
      const { slots, slotOf } = quantSlots(conv.shape, q);
      // Scales shrinking group by group: a tolerance read per channel only (the first group's) would be too loose.
      const scale = Float32Array.from({ length: slots }, (_, s) => 0.05 / (1 + s));
      setQuant(conv, { bits: 4, signed: true, ...q, scale, zeroPoint: new Int32Array(slots) });
      const { notes, encodings, model } = load(graph);
      expect(notes).toEqual([]); // the input was float32: nothing grew
      const e = encodings.find((x) => x.weight === 'conv/kernel')!;
      expect(e.bytes).toBeLessThan(conv.data.length * 4);
      expect(e.reason).toMatch(/affine quantization: each value within a quarter of its error bound/);
      const written = stockWeights(await model).get('conv/kernel')!;
      expect(written.every((v, i) => Math.abs(v - conv.data[i]) <= scale[slotOf(i)] / 8)).toBe(true);
      const exact = load(graph, { quantized: 'dequantize' });
      const f = exact.encodings.find((x) => x.weight === 'conv/kernel')!;
      expect(f).toMatchObject({ dtype: 'float32', maxError: 0 });
      expect(f.reason).toMatch(/group-wise \(axis 3, groups of 4 rows\) quantization has no stock TF.js form/);
      expect(equalBits(stockWeights(await exact.model).get('conv/kernel')!, conv.data)).toBe(true);
    });

    it('writes masked weights as zeros, float16 params as float16, and everything as float16 on request', async () => {
      const { graph } = await graphOf();
      const k = getParam(graph, 'fc1/kernel');
      setMask(
        k,
        Uint8Array.from(k.data, (_, i) => (i % 3 === 0 ? 0 : 1)),
      );
      k.data[3] = 5; // a stage that forgot to re-apply the mask
      setFloat16(getParam(graph, 'fc2/kernel'));
      const { artifacts, notes, model } = load(graph);
      expect(notes).toEqual([]);
      expect(dtypeOf(artifacts, 'fc2/kernel')).toBe('float16');
      expect(dtypeOf(artifacts, 'fc1/kernel')).toBe('float32');
      const w = stockWeights(await model);
      expect(
        w
          .get('fc1/kernel')!
          .filter((_, i) => i % 3 === 0)
          .every((v) => v === 0),
      ).toBe(true);
      expect(w.get('fc1/kernel')![1]).toBe(k.data[1]);
      expect(equalBits(w.get('fc2/kernel')!, getParam(graph, 'fc2/kernel').data)).toBe(true);

      const half = load(graph, { float16: true });
      expect(half.artifacts.weightSpecs!.every((s) => s.quantization?.dtype === 'float16')).toBe(true);
      expect(half.notes).toEqual([]);
      expect(half.encodings.find((e) => e.weight === 'conv/kernel')!.reason).toMatch(/rounded to float16 as asked/);
      const hw = stockWeights(await half.model);
      expect(maxAbsDiff(hw.get('conv/kernel')!, getParam(graph, 'conv/kernel').data)).toBeLessThan(1e-3);
    });
  });
});
