// Deep Compression section 3 on LeNet-300-100 and Fashion-MNIST: the model pruned as in prune-mlp,
// then trained k-means weight sharing (6 bits, linear init) and centroid fine-tuning; a sweep of
// index widths 2..8 shows where accuracy breaks; k-means speed on 10M weights.
import { pipeline } from '@condense/core';
import { lenet300100 } from '@condense/ir';
import { timeKmeans } from '../kmeans-timing.mjs';
import { checkFairPhases, fairBaseline, headOf, mlpPrunePlan, pipelineEpochs, pipelineLog, pretrain, pruneStages, quantizeStages, retrainingPhases, stageRows } from '../deep-compression.mjs';
import { benchBackend, benchData, pct, round, runtime } from '../lib.mjs';

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
    accuracy: (m) => m.pruned_accuracy - m.accuracy <= 0.005 && m.accuracy >= m.accuracy_before_centroid_training,
    kmeans_10m_weights_s: (m) => m.kmeans_10m_weights_s < 2,
  },
  targets: {
    accuracy: 'within 0.5 points of pruned_accuracy (6-bit sharing costs nothing) and >= accuracy_before_centroid_training',
    kmeans_10m_weights_s: 'a few seconds for 10M weights at k = 256',
  },
  paper: {
    bits: 'Deep Compression: LeNet-300-100 at 6 bits (pruned + quantized 40x with Huffman), no accuracy loss',
    sweep: 'Deep Compression Fig. 7: fully-connected layers hold their accuracy down to about 4 bits, below which it drops',
  },
  async run({ quick, data, seed, backend, log }) {
    const p = plan(quick);
    const backendName = await benchBackend(backend);
    const fm = await benchData({ quick, data }, { train: p.train, test: p.test, quickTrain: p.train, quickTest: p.test });
    const { train, test } = fm;
    log(`backend ${backendName}; train ${train.count}, test ${test.count}`);

    const km = timeKmeans(p.kmeans.n, 256, { repeats: p.kmeans.repeats });
    log(`k-means on ${p.kmeans.n} weights, k 256: median ${(km.ms / 1000).toFixed(2)} s wall, ${(km.cpuMs / 1000).toFixed(2)} s CPU, ${km.iterations} iterations`);

    const { base, checkpoint, checkpointAccuracy } = await pretrain(lenet300100, train, test, p, { seed, log });
    const pruned = await pipeline(pruneStages(p)).run(checkpoint, { data: { train, test }, runtime, seed, onEvent: pipelineLog(log) });
    const prunedAccuracy = pruned.snapshots.at(-1).accuracy;

    const t0 = performance.now();
    const q = await pipeline(quantizeStages(p)).run(pruned.graph, { data: { train, test }, runtime, seed, onEvent: pipelineLog(log) });
    const quantizeS = (performance.now() - t0) / 1000;
    const [before, after] = [q.snapshots[1].accuracy, q.snapshots[2].accuracy];
    const layerReports = q.stages[0].details.layers;

    // Bits sweep from the same pruned model: k-means alone, then a short centroid training.
    const sweepTrain = headOf(train, p.sweepTrain);
    const sweep = [];
    for (const bits of SWEEP) {
      const r = await pipeline(quantizeStages({ ...p, quantize: { bits } })).run(pruned.graph, { data: { train: sweepTrain, test }, runtime, seed });
      const row = { bits, stored_bytes: r.snapshots[1].bytes, ratio: round(r.snapshots[0].float32Bytes / r.snapshots[1].bytes, 2), accuracy_kmeans: round(r.snapshots[1].accuracy), accuracy_centroids_trained: round(r.snapshots[2].accuracy) };
      log(`sweep ${bits} bits: k-means ${pct(row.accuracy_kmeans)}, after centroid training ${pct(row.accuracy_centroids_trained)}`);
      sweep.push(row);
    }

    const phases = retrainingPhases(p);
    checkFairPhases(phases, pipelineEpochs(pruned, q));
    const baseline = await fairBaseline(base, train, test, p, phases, { seed, log });
    const holds = sweep.filter((r) => r.accuracy_centroids_trained >= prunedAccuracy - 0.005).map((r) => r.bits);

    return {
      backend: backendName,
      dataset: { ...fm.sizes, sweep_centroid_training: `first ${sweepTrain.count} training images, ${p.centroids.epochs} epoch(s)` },
      metrics: {
        baseline_accuracy: round(baseline.accuracy),
        pruned_accuracy: round(prunedAccuracy),
        accuracy: round(after),
        accuracy_before_centroid_training: round(before),
        accuracy_drop_points: round((baseline.accuracy - after) * 100, 2),
        bits: BITS,
        kmeans_10m_weights_s: round(km.ms / 1000, 3),
        kmeans_10m_weights_cpu_s: round(km.cpuMs / 1000, 3),
        checkpoint_accuracy: round(checkpointAccuracy),
        ratio_after_prune: round(q.snapshots[0].float32Bytes / q.snapshots[0].bytes, 2),
        ratio_after_quantize: round(q.snapshots[0].float32Bytes / q.snapshots[1].bytes, 2),
        min_bits_within_half_point_of_pruned: holds.length ? Math.min(...holds) : NaN,
        quantize_wall_s: round(quantizeS, 1),
        baseline_epochs: baseline.epochs,
        compressed_epochs: p.pretrain.epochs + pipelineEpochs(pruned, q),
      },
      tables: {
        [`bits sweep on the pruned model (all layers dense; pruned accuracy ${round(prunedAccuracy)}): k-means alone, then centroid training ${p.centroids.epochs} epoch(s) on ${sweepTrain.count} images`]: sweep,
        [`k-means at ${BITS} bits, per layer`]: layerReports.map((r) => ({ layer: r.layer, weights: r.weights, centroids_used: `${r.clustersUsed}/${r.k}`, rmse: Number(Math.sqrt(r.mse).toExponential(3)), iterations: r.iterations })),
        'pipeline stages (from the pruned model)': stageRows(q.snapshots),
      },
      notes: [
        `Training: Adam, batch ${p.batchSize}. Checkpoint: ${p.pretrain.epochs} epochs at ${p.pretrain.lr}; then ${phases.map((ph) => `${ph.label}: ${ph.epochs} epoch(s) at ${ph.lr}${ph.schedule ? ` (${ph.schedule})` : ''}`).join('; ')}.`,
        `baseline_accuracy: the uncompressed model continued from the same checkpoint through exactly the same phases (${baseline.epochs} epochs in all, as many as the compressed model).`,
        `k-means: ${BITS}-bit codebook per layer over the kept weights only (pruned ones stay 0), linear init, up to 300 Lloyd iterations; centroid training moves each centroid by the sum of its members' gradients (Adam), masks kept.`,
        'ratio_after_*: float32 bytes / stored bytes from the snapshots (sparse relative indices, raw codebook indices, no Huffman coding).',
        `kmeans_10m_weights_s: timeKmeans(10M Gaussian weights, k = 256, linear init), median of ${p.kmeans.repeats} run(s), wall time on a shared machine (CPU time beside it).`,
        `min_bits_within_half_point_of_pruned: the fewest bits whose accuracy after the sweep's short centroid training is within 0.5 points of the pruned model's (sweep bits that hold: ${holds.join(', ') || 'none'}).`,
      ],
    };
  },
};
