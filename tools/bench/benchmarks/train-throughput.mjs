// Training speed of condense's trainer on each backend, against stock tfjs-layers and PyTorch.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { lenet300100, lenet5 } from '@condense/ir';
import { compile, describeBackend, selectBackend, train } from '@condense/tfjs';
import { benchData, round } from '../lib.mjs';

const BATCH = 128;

/** Median samples/s of `repeats` timed runs of `steps` training steps (after one warm-up run). */
async function trainerRate(makeGraph, split, steps, repeats) {
  const model = compile(makeGraph());
  const data = { x: split.images, y: split.labels, count: split.count, shape: [...split.shape] };
  const run = async () => {
    const t = performance.now();
    await train(model, data, { epochs: 1, batchSize: BATCH, stepsPerEpoch: steps, learningRate: 1e-3, seed: 1 });
    return (steps * BATCH * 1000) / (performance.now() - t);
  };
  await run();
  const rates = [];
  for (let i = 0; i < repeats; i++) rates.push(await run());
  model.dispose();
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)];
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

function torchRates(log) {
  const script = fileURLToPath(new URL('../torch/throughput.py', import.meta.url));
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (py.startsWith('/') && !existsSync(py)) continue;
    try {
      return JSON.parse(execFileSync(py, [script, '2'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 600_000 }));
    } catch {
      /* try the next interpreter */
    }
  }
  log('PyTorch not importable (apt-get install python3-torch): torch_* metrics skipped');
  return undefined;
}

export default {
  name: 'train-throughput',
  order: 10,
  description: 'Training samples/s of LeNet-300-100 and LeNet-5 (batch 128, Adam) on WASM and CPU, against stock tfjs-layers and PyTorch',
  // Whether a result meets each target (the summary of BENCHMARKS.md).
  checks: {
    wasm_lenet5_samples_per_s: (m) => m.wasm_lenet5_samples_per_s >= 1000,
    wasm_mlp_samples_per_s: (m) => m.wasm_mlp_samples_per_s >= 3000,
    lenet5_vs_torch: (m) => m.lenet5_vs_torch >= 0.9,
    mlp_vs_torch: (m) => m.mlp_vs_torch >= 1.0,
  },
  targets: {
    wasm_lenet5_samples_per_s: '>= 1,000',
    wasm_mlp_samples_per_s: '>= 3,000 (stretch 5,000)',
    lenet5_vs_torch: '>= 0.9',
    mlp_vs_torch: '>= 1.0',
  },
  paper: { torch_lenet5_samples_per_s: 'PyTorch 1.13 on 2 cores: ~1,100', torch_mlp_samples_per_s: '~2,800', stock_cpu_lenet5_samples_per_s: '~3' },
  async run({ quick, data, log }) {
    const d = await benchData({ quick, data }, { train: 20_000, test: 1, quickTrain: 4096, quickTest: 1 });
    const steps = quick ? { mlp: 10, lenet5: 4, cpuLenet5: 1, stock: 1 } : { mlp: 60, lenet5: 20, cpuLenet5: 4, stock: 1 };
    const repeats = quick ? 1 : 3;
    const metrics = {};
    const backends = {};

    await selectBackend('wasm');
    backends.wasm = describeBackend();
    log(`wasm: ${backends.wasm}`);
    metrics.wasm_mlp_samples_per_s = round(await trainerRate(lenet300100, d.train, steps.mlp, repeats), 0);
    log(`wasm mlp ${metrics.wasm_mlp_samples_per_s}/s`);
    metrics.wasm_lenet5_samples_per_s = round(await trainerRate(lenet5, d.train, steps.lenet5, repeats), 0);
    log(`wasm lenet5 ${metrics.wasm_lenet5_samples_per_s}/s`);

    // Stock first: selectBackend('cpu') replaces the cpu Conv2DBackpropFilter with ours.
    await tf.setBackend('cpu');
    metrics.stock_cpu_lenet5_samples_per_s = round(await stockLenet5Rate(d.train, steps.stock), 1);
    log(`stock tfjs-layers cpu lenet5 ${metrics.stock_cpu_lenet5_samples_per_s}/s`);
    await selectBackend('cpu');
    backends.cpu = describeBackend();
    metrics.cpu_mlp_samples_per_s = round(await trainerRate(lenet300100, d.train, steps.mlp, 1), 0);
    metrics.cpu_lenet5_samples_per_s = round(await trainerRate(lenet5, d.train, steps.cpuLenet5, 1), 1);
    log(`cpu mlp ${metrics.cpu_mlp_samples_per_s}/s, lenet5 ${metrics.cpu_lenet5_samples_per_s}/s`);

    try {
      await selectBackend('node');
      backends.node = describeBackend();
      metrics.node_mlp_samples_per_s = round(await trainerRate(lenet300100, d.train, steps.mlp, repeats), 0);
      metrics.node_lenet5_samples_per_s = round(await trainerRate(lenet5, d.train, steps.lenet5, repeats), 0);
    } catch (e) {
      log(`tfjs-node not available: ${e.message.split('\n')[0]}`);
    }

    const torch = quick ? undefined : torchRates(log);
    if (torch) {
      metrics.torch_mlp_samples_per_s = round(torch.torch_mlp_samples_per_s, 0);
      metrics.torch_lenet5_samples_per_s = round(torch.torch_lenet5_samples_per_s, 0);
      metrics.mlp_vs_torch = round(metrics.wasm_mlp_samples_per_s / torch.torch_mlp_samples_per_s, 2);
      metrics.lenet5_vs_torch = round(metrics.wasm_lenet5_samples_per_s / torch.torch_lenet5_samples_per_s, 2);
    }
    metrics.wasm_vs_stock_cpu_lenet5 = round(metrics.wasm_lenet5_samples_per_s / metrics.stock_cpu_lenet5_samples_per_s, 0);
    metrics.cpu_vs_stock_cpu_lenet5 = round(metrics.cpu_lenet5_samples_per_s / metrics.stock_cpu_lenet5_samples_per_s, 1);
    return {
      backend: Object.values(backends).join('; '),
      dataset: d.sizes,
      metrics,
      notes: [
        `batch ${BATCH}, Adam, ${steps.mlp}/${steps.lenet5} timed steps per run (mlp/lenet5), median of ${repeats} runs after a warm-up run`,
        torch ? `PyTorch ${torch.torch_version}, ${torch.threads} threads, in the same run` : 'PyTorch not measured',
      ],
    };
  },
};
