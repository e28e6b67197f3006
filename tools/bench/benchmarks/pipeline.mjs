// Five packages chained on one model, from the recipe file in examples/pipeline: SSS neuron removal
// (sparsity), Hinton KD from the model before compression in every fine-tune (distill), iterative
// magnitude pruning (prune), trained 5-bit k-means (quantize), the Deep Compression container (codec).
import { readFile } from 'node:fs/promises';
import * as codec from '@condense/codec';
import { buildPipeline, createRegistry, parseRecipe } from '@condense/core';
import * as distill from '@condense/distill';
import { cost, lenet300100 } from '@condense/ir';
import * as prune from '@condense/prune';
import * as quantize from '@condense/quantize';
import * as sparsity from '@condense/sparsity';
import { containerOnDisk, fairBaseline, phaseEpochs, pipelineLog, pretrain, stageRows } from '../deep-compression.mjs';
import { benchBackend, benchData, round, shardBytes } from '../lib.mjs';

const RECIPE = new URL('../../../examples/pipeline/recipe.yaml', import.meta.url).pathname;
const PRETRAIN = { epochs: 16, lr: 1e-3, schedule: 'cosine' };

/** Every training phase a built pipeline runs, in order (finetune stages and prune's own retraining). */
export function trainingPhases(stages) {
  const phases = [];
  for (const s of stages) {
    const o = s.options;
    if (s.name === 'finetune') phases.push({ epochs: o.epochs, lr: o.learningRate, schedule: o.schedule, batchSize: o.batchSize, label: 'finetune' });
    if (s.name === 'prune.magnitude' && o.finetune) {
      const rounds = o.schedule === 'iterative' ? o.rounds : 1;
      for (let r = 1; r <= rounds; r++) phases.push({ epochs: o.finetune.epochs, lr: o.finetune.learningRate, batchSize: o.finetune.batchSize, label: `prune retrain ${r}/${rounds}` });
    }
  }
  return phases;
}

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

export default {
  name: 'pipeline',
  order: 100,
  description: 'Five packages chained from examples/pipeline/recipe.yaml on LeNet-300-100 / Fashion-MNIST: SSS neuron removal, KD in every fine-tune, iterative pruning, 5-bit trained k-means, Deep Compression container',
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
    const fm = await benchData({ quick, data }, { quickTrain: 1000, quickTest: 500 });
    const { train, test } = fm;
    log(`backend ${backendName}; train ${train.count}, test ${test.count}`);
    const text = await readFile(RECIPE, 'utf8');
    const parsed = parseRecipe(text, RECIPE);
    const recipe = quick ? shrink(parsed) : parsed;
    const registry = createRegistry().register(...codec.plugins, ...distill.plugins, ...prune.plugins, ...quantize.plugins, ...sparsity.plugins);
    const built = buildPipeline(recipe, registry, RECIPE);
    const phases = trainingPhases(built.stages);
    const batchSize = phases[0].batchSize;
    const plan = { batchSize, pretrain: quick ? { ...PRETRAIN, epochs: 2 } : PRETRAIN };

    const { base, checkpoint, checkpointAccuracy } = await pretrain(lenet300100, train, test, plan, { seed, log });
    const originalBytes = await shardBytes(checkpoint);
    const t0 = performance.now();
    const result = await built.run(checkpoint, { data: { train, test }, seed, onEvent: pipelineLog(log) });
    const wallS = (performance.now() - t0) / 1000;
    const disk = await containerOnDisk(result.artifacts['model.cdz'], test);
    const baseline = await fairBaseline(base, train, test, plan, phases, { seed, log });

    const before = cost(checkpoint).totals;
    const after = cost(disk.decoded).totals;
    const widths = (g) => ['fc1', 'fc2'].map((n) => g.params.get(`${n}/kernel`).shape[1]).join('/');
    return {
      backend: backendName,
      dataset: fm.sizes,
      metrics: {
        baseline_accuracy: round(baseline.accuracy),
        accuracy: round(disk.decodedAccuracy),
        accuracy_drop_points: round((baseline.accuracy - disk.decodedAccuracy) * 100, 2),
        compression_ratio: round(originalBytes / disk.bytes, 2),
        flops_reduction: round(before.macs / after.macs, 2),
        effective_flops_reduction: round(before.macs / after.effectiveMacs, 2),
        checkpoint_accuracy: round(checkpointAccuracy),
        hidden_widths: widths(disk.decoded),
        original_bytes: originalBytes,
        container_bytes: disk.bytes,
        nonzero_params: after.nonzero,
        wall_s: round(wallS, 1),
        packages: 5,
        baseline_epochs: baseline.epochs,
        compressed_epochs: plan.pretrain.epochs + phaseEpochs(phases),
      },
      tables: { 'pipeline stages (stored bytes before entropy coding; the codec row is the container)': stageRows(result.snapshots) },
      notes: [
        `The chain is examples/pipeline/recipe.yaml${quick ? ' (quick: every fine-tune shortened to 1 epoch, 1 prune round)' : ''}, run through parseRecipe/buildPipeline with the five packages' plugins; examples/pipeline/compress.mjs is the same chain in code (a test checks they match).`,
        `Checkpoint: LeNet-300-100 trained ${plan.pretrain.epochs} epochs (Adam ${plan.pretrain.lr}, cosine-decayed, batch ${batchSize}); it is also the distillation teacher. baseline_accuracy: the uncompressed model continued from the checkpoint through the same training phases (${baseline.epochs} epochs in all, as many as the compressed model), without distillation.`,
        'flops_reduction: dense MACs of the checkpoint / of the decoded model (SSS removes neurons physically); effective_flops_reduction counts only the MACs of non-zero weights (what a sparse kernel would run).',
        'accuracy is that of the graph decoded from the container file on disk.',
      ],
    };
  },
};
