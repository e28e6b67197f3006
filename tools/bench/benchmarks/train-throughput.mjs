// Training speed of condense's trainer on each backend, against stock tfjs-layers, TensorFlow/Keras
// CPU and PyTorch on the same networks, and inference latency of the same networks (stock TF.js
// WASM in Node, Keras, PyTorch). Peers are measured in the same run, alternating with WASM.
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { cost, lenet300100, lenet5 } from '@condense/ir';
import { compile, describeBackend, saveModel, selectBackend, train } from '@condense/tfjs';
import { latencyNode } from '../latency.mjs';
import { benchData, round, withTempDir } from '../lib.mjs';
import { startPeer } from '../peers.mjs';
import { ZOO } from '../zoo.mjs';

const BATCH = 128;

/**
 * The networks, under their metric names, with timed steps per run. MobileNetV2 trains on WASM
 * as two micro-batches of 64 (gradients accumulated, one Adam step per 128): in one piece its
 * batch-128 step needs ~2.9 GB of WASM heap, which stops near 2 GB.
 */
const NETWORKS = [
  { key: 'mlp', zoo: 'lenet300100', steps: { quick: 10, full: 60 } },
  { key: 'lenet5', zoo: 'lenet5', steps: { quick: 4, full: 20 } },
  { key: 'resnet20', zoo: 'resnet20', steps: { quick: 2, full: 8 } },
  { key: 'mobilenetv2', zoo: 'mobilenetv2', steps: { quick: 2, full: 6 }, microBatch: 64 },
];

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/** One timed run of condense's trainer: samples/s of `steps` steps. */
async function trainerRun(model, data, steps, microBatch) {
  const t = performance.now();
  await train(model, data, { epochs: 1, batchSize: BATCH, stepsPerEpoch: steps, learningRate: 1e-3, seed: 1, ...(microBatch ? { microBatch } : {}) });
  return (steps * BATCH * 1000) / (performance.now() - t);
}

/** Median samples/s of `repeats` timed runs of `steps` training steps (after one warm-up run). */
async function trainerRate(makeGraph, split, steps, repeats) {
  const model = compile(makeGraph());
  const data = { x: split.images, y: split.labels, count: split.count, shape: [...split.shape] };
  await trainerRun(model, data, steps);
  const rates = [];
  for (let i = 0; i < repeats; i++) rates.push(await trainerRun(model, data, steps));
  model.dispose();
  return median(rates);
}

/**
 * WASM and every peer on one network, alternating: after a warm-up run each, every round times
 * WASM, then each peer. Returns { wasm, [peer]: samples/s } (medians over the rounds).
 */
async function sideBySide(net, split, peers, { steps, repeats }) {
  const model = compile(ZOO[net.zoo].make(1));
  const data = { x: split.images, y: split.labels, count: split.count, shape: [...split.shape] };
  const rates = { wasm: [] };
  await trainerRun(model, data, Math.min(steps, 2), net.microBatch);
  for (const [name, peer] of Object.entries(peers)) {
    rates[name] = [];
    await peer.trainRate(net.zoo, BATCH, Math.min(steps, 2));
  }
  for (let r = 0; r < repeats; r++) {
    rates.wasm.push(await trainerRun(model, data, steps, net.microBatch));
    for (const [name, peer] of Object.entries(peers)) rates[name].push(await peer.trainRate(net.zoo, BATCH, steps));
  }
  model.dispose();
  return Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
}

/**
 * Inference latency of the same networks at batch 1 and 32, in rounds: stock TF.js WASM in Node
 * (a child process, all networks), then each peer. Returns { [network]: { [env]: { [batch]: ms } } }.
 */
async function latencies(nets, peers, { rounds, calls }) {
  return withTempDir('condense-throughput-', async (dir) => {
    const models = [];
    for (const net of nets) {
      const saved = join(dir, net.key);
      await saveModel(ZOO[net.zoo].make(1), saved);
      models.push({ name: net.key, dir: saved });
    }
    const times = {};
    const add = (net, env, batch, ts) => (((times[net] ??= {})[env] ??= {})[batch] ??= []).push(...ts);
    for (let r = 0; r < rounds; r++) {
      const node = await latencyNode(models, { batches: [1, 32], repeats: calls, warmup: 3 });
      for (const m of models) for (const b of [1, 32]) add(m.name, 'wasm', b, node.results[m.name][b].times_ms);
      for (const [name, peer] of Object.entries(peers))
        for (const net of nets) for (const b of [1, 32]) add(net.key, name, b, await peer.latency(net.zoo, b, calls));
    }
    return Object.fromEntries(
      Object.entries(times).map(([net, envs]) => [
        net,
        Object.fromEntries(Object.entries(envs).map(([env, bs]) => [env, Object.fromEntries(Object.entries(bs).map(([b, ts]) => [b, median(ts)]))])),
      ]),
    );
  });
}

/** tfjs-layers `model.fit` on the current backend with its own kernels: the stock path a TF.js user has today. */
async function stockLenet5Rate(split, batches) {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 20, kernelSize: 5 }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 50, kernelSize: 5 }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 500, activation: 'relu' }),
      tfl.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
  const n = batches * BATCH;
  const x = tf.tensor4d(split.images.subarray(0, n * 784), [n, 28, 28, 1]);
  const y = tf.tensor1d(Float32Array.from(split.labels.subarray(0, n)));
  const [wx, wy] = [tf.slice(x, 0, 8), tf.slice(y, 0, 8)]; // warm-up on a few samples: a full batch takes ~40 s
  await model.fit(wx, wy, { batchSize: 8, epochs: 1, verbose: 0 });
  tf.dispose([wx, wy]);
  const t = performance.now();
  await model.fit(x, y, { batchSize: BATCH, epochs: 1, verbose: 0, shuffle: false });
  const rate = (n * 1000) / (performance.now() - t);
  tf.dispose([x, y]);
  model.dispose();
  return rate;
}

export default {
  name: 'train-throughput',
  order: 10,
  description:
    'Training samples/s of LeNet-300-100, LeNet-5, ResNet-20 and MobileNetV2 (batch 128, Adam) on WASM against TensorFlow/Keras CPU and PyTorch (same networks, 2 threads, in the same run), and their inference latency; LeNets also on CPU and stock tfjs-layers',
  // Whether a result meets each target (the summary of BENCHMARKS.md).
  checks: {
    wasm_lenet5_samples_per_s: (m) => m.wasm_lenet5_samples_per_s >= 1000,
    wasm_mlp_samples_per_s: (m) => m.wasm_mlp_samples_per_s >= 3000,
    lenet5_vs_torch: (m) => m.lenet5_vs_torch >= 0.9,
    mlp_vs_torch: (m) => m.mlp_vs_torch >= 1.0,
    lenet5_vs_tf: (m) => m.lenet5_vs_tf >= 0.8,
    resnet20_vs_tf: (m) => m.resnet20_vs_tf >= 0.8,
    mobilenetv2_vs_tf: (m) => m.mobilenetv2_vs_tf >= 0.8,
  },
  targets: {
    wasm_lenet5_samples_per_s: '>= 1,000',
    wasm_mlp_samples_per_s: '>= 3,000 (stretch 5,000)',
    lenet5_vs_torch: '>= 0.9',
    mlp_vs_torch: '>= 1.0',
    lenet5_vs_tf: '>= 0.8 (WASM / TensorFlow CPU)',
    resnet20_vs_tf: '>= 0.8',
    mobilenetv2_vs_tf: '>= 0.8',
  },
  paper: {},
  async run({ quick, data, log }) {
    const d = await benchData({ quick, data }, { train: 20_000, test: 1, quickTrain: 4096, quickTest: 1 });
    const steps = quick ? { cpuLenet5: 1, stock: 1 } : { cpuLenet5: 4, stock: 1 };
    const repeats = quick ? 1 : 3;
    const metrics = {};
    const backends = {};
    const notes = [];

    const peers = {};
    for (const kind of ['tf', 'torch']) {
      const p = await startPeer(kind, { threads: 2 });
      if (p.skipped) notes.push(`${kind} peer not measured: ${p.skipped}`);
      else {
        peers[kind] = p;
        log(`${kind} peer: ${p.info.version}, ${p.info.threads} threads (${p.python})`);
      }
    }
    try {
      await selectBackend('wasm');
      backends.wasm = describeBackend();
      log(`wasm: ${backends.wasm}`);
      const rows = [];
      for (const net of NETWORKS) {
        for (const [name, peer] of Object.entries(peers)) {
          const params = (await peer.request('params', { model: net.zoo })).params;
          const ours = cost(ZOO[net.zoo].make(1)).totals.params;
          if (params !== ours) throw new Error(`${name} peer's ${net.zoo} has ${params} params, condense's ${ours}: not the same network`);
        }
        const r = await sideBySide(net, d.train, peers, { steps: net.steps[quick ? 'quick' : 'full'], repeats });
        metrics[`wasm_${net.key}_samples_per_s`] = round(r.wasm, 1);
        for (const name of Object.keys(peers)) {
          metrics[`${name}_${net.key}_samples_per_s`] = round(r[name], 1);
          metrics[`${net.key}_vs_${name}`] = round(r.wasm / r[name], 2);
        }
        rows.push({
          network: ZOO[net.zoo].title,
          params: cost(ZOO[net.zoo].make(1)).totals.params,
          macs: cost(ZOO[net.zoo].make(1)).totals.macs,
          wasm: round(r.wasm, 1),
          tf: round(r.tf, 1) ?? '',
          torch: round(r.torch, 1) ?? '',
          wasm_vs_tf: r.tf ? round(r.wasm / r.tf, 2) : '',
          wasm_vs_torch: r.torch ? round(r.wasm / r.torch, 2) : '',
        });
        log(
          `${net.key}: ${Object.entries(r)
            .map(([k, v]) => `${k} ${v.toFixed(1)}/s`)
            .join(', ')}`,
        );
      }

      const lat = await latencies(NETWORKS, peers, { rounds: quick ? 1 : 5, calls: quick ? 3 : 9 });
      const latencyRows = [];
      for (const net of NETWORKS) {
        for (const [env, byBatch] of Object.entries(lat[net.key]))
          for (const [b, ms] of Object.entries(byBatch)) metrics[`${env}_latency_ms_b${b}_${net.key}`] = round(ms, 3);
        for (const b of [1, 32])
          latencyRows.push({
            network: ZOO[net.zoo].title,
            batch: b,
            wasm_ms: round(lat[net.key].wasm[b], 3),
            tf_ms: round(lat[net.key].tf?.[b], 3) ?? '',
            torch_ms: round(lat[net.key].torch?.[b], 3) ?? '',
          });
      }

      // Stock first: selectBackend('cpu') replaces the cpu Conv2DBackpropFilter with ours.
      await tf.setBackend('cpu');
      metrics.stock_cpu_lenet5_samples_per_s = round(await stockLenet5Rate(d.train, steps.stock), 1);
      log(`stock tfjs-layers cpu lenet5 ${metrics.stock_cpu_lenet5_samples_per_s}/s`);
      await selectBackend('cpu');
      backends.cpu = describeBackend();
      metrics.cpu_mlp_samples_per_s = round(await trainerRate(lenet300100, d.train, NETWORKS[0].steps[quick ? 'quick' : 'full'], 1), 0);
      metrics.cpu_lenet5_samples_per_s = round(await trainerRate(lenet5, d.train, steps.cpuLenet5, 1), 1);
      log(`cpu mlp ${metrics.cpu_mlp_samples_per_s}/s, lenet5 ${metrics.cpu_lenet5_samples_per_s}/s`);

      try {
        await selectBackend('node');
        backends.node = describeBackend();
        metrics.node_mlp_samples_per_s = round(await trainerRate(lenet300100, d.train, NETWORKS[0].steps.full, repeats), 0);
        metrics.node_lenet5_samples_per_s = round(await trainerRate(lenet5, d.train, NETWORKS[1].steps.full, repeats), 0);
      } catch (e) {
        log(`tfjs-node not available: ${e.message.split('\n')[0]}`);
        notes.push(`tfjs-node not measured: ${e.message.split('\n')[0]}`);
      }
      metrics.wasm_vs_stock_cpu_lenet5 = round(metrics.wasm_lenet5_samples_per_s / metrics.stock_cpu_lenet5_samples_per_s, 0);
      metrics.cpu_vs_stock_cpu_lenet5 = round(metrics.cpu_lenet5_samples_per_s / metrics.stock_cpu_lenet5_samples_per_s, 1);
      const info = Object.entries(peers).map(
        ([k, p]) =>
          `${k}: ${p.info.version}, ${p.info.threads} intra-op threads, ${p.info.inter_op_threads} inter-op${p.info.jit_compile === undefined ? '' : `, jit_compile ${p.info.jit_compile}, oneDNN ${p.info.onednn}`} (${p.python})`,
      );
      return {
        backend: [...Object.values(backends), ...Object.values(peers).map((p) => p.info.version)].join('; '),
        dataset: d.sizes,
        metrics,
        tables: { 'training samples/s (batch 128, Adam), side by side': rows, 'inference latency, median ms (WASM: stock TF.js in Node)': latencyRows },
        notes: [
          `batch ${BATCH}, Adam 1e-3; timed steps per run: ${NETWORKS.map((n) => `${n.key} ${n.steps[quick ? 'quick' : 'full']}`).join(', ')}; median of ${repeats} rounds after a warm-up run; every round times WASM, then each peer (the same network, same batch), so load on the shared machine hits all alike.`,
          'MobileNetV2 trains on WASM as two micro-batches of 64 per step (TrainOptions.microBatch: gradients accumulated, one Adam step per 128; batch norm per 64): in one piece its batch-128 step needs ~2.9 GB of WASM heap, which stops near 2 GB. The peers run it in one batch of 128.',
          "Peers train on random data (speed does not depend on the values); WASM on Fashion-MNIST. The peers build the same networks (tools/bench/peers/*.py); their parameter counts are checked against condense's cost() before timing. Keras trains with model.fit; PyTorch with a plain loop.",
          ...info,
          `Latency: stock TF.js WASM in Node (single-threaded, as tfjs ships; nothing of condense loaded), Keras through a tf.function, PyTorch in eval mode under no_grad; median of ${quick ? 1 : 5} rounds x ${quick ? 3 : 9} calls after 3 warm-up calls, untrained weights (inference time does not depend on them).`,
          'Earlier local measurements (not papers): PyTorch 1.13 on 2 cores trained LeNet-5 at ~1,100 samples/s and LeNet-300-100 at ~2,800; stock tfjs-layers on the cpu backend ~3 samples/s for LeNet-5.',
          ...notes,
        ],
      };
    } finally {
      for (const p of Object.values(peers)) p.close();
    }
  },
};
