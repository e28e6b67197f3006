// A realistic, deterministic Report for tests and previews: Deep Compression on LeNet-300-100
// (prune -> finetune -> k-means quantize -> Huffman). Numbers are made up but plausible;
// the histograms come from real random-normal weights put through prune and weight sharing.
import { gaussian, rng } from '@condense/ir';
import type { Snapshot } from '../snapshot.js';
import { histogram, type LayerReport, type Report, type SensitivityCurve } from './data.js';

interface LayerSpec {
  node: string;
  shape: [number, number];
  keep: number;
  bits: number;
}

const LAYERS: LayerSpec[] = [
  { node: 'dense_1', shape: [784, 300], keep: 0.08, bits: 5 },
  { node: 'dense_2', shape: [300, 100], keep: 0.09, bits: 5 },
  { node: 'dense_3', shape: [100, 10], keep: 0.26, bits: 6 },
];

function initWeights(spec: LayerSpec, next: () => number): Float32Array {
  const std = Math.sqrt(2 / spec.shape[0]);
  const w = new Float32Array(spec.shape[0] * spec.shape[1]);
  for (let i = 0; i < w.length; i++) w[i] = next() * std;
  return w;
}

/** Keeps the largest `keep` fraction by magnitude, then nudges survivors outward as retraining does. */
function pruneAndRetrain(w: Float32Array, keep: number, next: () => number): Float32Array {
  const mags = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) mags[i] = Math.abs(w[i]);
  const threshold = mags.sort()[Math.floor((1 - keep) * mags.length)];
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) if (Math.abs(w[i]) >= threshold) out[i] = w[i] * (1.05 + 0.05 * next());
  return out;
}

/** 1-D k-means with linear initialisation (Deep Compression); zeros stay zero. */
function weightShare(w: Float32Array, bits: number): { data: Float32Array; centroids: number[] } {
  const nz = w.filter((v) => v !== 0);
  const lo = nz.reduce((m, v) => Math.min(m, v), Infinity);
  const hi = nz.reduce((m, v) => Math.max(m, v), -Infinity);
  const k = 2 ** bits;
  let centroids = Array.from({ length: k }, (_, i) => lo + ((hi - lo) * i) / (k - 1));
  // 1-D Lloyd keeps centroids sorted, so the nearest one is found by bisection.
  const nearest = (v: number) => {
    let a = 0;
    let b = k - 1;
    while (b - a > 1) {
      const m = (a + b) >> 1;
      if (centroids[m] <= v) a = m;
      else b = m;
    }
    return Math.abs(centroids[a] - v) <= Math.abs(centroids[b] - v) ? a : b;
  };
  for (let iter = 0; iter < 6; iter++) {
    const sum = new Float64Array(k);
    const count = new Float64Array(k);
    for (const v of nz) {
      const j = nearest(v);
      sum[j] += v;
      count[j]++;
    }
    centroids = centroids.map((c, j) => (count[j] ? sum[j] / count[j] : c));
  }
  return { data: w.map((v) => (v === 0 ? 0 : centroids[nearest(v)])), centroids };
}

function layerReport(spec: LayerSpec, data: Float32Array, bits: number, encoding: LayerReport['encoding'], centroids?: number[]): LayerReport {
  const nonzero = data.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
  return {
    node: spec.node,
    op: 'dense',
    param: 'kernel',
    shape: spec.shape,
    params: data.length,
    nonzero,
    sparsity: 1 - nonzero / data.length,
    bits,
    bytes: Math.ceil((nonzero * (bits + (nonzero < data.length ? 4 : 0))) / 8) + (centroids ? centroids.length * 4 : 0),
    encoding,
    histogram: histogram(data),
    ...(centroids ? { centroids } : {}),
  };
}

function sensitivity(): SensitivityCurve[] {
  // Later, smaller layers are more sensitive (Han et al. 2015, figure 5).
  const shapes: [string, number, number][] = [
    ['dense_1', 9, 0.28],
    ['dense_2', 6, 0.33],
    ['dense_3', 3, 0.45],
  ];
  const levels = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
  return shapes.map(([layer, p, drop]) => ({
    layer,
    points: levels.map((s) => ({ sparsity: s, accuracy: Math.max(0.1, 0.8912 - drop * s ** p) })),
  }));
}

function stage(index: number, name: string, s: Partial<Snapshot>): Snapshot {
  const params = 266_610; // 266,200 weights + 410 biases
  return {
    index,
    stage: name,
    params,
    nonzero: params,
    bytes: params * 4,
    float32Bytes: params * 4,
    macs: 266_200,
    effectiveMacs: 266_200,
    epochs: 0,
    wallMs: 0,
    ...s,
  };
}

/** The sample report; `accuracy: false` drops every accuracy, as a run without test data would. */
export function sampleReport(opts: { accuracy?: boolean; seed?: number } = {}): Report {
  const next = gaussian(rng(opts.seed ?? 7));
  const before: LayerReport[] = [];
  const after: LayerReport[] = [];
  for (const spec of LAYERS) {
    const w = initWeights(spec, next);
    before.push(layerReport(spec, w, 32, 'float32'));
    const shared = weightShare(pruneAndRetrain(w, spec.keep, next), spec.bits);
    after.push(layerReport(spec, shared.data, spec.bits, 'codebook', shared.centroids));
  }
  const nz = 21_560;
  const stages: Snapshot[] = [
    stage(0, 'input', { accuracy: 0.8912, loss: 0.301 }),
    stage(1, 'prune.magnitude', {
      nonzero: nz + 410,
      bytes: nz * 5,
      effectiveMacs: nz,
      accuracy: 0.8427,
      loss: 0.452,
      wallMs: 184,
      notes: ['threshold = 1.75 x std per layer'],
    }),
    stage(2, 'finetune', { nonzero: nz + 410, bytes: nz * 5, effectiveMacs: nz, epochs: 8, accuracy: 0.8874, loss: 0.318, wallMs: 41_870 }),
    stage(3, 'quantize.kmeans', { nonzero: nz + 410, bytes: 31_240, effectiveMacs: nz, accuracy: 0.8861, loss: 0.322, wallMs: 9_805 }),
    stage(4, 'codec.deep-compression', {
      nonzero: nz + 410,
      bytes: 26_310,
      effectiveMacs: nz,
      accuracy: 0.8861,
      loss: 0.322,
      wallMs: 642,
      notes: ['Huffman saved 15.8% over fixed-width indices'],
    }),
  ];
  if (opts.accuracy === false) for (const s of stages) delete s.accuracy;
  return {
    title: 'Deep Compression of LeNet-300-100 on Fashion-MNIST',
    createdAt: '2025-03-14T09:26:53.000Z',
    model: 'lenet-300-100',
    backend: 'tfjs-node',
    recipe: 'recipes/deep-compression.yaml',
    stages,
    stageDetails: [
      {
        index: 1,
        name: 'prune.magnitude',
        options: { quality: 1.75, schedule: 'oneshot' },
        details: { sparsity: 0.919, sensitivity: sensitivity() },
        notes: ['threshold = 1.75 x std per layer'],
      },
      { index: 2, name: 'finetune', options: { epochs: 8, learningRate: 1e-4, optimizer: 'adam' }, details: { epochs: 8 }, notes: [] },
      { index: 3, name: 'quantize.kmeans', options: { bits: { dense_1: 5, dense_2: 5, dense_3: 6 }, init: 'linear', epochs: 2 }, notes: [] },
      {
        index: 4,
        name: 'codec.deep-compression',
        options: { huffman: true, indexBits: 4 },
        details: { file: 'model.cdz' },
        notes: ['Huffman saved 15.8% over fixed-width indices'],
      },
    ],
    layers: { before, after },
    sensitivity: sensitivity(),
  };
}
