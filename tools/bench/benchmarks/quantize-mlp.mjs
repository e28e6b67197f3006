// Deep Compression section 3 on LeNet-300-100 and Fashion-MNIST: the model pruned as in prune-mlp,
// then trained k-means weight sharing (6 bits, linear init) and centroid fine-tuning; a sweep of
// index widths 2..8 shows where accuracy breaks (on the validation split); k-means speed on 10M
// weights. 3 seeds, compressed and baseline alike.
import { pipeline } from '@condense/core';
import { lenet300100 } from '@condense/ir';
import { timeKmeans } from '../kmeans-timing.mjs';
import {
  checkFairPhases,
  fairBaseline,
  headOf,
  mlpPrunePlan,
  pipelineEpochs,
  pipelineLog,
  pretrain,
  pruneStages,
  quantizeStages,
  retrainingPhases,
  stageRows,
} from '../deep-compression.mjs';
import { benchBackend, pct, round, runtime } from '../lib.mjs';
import { meanRows, overSeeds, protocolData, seedRecord } from '../protocol.mjs';

const BITS = 6;
const SWEEP = [2, 3, 4, 5, 6, 7, 8];

/** The prune-mlp plan plus k-means and centroid training; the sweep's centroid training uses a slice of the training set (time). */
function plan(quick) {
  return {
    ...mlpPrunePlan(quick),
    quantize: { bits: BITS },
    centroids: { epochs: 1, lr: 1e-4 },
    sweepTrain: quick ? 500 : 15000,
    kmeans: quick ? { n: 10_000_000, repeats: 1 } : { n: 10_000_000, repeats: 5 },
  };
}

export default {
  name: 'quantize-mlp',
  order: 30,
  description: 'Trained k-means weight sharing (6 bits) with centroid fine-tuning on pruned LeNet-300-100, Fashion-MNIST; bits sweep 2..8',
  // Whether a result meets each target (the summary of BENCHMARKS.md).
  checks: {
    accuracy: (m) => m.pruned_accuracy - m.accuracy <= 0.005 && m.val_accuracy >= m.val_accuracy_before_centroid_training,
    kmeans_10m_weights_s: (m) => m.kmeans_10m_weights_s < 2,
  },
  targets: {
    accuracy:
      'within 0.5 points of pruned_accuracy (6-bit sharing costs nothing); centroid training helps (val_accuracy >= val_accuracy_before_centroid_training)',
    kmeans_10m_weights_s: 'a few seconds for 10M weights at k = 256',
  },
  paper: {
    bits: 'Deep Compression: LeNet-300-100 at 6 bits (pruned + quantized 40x with Huffman), no accuracy loss',
    sweep: 'Deep Compression Fig. 7: fully-connected layers hold their accuracy down to about 4 bits, below which it drops',
  },
  async run({ quick, data, seeds, backend, log }) {
    const p = plan(quick);
    const backendName = await benchBackend(backend);
    const protocol = await protocolData({ quick, data }, { train: p.train, test: p.test, quickTrain: p.train, quickTest: p.test });
    const { train, validation } = protocol;
    log(`backend ${backendName}; ${protocol.validationSplit}`);
    // Every stage is measured on validation (the pipelines' evaluation data); the test split once per final model.
    const evalData = { train, test: validation };

    const km = timeKmeans(p.kmeans.n, 256, { repeats: p.kmeans.repeats });
    log(
      `k-means on ${p.kmeans.n} weights, k 256: median ${(km.ms / 1000).toFixed(2)} s wall, ${(km.cpuMs / 1000).toFixed(2)} s CPU, ${km.iterations} iterations`,
    );
    const sweepTrain = headOf(train, p.sweepTrain);

    const { runs, metrics } = await overSeeds(
      seeds,
      async (seed) => {
        const { base, checkpoint, checkpointAccuracy } = await pretrain(lenet300100, train, validation, p, { seed, log });
        const pruned = await pipeline(pruneStages(p)).run(checkpoint, { data: evalData, runtime, seed, onEvent: pipelineLog(log) });
        const prunedAccuracy = await protocol.testAccuracy(pruned.graph, `seed ${seed}: pruned`);
        const prunedVal = pruned.snapshots.at(-1).accuracy;

        const t0 = performance.now();
        const q = await pipeline(quantizeStages(p)).run(pruned.graph, { data: evalData, runtime, seed, onEvent: pipelineLog(log) });
        const quantizeS = (performance.now() - t0) / 1000;
        const after = await protocol.testAccuracy(q.graph, `seed ${seed}: ${BITS}-bit k-means, centroids trained`);
        const [beforeVal, afterVal] = [q.snapshots[1].accuracy, q.snapshots[2].accuracy];

        // Bits sweep from the same pruned model, on validation: k-means alone, then a short centroid training.
        const sweep = [];
        for (const bits of SWEEP) {
          const r = await pipeline(quantizeStages({ ...p, quantize: { bits } })).run(pruned.graph, {
            data: { train: sweepTrain, test: validation },
            runtime,
            seed,
          });
          const row = {
            bits,
            stored_bytes: r.snapshots[1].bytes,
            ratio: round(r.snapshots[0].float32Bytes / r.snapshots[1].bytes, 2),
            val_accuracy_kmeans: round(r.snapshots[1].accuracy),
            val_accuracy_centroids_trained: round(r.snapshots[2].accuracy),
          };
          log(`sweep ${bits} bits: validation, k-means ${pct(row.val_accuracy_kmeans)}, after centroid training ${pct(row.val_accuracy_centroids_trained)}`);
          sweep.push(row);
        }

        const phases = retrainingPhases(p);
        checkFairPhases(phases, pipelineEpochs(pruned, q));
        const baseline = await fairBaseline(base, protocol, p, phases, { seed, log, label: `seed ${seed}: baseline` });
        const holds = sweep.filter((r) => r.val_accuracy_centroids_trained >= prunedVal - 0.005).map((r) => r.bits);
        return {
          metrics: {
            baseline_accuracy: round(baseline.accuracy),
            pruned_accuracy: round(prunedAccuracy),
            accuracy: round(after),
            accuracy_drop_points: round((baseline.accuracy - after) * 100, 2),
            val_pruned_accuracy: round(prunedVal),
            val_accuracy: round(afterVal),
            val_accuracy_before_centroid_training: round(beforeVal),
            bits: BITS,
            val_checkpoint_accuracy: round(checkpointAccuracy),
            ratio_after_prune: round(q.snapshots[0].float32Bytes / q.snapshots[0].bytes, 2),
            ratio_after_quantize: round(q.snapshots[0].float32Bytes / q.snapshots[1].bytes, 2),
            min_bits_within_half_point_of_pruned: holds.length ? Math.min(...holds) : NaN,
            quantize_wall_s: round(quantizeS, 1),
            baseline_epochs: baseline.epochs,
            compressed_epochs: p.pretrain.epochs + pipelineEpochs(pruned, q),
          },
          sweep,
          phases,
          layers: q.stages[0].details.layers,
          stages: stageRows(q.snapshots),
        };
      },
      { log },
    );
    const [first] = runs;
    const { phases } = first;

    return {
      backend: backendName,
      dataset: protocol.sizes({ sweep_centroid_training: `first ${sweepTrain.count} training images, ${p.centroids.epochs} epoch(s)` }),
      metrics: {
        ...metrics,
        kmeans_10m_weights_s: round(km.ms / 1000, 3),
        kmeans_10m_weights_cpu_s: round(km.cpuMs / 1000, 3),
      },
      seedRuns: seedRecord(runs),
      protocol: protocol.record(),
      tables: {
        [`bits sweep on the pruned model (all layers dense), on validation (pruned: ${metrics.val_pruned_accuracy}): k-means alone, then centroid training ${p.centroids.epochs} epoch(s) on ${sweepTrain.count} images; mean ± std over ${runs.length} seed(s)`]:
          meanRows(runs.map((r) => r.sweep)),
        [`seed ${first.seed}: k-means at ${BITS} bits, per layer`]: first.layers.map((r) => ({
          layer: r.layer,
          weights: r.weights,
          centroids_used: `${r.clustersUsed}/${r.k}`,
          rmse: Number(Math.sqrt(r.mse).toExponential(3)),
          iterations: r.iterations,
        })),
        [`seed ${first.seed}: pipeline stages from the pruned model (validation accuracy)`]: first.stages,
      },
      notes: [
        `Choices: ${BITS} bits, linear init and 1 centroid epoch at 1e-4 follow Deep Compression (not tuned here); the bits sweep, and min_bits_within_half_point_of_pruned, are measured on validation; the test set measures the pruned and the ${BITS}-bit model once per seed.`,
        `Training: Adam, batch ${p.batchSize}. Checkpoint: ${p.pretrain.epochs} epochs at ${p.pretrain.lr}; then ${phases.map((ph) => `${ph.label}: ${ph.epochs} epoch(s) at ${ph.lr}${ph.schedule ? ` (${ph.schedule})` : ''}`).join('; ')}.`,
        `baseline_accuracy: the uncompressed model continued from the same checkpoint through exactly the same phases (${first.metrics.baseline_epochs} epochs in all, as many as the compressed model), for every seed.`,
        `k-means: ${BITS}-bit codebook per layer over the kept weights only (pruned ones stay 0), linear init, up to 300 Lloyd iterations; centroid training moves each centroid by the sum of its members' gradients (Adam), masks kept.`,
        'ratio_after_*: float32 bytes / stored bytes from the snapshots (sparse relative indices, raw codebook indices, no Huffman coding).',
        `kmeans_10m_weights_s: timeKmeans(10M Gaussian weights, k = 256, linear init), median of ${p.kmeans.repeats} run(s), wall time on a shared machine (CPU time beside it); measured once per run, not per seed.`,
        "min_bits_within_half_point_of_pruned: per seed, the fewest bits whose validation accuracy after the sweep's short centroid training is within 0.5 points of the pruned model's validation accuracy.",
      ],
    };
  },
};
