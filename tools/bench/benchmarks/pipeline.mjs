// Five packages chained on one model, from the recipe files in examples/pipeline. LeNet-5: ThiNet
// channel removal, Hinton KD from the model before compression in every fine-tune, iterative
// magnitude pruning, trained k-means, the Deep Compression container. LeNet-300-100: the same with
// SSS neuron removal in place of ThiNet.
import { readFile } from 'node:fs/promises';
import * as codec from '@condense/codec';
import { buildPipeline, createRegistry, parseRecipe } from '@condense/core';
import * as distill from '@condense/distill';
import { cost, lenet300100, lenet5 } from '@condense/ir';
import * as prune from '@condense/prune';
import * as quantize from '@condense/quantize';
import * as sparsity from '@condense/sparsity';
import * as thinet from '@condense/thinet';
import { containerOnDisk, fairBaseline, pipelineEpochs, pipelineLog, pretrain, recordedPhases, stageRows } from '../deep-compression.mjs';
import { benchBackend, benchData, round, runtime, shardBytes } from '../lib.mjs';

const here = (f) => new URL(`../../../examples/pipeline/${f}`, import.meta.url).pathname;

/** The chains, headline first: the recipe file, the model, its training set and checkpoint training. */
const CHAINS = [
  {
    key: 'mlp',
    recipe: here('recipe.yaml'),
    model: lenet300100,
    kernels: ['fc1', 'fc2'],
    train: undefined,
    pretrain: { epochs: 16, lr: 1e-3, schedule: 'cosine' },
  },
  {
    key: 'lenet5',
    recipe: here('recipe-lenet5.yaml'),
    model: lenet5,
    kernels: ['conv1', 'conv2'],
    train: 10000, // LeNet-5 trains at ~1,100 samples/s on WASM on 2 quiet cores
    pretrain: { epochs: 8, lr: 1e-3, schedule: 'cosine' },
  },
];

/** Quick: one epoch per phase and a single prune round, for smoke tests on tiny data. */
function shrink(recipe) {
  return {
    ...recipe,
    stages: recipe.stages.map((s) => {
      const o = { ...s.options };
      if (s.plugin === 'finetune') o.epochs = 1;
      if (s.plugin === 'prune.magnitude') Object.assign(o, { rounds: 1, finetune: { ...o.finetune, epochs: 1 } });
      return { ...s, options: o };
    }),
  };
}

/** Pretrain the chain's model, run its recipe, decode the container from disk, train the fair baseline. */
async function runChain(chain, { train, test }, registry, { quick, seed, log }) {
  const parsed = parseRecipe(await readFile(chain.recipe, 'utf8'), chain.recipe);
  const built = buildPipeline(quick ? shrink(parsed) : parsed, registry, chain.recipe);
  const batchSize = built.stages.find((s) => s.name === 'finetune').options.batchSize;
  const plan = { batchSize, pretrain: quick ? { ...chain.pretrain, epochs: 2 } : chain.pretrain };

  const { base, checkpoint, checkpointAccuracy } = await pretrain(chain.model, train, test, plan, { seed, log });
  const originalBytes = await shardBytes(checkpoint);
  const t0 = performance.now();
  const result = await built.run(checkpoint, { data: { train, test }, runtime, seed, onEvent: pipelineLog(log) });
  const wallS = (performance.now() - t0) / 1000;
  const disk = await containerOnDisk(result.artifacts['model.cdz'], test);
  // The baseline trains through every fine-tune the pipeline ran (ThiNet's between-layer ones and
  // prune's retraining included), as the pipeline recorded them.
  const phases = recordedPhases(result);
  const baseline = await fairBaseline(base, train, test, plan, phases, { seed, log });

  const before = cost(checkpoint).totals;
  const after = cost(disk.decoded).totals;
  const widths = (g) => chain.kernels.map((n) => g.params.get(`${n}/kernel`).shape.at(-1)).join('/');
  return {
    metrics: {
      baseline_accuracy: round(baseline.accuracy),
      accuracy: round(disk.decodedAccuracy),
      accuracy_drop_points: round((baseline.accuracy - disk.decodedAccuracy) * 100, 2),
      compression_ratio: round(originalBytes / disk.bytes, 2),
      flops_reduction: round(before.macs / after.macs, 2),
      effective_flops_reduction: round(before.macs / after.effectiveMacs, 2),
      checkpoint_accuracy: round(checkpointAccuracy),
      widths: `${widths(checkpoint)} -> ${widths(disk.decoded)}`,
      original_bytes: originalBytes,
      container_bytes: disk.bytes,
      nonzero_params: after.nonzero,
      wall_s: round(wallS, 1),
      packages: new Set(built.stages.map((st) => st.name.split('.')[0]).filter((n) => n !== 'finetune')).size,
      baseline_epochs: baseline.epochs,
      compressed_epochs: plan.pretrain.epochs + pipelineEpochs(result),
    },
    stages: stageRows(result.snapshots),
    notes: [
      `the chain is ${chain.recipe.split('/').slice(-3).join('/')}, run through parseRecipe/buildPipeline with the packages' plugins; examples/pipeline/compress.mjs builds the same chains in code (a test checks they match).`,
      `checkpoint: trained ${plan.pretrain.epochs} epochs on ${train.count} images (Adam ${plan.pretrain.lr}, cosine-decayed, batch ${batchSize}); it is also the distillation teacher. baseline_accuracy: the uncompressed model continued from the checkpoint through the same training phases (${baseline.epochs} epochs in all, as many as the compressed model), without distillation.`,
      'flops_reduction: dense MACs of the checkpoint / of the decoded model (channels and neurons removed physically); effective_flops_reduction counts only the MACs of non-zero weights (what a sparse kernel would run). accuracy: the graph decoded from the container file on disk.',
    ],
  };
}

export default {
  name: 'pipeline',
  order: 100,
  description: 'Five packages chained from recipe files in examples/pipeline, on Fashion-MNIST: LeNet-300-100 (SSS, KD, pruning, k-means, container) and LeNet-5 (ThiNet, KD, pruning, k-means, container)',
  // Whether a result meets each target (the summary of BENCHMARKS.md).
  checks: {
    compression_ratio: (m) => m.compression_ratio >= 50,
    accuracy: (m) => m.baseline_accuracy - m.accuracy <= 0.01,
  },
  targets: {
    compression_ratio: '>= 50 (float32 weight shards / container file)',
    accuracy: 'within 1 point of baseline_accuracy (model decoded from the container)',
  },
  paper: { compression_ratio: 'Deep Compression alone: LeNet-300-100 40x (Han et al. 2016)' },
  async run({ quick, data, seed, backend, log }) {
    const backendName = await benchBackend(backend);
    const registry = createRegistry().register(...codec.plugins, ...distill.plugins, ...prune.plugins, ...quantize.plugins, ...sparsity.plugins, ...thinet.plugins);
    const out = { metrics: {}, tables: {}, notes: [], dataset: {} };
    for (const [i, chain] of CHAINS.entries()) {
      const fm = await benchData({ quick, data }, { train: chain.train, quickTrain: 1000, quickTest: 500 });
      log(`${chain.key}: backend ${backendName}; train ${fm.train.count}, test ${fm.test.count}`);
      const r = await runChain(chain, fm, registry, { quick, seed, log });
      const prefix = i === 0 ? '' : `${chain.key}_`;
      for (const [k, v] of Object.entries(r.metrics)) out.metrics[prefix + k] = v;
      out.tables[`${chain.key}: pipeline stages (stored bytes before entropy coding; the codec row is the container)`] = r.stages;
      out.notes.push(...r.notes.map((n) => `${chain.key}: ${n}`));
      out.dataset[chain.key] = fm.sizes;
    }
    out.notes.unshift(`Headline metrics: the LeNet-300-100 chain on the full training set (examples/pipeline/recipe.yaml); lenet5_* metrics: the LeNet-5 chain on 10k training images (examples/pipeline/recipe-lenet5.yaml).${quick ? ' Quick: every fine-tune shortened to 1 epoch, 1 prune round.' : ''}`);
    return { backend: backendName, ...out };
  },
};
