#!/usr/bin/env node
// GPTQ vs round-to-nearest and SparseGPT vs magnitude pruning on LeNet-5 / Fashion-MNIST,
// calibration only (no fine-tuning).
// Run after `npm run build`:
//   node tools/reconstruct/lenet5-gptq.mjs [--quick] [--calibration 512] [--checkpoint DIR] [--seed 1]
// Trains LeNet-5 as the deep-compression-lenet5 benchmark does (first 10k training images,
// 8 cosine epochs; --quick: 2,000 images, 2 epochs), or loads --checkpoint when it exists, then
// quantizes every kernel layer sequentially (each layer calibrated on the already-quantized
// prefix) and evaluates on the test set (10k; --quick: 1,000).
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { cloneGraph, lenet5, rng, setMask, shuffle } from '@condense/ir';
import { pruneToSparsity } from '@condense/prune';
import { gptqLayer, kernelLayers, sequential, sparseGptLayer } from '@condense/reconstruct';
import * as tfjs from '@condense/tfjs';
import { accuracy, benchBackend, benchData, fit, pct } from '../bench/lib.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    calibration: { type: 'string', default: '512' },
    checkpoint: { type: 'string' },
    seed: { type: 'string', default: '1' },
    backend: { type: 'string' },
  },
});
const quick = values.quick;
const seed = Number(values.seed);
const log = (s) => console.error(s);

const backend = await benchBackend(values.backend);
const fm = await benchData({ quick }, { train: 10000, quickTrain: 2000, quickTest: 1000 });
log(`backend ${backend}; train ${fm.train.count}, test ${fm.test.count}`);

let graph;
let trainS = 0;
if (values.checkpoint && existsSync(values.checkpoint)) {
  graph = await tfjs.loadModel(values.checkpoint);
  log(`loaded ${values.checkpoint}`);
} else {
  graph = lenet5(seed);
  const t = performance.now();
  await fit(graph, fm.train, { epochs: quick ? 2 : 8, lr: 1e-3, schedule: 'cosine', seed, log });
  trainS = (performance.now() - t) / 1000;
  if (values.checkpoint) await tfjs.saveModel(graph, values.checkpoint);
}

// Calibration: a seeded random draw of training images.
const size = 28 * 28;
const count = Math.min(Number(values.calibration), fm.train.count);
const picks = shuffle(Int32Array.from({ length: fm.train.count }, (_, i) => i), rng(seed + 1000)).subarray(0, count);
const calib = new Float32Array(count * size);
picks.forEach((p, i) => calib.set(fm.train.images.subarray(p * size, (p + 1) * size), i * size));

/** The input of `node` on the calibration images, computed by TF.js on the graph as it is now. */
function* layerInputs(g, node) {
  const model = tfjs.compile(g);
  try {
    for (let s = 0; s < count; s += 128) {
      const n = Math.min(128, count - s);
      const tap = tf.tidy(() => model.predict(tf.tensor(calib.subarray(s * size, (s + n) * size), [n, 28, 28, 1]), { taps: [node.inputs[0]] }).taps[node.inputs[0]]);
      yield { data: tap.dataSync(), shape: tap.shape };
      tap.dispose();
    }
  } finally {
    model.dispose();
  }
}

/** Compress `layers` sequentially with `compress(graph, stats)`, then evaluate. */
async function run(label, compress, layers = kernelLayers(graph)) {
  const g = cloneGraph(graph);
  const t = performance.now();
  const steps = await sequential(g, layers, layerInputs, (stats) => compress(g, stats));
  const seconds = (performance.now() - t) / 1000;
  const acc = await accuracy(g, fm.test);
  const layerErrors = steps.map((s) => `${s.layer} ${(s.result.error.relativeAfter * 100).toFixed(2)}%`).join(', ');
  const statsMs = steps.reduce((a, s) => a + s.stats.ms, 0);
  const solveMs = steps.reduce((a, s) => a + s.result.ms, 0);
  log(`${label}: accuracy ${pct(acc)}, ${seconds.toFixed(1)} s (statistics ${(statsMs / 1000).toFixed(1)} s, solver ${(solveMs / 1000).toFixed(1)} s); relative output error ${layerErrors}`);
  return {
    label, accuracy: acc, seconds: +seconds.toFixed(2), statistics_s: +(statsMs / 1000).toFixed(2), solver_s: +(solveMs / 1000).toFixed(2),
    layers: steps.map((s) => ({ ...s.stats, relativeBefore: s.result.error.relativeBefore, relativeAfter: s.result.error.relativeAfter })),
  };
}

/** Magnitude pruning of `layers` (no data): `prune(param)` sets each kernel's mask. */
async function magnitude(label, prune, layers = kernelLayers(graph)) {
  const g = cloneGraph(graph);
  for (const layer of layers) prune(g.params.get(`${layer}/kernel`));
  const acc = await accuracy(g, fm.test);
  log(`${label}: accuracy ${pct(acc)}`);
  return { label, accuracy: acc };
}

/** n of every m consecutive kernel rows of each output column pruned by magnitude (the 2:4 baseline). */
function magnitudeNm(p, n, m) {
  const cols = p.shape.at(-1);
  const mask = new Uint8Array(p.data.length).fill(1);
  for (let r0 = 0; r0 < p.data.length / cols; r0 += m) for (let c = 0; c < cols; c++) {
    const group = Array.from({ length: m }, (_, j) => (r0 + j) * cols + c).sort((a, b) => Math.abs(p.data[a]) - Math.abs(p.data[b]));
    for (const i of group.slice(0, n)) mask[i] = 0;
  }
  setMask(p, mask);
}

const float = await accuracy(graph, fm.test);
log(`float: accuracy ${pct(float)}${trainS ? `, trained in ${trainS.toFixed(1)} s` : ''}`);
const rows = [];
for (const bits of [4, 3]) {
  rows.push(await run(`RTN ${bits}-bit`, (g, s) => gptqLayer(g, s, { bits, compensate: false })));
  rows.push(await run(`GPTQ ${bits}-bit`, (g, s) => gptqLayer(g, s, { bits })));
  rows.push(await run(`GPTQ ${bits}-bit act-order`, (g, s) => gptqLayer(g, s, { bits, actOrder: true })));
}
for (const sparsity of [0.5, 0.7, 0.9]) {
  rows.push(await magnitude(`magnitude ${sparsity * 100}%`, (p) => pruneToSparsity(p, sparsity)));
  rows.push(await run(`SparseGPT ${sparsity * 100}%`, (g, s) => sparseGptLayer(g, s, { sparsity })));
}
// conv1's 25 kernel rows do not split into groups of 4: it stays dense in both.
const nmLayers = kernelLayers(graph).filter((l) => l !== 'conv1');
rows.push(await magnitude('magnitude 2:4 (conv1 dense)', (p) => magnitudeNm(p, 2, 4), nmLayers));
rows.push(await run('SparseGPT 2:4 (conv1 dense)', (g, s) => sparseGptLayer(g, s, { nm: { n: 2, m: 4 } }), nmLayers));
console.log(JSON.stringify({ backend, calibration: count, train: fm.train.count, test: fm.test.count, train_s: +trainS.toFixed(1), float, rows }, null, 1));
