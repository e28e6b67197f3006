// GraphModels (tfjs-converter's graph-model format) through condense: the 15 fixtures of
// tools/graph-fixtures (TensorFlow models put through the converter's graph-model conversion).
// Per fixture: import time, the round trip against stock tf.loadGraphModel (outputs and weight
// bytes), and for each weight-level method the stored size and the agreement with the original
// outputs on the fixture's sample inputs; L1 filter pruning of the MobileNetV2-style graph with
// its latency in stock TF.js before and after.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { cloneGraph, cost } from '@condense/ir';
import { loadModel, toGraphModel, toGraphModelArtifacts } from '@condense/tfjs';
import { quantizeGraphAffine, shareGraphWeights, toFloat16 } from '@condense/quantize';
import { prunableLayers, pruneToSparsity, l1Filter } from '@condense/prune';
import { decodeGraph, encodeGraph } from '@condense/codec';
import { pipeline } from '@condense/core';
import { benchBackend, round } from '../lib.mjs';

const FIXTURES = fileURLToPath(new URL('../../../packages/tfjs/src/io/fixtures/graph/', import.meta.url));
const NAMES = readdirSync(FIXTURES)
  .filter((n) => statSync(join(FIXTURES, n)).isDirectory())
  .sort();
/** Fixtures whose first output is class probabilities or logits: agreement is top-1. */
const CLASSIFIERS = new Set([
  'mobilenet-v2',
  'mobilenet-v2-uint8',
  'mobilenet-v2-float16',
  'resnet-block',
  'resnet-block-uint8',
  'no-format',
  'frozen-classifier',
  'frozen-classifier-uint8',
]);

const json = (dir, f) => JSON.parse(readFileSync(join(dir, f), 'utf8'));

/** An fs IOHandler for stock loadGraphModel. */
function handler(dir) {
  return {
    load: async () => {
      const mj = json(dir, 'model.json');
      return tf.io.getModelArtifactsForJSON(mj, async (m) => [
        m.flatMap((g) => g.weights),
        tf.io.concatenateArrayBuffers(m.flatMap((g) => g.paths).map((p) => new Uint8Array(readFileSync(join(dir, p))).slice().buffer)),
      ]);
    },
  };
}

const weightFileBytes = (dir) =>
  json(dir, 'model.json')
    .weightsManifest.flatMap((g) => g.paths)
    .reduce((a, p) => a + statSync(join(dir, p)).size, 0);
const fileBytes = (dir) => statSync(join(dir, 'model.json')).size + weightFileBytes(dir);

/** The model's outputs (signature keys) on every sample, as plain arrays. */
async function outputsOf(model, sample, keys) {
  const out = [];
  for (const s of sample.samples) {
    const inputs = Object.fromEntries(Object.entries(s.inputs).map(([k, t]) => [k, tf.tensor(t.values, t.shape, t.dtype)]));
    const r = sample.execute === 'execute' ? model.execute(inputs, keys) : await model.executeAsync(inputs, keys);
    const ts = Array.isArray(r) ? r : [r];
    out.push(ts.map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()) })));
    tf.dispose([...ts, ...Object.values(inputs)]);
  }
  return out;
}

/** Agreement of outputs with the original's: top-1 (classifiers), max |diff| over the output scale, mean |diff|. */
function agreement(got, want, classifier) {
  let max = 0;
  let sum = 0;
  let n = 0;
  let scale = 0;
  let same = 0;
  let rows = 0;
  got.forEach((sample, si) =>
    sample.forEach((t, oi) => {
      const w = want[si][oi];
      if (t.shape.join() !== w.shape.join()) {
        max = Infinity;
        return;
      }
      for (let i = 0; i < w.values.length; i++) {
        const d = Math.abs(t.values[i] - w.values[i]);
        max = Math.max(max, d);
        sum += d;
        n++;
        scale = Math.max(scale, Math.abs(w.values[i]));
      }
      if (classifier && oi === 0) {
        const k = w.shape.at(-1);
        for (let r = 0; r < w.values.length / k; r++) {
          const arg = (v) => v.slice(r * k, (r + 1) * k).reduce((b, x, i, a) => (x > a[b] ? i : b), 0);
          same += arg(t.values) === arg(w.values) ? 1 : 0;
          rows++;
        }
      }
    }),
  );
  return {
    ...(classifier ? { top1: round(same / rows, 3) } : {}),
    max_rel_diff: Number((max / Math.max(scale, 1e-30)).toExponential(2)),
    mean_abs_diff: Number((sum / Math.max(n, 1)).toExponential(2)),
  };
}

/** Peak of heap + external + array buffers seen at the sampling points, over a baseline. */
function memorySampler() {
  const now = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const base = now();
  let peak = base;
  return { sample: () => (peak = Math.max(peak, now())), peakMiB: () => round((peak - base) / 2 ** 20, 1) };
}

/** The weight-level methods: each rewrites a copy of the graph; `container` stores it as .cdz (else as model.json + weights). */
const METHODS = [
  { name: 'float16', apply: (g) => toFloat16(g) },
  { name: 'affine int8 per tensor', apply: (g) => quantizeGraphAffine(g, { dtype: 'int8' }) },
  { name: 'affine int8 per channel + container', apply: (g) => quantizeGraphAffine(g, { dtype: 'int8', perChannel: true }), container: true },
  { name: 'k-means 4 bits + container', apply: (g) => shareGraphWeights(g, { bits: 4 }), container: true },
  { name: 'magnitude 50% + container', apply: (g) => prunableLayers(g).forEach((l) => pruneToSparsity(l.param, 0.5)), container: true },
];

/** Stored bytes of a graph written as a graph model (model.json + weights) or as a container. */
function stored(graph, container) {
  if (container) {
    const bytes = encodeGraph(graph).bytes;
    return { bytes: bytes.byteLength, graph: decodeGraph(bytes) };
  }
  const a = toGraphModelArtifacts(graph);
  return { bytes: JSON.stringify(a.modelJson(['group1-shard1of1.bin'])).length + a.artifacts.weightData.byteLength, graph };
}

/** The converter's --quantize_uint8 output (model.json + weights): the -uint8 fixture where there is one, else every float weight written as uint8. */
function converterUint8Bytes(name, graph) {
  const real = join(FIXTURES, `${name}-uint8`);
  if (NAMES.includes(`${name}-uint8`)) return { bytes: fileBytes(real), from: 'converter fixture' };
  const g = cloneGraph(graph);
  quantizeGraphAffine(g, { dtype: 'uint8', kinds: ['weight', 'bias', 'norm', 'other'] });
  return { bytes: stored(g, false).bytes, from: 'every float weight as uint8 (as --quantize_uint8)' };
}

/** Median latency (ms) of two models on one input, timed alternately. */
function latencies(a, b, x, repeats) {
  const once = (m) => {
    const t = performance.now();
    tf.dispose(m.predict(x));
    return performance.now() - t;
  };
  once(a);
  once(b);
  const ta = [];
  const tb = [];
  for (let i = 0; i < repeats; i++) {
    ta.push(once(a));
    tb.push(once(b));
  }
  const med = (v) => v.sort((p, q) => p - q)[v.length >> 1];
  return [med(ta), med(tb)];
}

export default {
  name: 'graph-models',
  order: 95,
  description:
    'GraphModels: import, run and round-trip the 15 tfjs-converter fixtures against stock tf.loadGraphModel; weight-level methods (float16, affine int8 per tensor / per channel + container, k-means 4 bits + container, magnitude 50%) with sizes and agreement; L1 filter pruning of the MobileNetV2-style graph and its latency in stock TF.js',
  checks: {
    roundtrip_exact: (m) => m.roundtrip_exact === NAMES.length,
    smaller_than_converter_uint8: (m) => m.smaller_than_converter_uint8 === NAMES.length,
    l1_latency_speedup: (m) => m.l1_latency_speedup > 1,
  },
  targets: {
    roundtrip_exact: `all ${NAMES.length} fixtures: outputs bit-identical to stock tf.loadGraphModel's and weight bytes identical after import + export`,
    smaller_than_converter_uint8: `all ${NAMES.length}: per-channel int8 + container and k-means + container both smaller than the converter's --quantize_uint8 output`,
    l1_latency_speedup: 'L1 filter pruning (50%) of mobilenet-v2 runs faster in stock TF.js',
  },
  async run({ quick, backend, log }) {
    const backendName = await benchBackend(backend);
    log(`backend ${backendName}; ${NAMES.length} fixtures`);
    const selected = tf.getBackend();
    const fellBack = [];
    const rows = [];
    const methodRows = [];
    let exact = 0;
    let smaller = 0;
    for (const name of NAMES) {
      const dir = join(FIXTURES, name);
      const mem = memorySampler();
      const sample = json(dir, 'sample.json');
      const keys = Object.keys(json(dir, 'model.json').signature.outputs);
      const classifier = CLASSIFIERS.has(name);
      const stock = await loadGraphModel(handler(dir));
      // Some TF.js backends lack a kernel form a fixture uses (WASM's _FusedMatMul takes only a vector bias): run it on the CPU backend.
      const want = await outputsOf(stock, sample, keys).catch(async (e) => {
        log(`${name}: stock TF.js fails on ${tf.getBackend()} (${e.message.split('\n')[0]}); this fixture runs on cpu`);
        fellBack.push(name);
        await tf.setBackend('cpu');
        return outputsOf(stock, sample, keys);
      });
      stock.dispose();
      mem.sample();

      let t = performance.now();
      const graph = await loadModel(dir);
      const importMs = performance.now() - t;
      mem.sample();
      t = performance.now();
      const a = toGraphModelArtifacts(graph);
      const exportMs = performance.now() - t;
      const original = new Uint8Array(readFileSync(join(dir, json(dir, 'model.json').weightsManifest[0].paths[0])));
      const written = new Uint8Array(a.artifacts.weightData);
      const sameBytes = original.length === written.length && original.every((b, i) => b === written[i]);
      const model = toGraphModel(graph);
      const back = await outputsOf(model, sample, keys);
      model.dispose();
      const rt = agreement(back, want, classifier);
      const roundtripExact = sameBytes && rt.max_rel_diff === 0;
      if (roundtripExact) exact++;
      mem.sample();

      const uint8 = converterUint8Bytes(name.replace(/-(uint8|float16|mixed)$/, ''), graph);
      const containers = [];
      for (const m of METHODS) {
        // Each method starts from the weights as decoded: an imported uint8 or float16 encoding is not kept.
        const g = cloneGraph(graph);
        for (const p of g.params.values()) {
          delete p.quant;
          delete p.float16;
        }
        t = performance.now();
        m.apply(g);
        const s = stored(g, m.container);
        const ms = performance.now() - t;
        const gm = toGraphModel(s.graph);
        const ag = agreement(await outputsOf(gm, sample, keys), want, classifier);
        gm.dispose();
        mem.sample();
        if (m.container && m.name !== 'magnitude 50% + container') containers.push(s.bytes);
        methodRows.push({ fixture: name, method: m.name, bytes: s.bytes, vs_converter_uint8: round(uint8.bytes / s.bytes, 2), ...ag, ms: round(ms, 1) });
      }
      if (containers.every((b) => b < uint8.bytes)) smaller++;
      const c = cost(graph);
      const opaque = graph.nodes.filter((n) => n.op === 'tfOp').length;
      rows.push({
        fixture: name,
        nodes: graph.nodes.length,
        opaque,
        params: c.totals.params,
        file_bytes: fileBytes(dir),
        weight_bytes: original.length,
        converter_uint8_bytes: uint8.bytes,
        import_ms: round(importMs, 1),
        export_ms: round(exportMs, 1),
        roundtrip_exact: roundtripExact,
        roundtrip_vs_tf: agreement(
          back,
          sample.samples.map((s) => keys.map((k) => s.outputs[k])),
          classifier,
        ).max_rel_diff,
        peak_mib: mem.peakMiB(),
      });
      log(`${name}: import ${importMs.toFixed(1)} ms, round trip ${roundtripExact ? 'exact' : 'NOT exact'}, ${opaque} opaque of ${graph.nodes.length} nodes`);
      if (tf.getBackend() !== selected) await tf.setBackend(selected);
    }

    // Structural: L1 filter pruning (50% of every prunable group) of mobilenet-v2, timed in stock TF.js.
    const mn = await loadModel(join(FIXTURES, 'mobilenet-v2'));
    const run = await pipeline([l1Filter({ ratio: 0.5 })]).run(mn, {});
    const pruned = run.graph;
    const report = run.stages[0];
    const [before, after] = [cost(mn).totals, cost(pruned).totals];
    const x = tf.randomUniform([64, 32, 32, 3], -1, 1, 'float32', 1);
    const [m0, m1] = [toGraphModel(mn), toGraphModel(pruned)];
    const [ms0, ms1] = latencies(m0, m1, x, quick ? 15 : 61);
    const sample = json(join(FIXTURES, 'mobilenet-v2'), 'sample.json');
    const l1Agree = agreement(await outputsOf(m1, sample, ['probs']), await outputsOf(m0, sample, ['probs']), true);
    tf.dispose([x]);
    m0.dispose();
    m1.dispose();
    log(`mobilenet-v2 L1 filters 50%: MACs ${before.macs} -> ${after.macs}, latency ${ms0.toFixed(2)} -> ${ms1.toFixed(2)} ms`);

    return {
      backend: backendName,
      dataset: { fixtures: NAMES.length, source: 'packages/tfjs/src/io/fixtures/graph (tools/graph-fixtures/make.py)' },
      metrics: {
        fixtures: NAMES.length,
        roundtrip_exact: exact,
        smaller_than_converter_uint8: smaller,
        import_ms_max: round(Math.max(...rows.map((r) => r.import_ms)), 1),
        l1_macs_before: before.macs,
        l1_macs_after: after.macs,
        l1_params_before: before.params,
        l1_params_after: after.params,
        l1_latency_ms_before: round(ms0, 2),
        l1_latency_ms_after: round(ms1, 2),
        l1_latency_speedup: round(ms0 / ms1, 2),
        l1_top1_agreement_untrained: l1Agree.top1,
      },
      tables: {
        'fixtures: import, round trip (export -> stock TF.js) and sizes': rows,
        'weight-level methods: stored bytes (model.json + weights, or the .cdz container) and agreement with the original outputs on the sample inputs':
          methodRows,
        'L1 filter pruning of mobilenet-v2, per group': report.details.layers.map((l) => ({
          group: l.layer,
          before: l.channelsBefore,
          after: l.channelsAfter,
        })),
      },
      notes: [
        "roundtrip_exact: loadModel then export gives weight bytes identical to the fixture's shard and outputs bit-identical to stock tf.loadGraphModel on the original files; roundtrip_vs_tf is the max difference from TensorFlow's own outputs (sample.json) over the output scale.",
        "converter_uint8_bytes: model.json + weights of the converter's --quantize_uint8 output (the -uint8 fixture where one exists, else every float weight written as uint8, as the converter does).",
        'Methods run with their defaults on every selected Const weight (quantize: kinds weight; magnitude: conv/dense kernels), starting from the decoded weights (an imported uint8/float16 encoding dropped); no fine-tuning (graph models here have no training data). The container holds everything needed to rebuild the model (graph, topology, every weight).',
        `L1 filter pruning removes channels for real through fused convs, depthwise convs, pads and residual adds, untrained; latency: median of ${quick ? 15 : 61} stock-TF.js predict calls on a batch of 64, alternating models.`,
        'peak_mib: peak JS heap + external memory over the start of the fixture, sampled after each step.',
        ...(fellBack.length ? [`Run on the CPU backend because stock TF.js fails on ${selected} (a kernel it lacks): ${fellBack.join(', ')}.`] : []),
      ],
    };
  },
};
