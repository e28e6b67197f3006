// Label-free recovery (issue 23): compress a pre-trained LeNet-5 (magnitude pruning + trained
// k-means + the Deep Compression container) twice from the same checkpoint: recovering once with
// the labelled training set, once from 1,000 unlabeled images against the uncompressed model
// (softened KL on its softmax output: the tfjs runtime's default when the data has no targets).
// Every choice (each arm's recovery learning rate) is made on a validation split held out of the
// training set; the test set is measured once per final configuration; 3 seeds.
import { deepCompression } from '@condense/codec';
import { finetune, pipeline } from '@condense/core';
import { cloneGraph, lenet5 } from '@condense/ir';
import { magnitudePrune } from '@condense/prune';
import { kmeansQuantize } from '@condense/quantize';
import { containerOnDisk, HAN_LENET5_SPARSITY, pipelineLog } from '../deep-compression.mjs';
import { accuracy, benchBackend, benchData, envOverrides, fit, pct, round, runtime, shardBytes } from '../lib.mjs';

const FULL = {
  pretrainCount: 10000, // first N training examples: the checkpoint's training set and the labelled arm's
  pretrain: { epochs: 8, lr: 1e-3, schedule: 'cosine' },
  validationCount: 5000, // the last N of train: picks each arm's learning rate, trained on by neither
  unlabeledCount: 1000, // the label-free arm's images: the first N of the training set, labels dropped
  labelledEpochs: 4,
  labelFreeEpochs: 40, // as many steps as the labelled arm (10x fewer examples per epoch)
  centroidEpochs: { labelled: 1, labelFree: 10 },
  learningRates: [1e-3, 3e-4],
  seeds: [1, 2, 3],
  batchSize: 128,
};
const QUICK = {
  ...FULL,
  pretrainCount: 800,
  pretrain: { epochs: 2, lr: 1e-3 },
  validationCount: 300,
  unlabeledCount: 200,
  labelledEpochs: 1,
  labelFreeEpochs: 4,
  centroidEpochs: { labelled: 1, labelFree: 1 },
  learningRates: [1e-3],
  seeds: [1],
  batchSize: 50,
};

const SPARSITY = Object.freeze({ ...HAN_LENET5_SPARSITY });
const BITS = Object.freeze({ conv2d: 8, dense: 5 });

/** Rows [start, start + n) of a split; with `labels: false`, inputs only (no targets at all). */
function rows(split, start, n, { labels = true } = {}) {
  const size = split.images.length / split.count;
  const images = split.images.subarray(start * size, (start + n) * size);
  if (!labels) return { inputs: { values: images, shape: [n, ...split.shape.slice(1)] } };
  return { images, labels: split.labels.subarray(start, start + n), count: n, shape: [n, ...split.shape.slice(1)] };
}

/** Prune (one shot, Han's LeNet-5 fractions), recover, k-means, train the centroids, encode: the recovery on `train`. */
function stages(c, epochs, centroidEpochs, lr) {
  return [
    magnitudePrune({ layers: SPARSITY }),
    finetune({ epochs, learningRate: lr, batchSize: c.batchSize, schedule: 'cosine' }),
    kmeansQuantize({ bits: BITS, init: 'linear' }),
    finetune({ epochs: centroidEpochs, learningRate: lr / 10, batchSize: c.batchSize }),
    deepCompression({}),
  ];
}

async function compress(checkpoint, c, arm, lr, train, seed, log) {
  const epochs = arm === 'labelled' ? c.labelledEpochs : c.labelFreeEpochs;
  const result = await pipeline(stages(c, epochs, c.centroidEpochs[arm === 'labelled' ? 'labelled' : 'labelFree'], lr)).run(checkpoint, {
    data: { train },
    runtime,
    seed,
    agreement: false,
    onEvent: pipelineLog((m) => log(`[${arm} lr ${lr}] ${m}`)),
  });
  const labelFree = result.stages.flatMap((s) => s.finetunes).every((f) => f.labelFree === true);
  if (labelFree !== (arm === 'labelFree')) throw new Error(`${arm}: the fine-tunes ran ${labelFree ? 'label-free' : 'on labels'}`);
  return result;
}

export default {
  name: 'label-free',
  order: 75,
  description: 'Label-free recovery: LeNet-5 pruned + k-means + container, recovered with labels vs from 1,000 unlabeled images against the original (3 seeds, choices on a validation split)',
  checks: {
    gap_points: (m) => m.gap_points <= 1,
  },
  targets: {
    gap_points: 'label-free recovery within 1 point of labelled recovery (mean over seeds, test accuracy of the decoded containers)',
  },
  async run({ quick, data, backend, log }) {
    const { overrides, note } = envOverrides('CONDENSE_LABEL_FREE_CONFIG');
    const c = { ...(quick ? QUICK : FULL), ...overrides };
    const backendName = await benchBackend(backend);
    const fm = await benchData({ quick, data }, { quickTrain: c.pretrainCount + c.validationCount, quickTest: 500 });
    if (fm.train.count < c.pretrainCount + c.validationCount) throw new Error(`label-free: needs ${c.pretrainCount + c.validationCount} training examples, the data has ${fm.train.count}`);
    const train = rows(fm.train, 0, c.pretrainCount);
    const validation = rows(fm.train, fm.train.count - c.validationCount, c.validationCount);
    const unlabeled = rows(fm.train, 0, c.unlabeledCount, { labels: false });
    log(`backend ${backendName}; pretrain/labelled ${c.pretrainCount}, unlabeled ${c.unlabeledCount}, validation ${c.validationCount} (last of train), test ${fm.test.count}`);

    const perSeed = [];
    const choices = [];
    let ratio;
    for (const seed of c.seeds) {
      const checkpoint = lenet5(seed);
      await fit(checkpoint, train, { ...c.pretrain, batchSize: c.batchSize, seed, log, label: `seed ${seed} pretrain` });
      const uncompressed = await accuracy(checkpoint, fm.test);
      const originalBytes = await shardBytes(checkpoint);
      const row = { seed, uncompressed: round(uncompressed) };
      for (const arm of ['labelled', 'labelFree']) {
        const recovery = arm === 'labelled' ? train : unlabeled;
        let best;
        for (const lr of c.learningRates) {
          const result = await compress(cloneGraph(checkpoint), c, arm, lr, recovery, seed, log);
          const val = await accuracy(result.graph, validation);
          choices.push({ seed, arm, learning_rate: lr, validation_accuracy: round(val) });
          if (!best || val > best.val) best = { lr, val, result };
        }
        // The test set, once per final configuration: the container decoded from disk.
        const disk = await containerOnDisk(best.result.artifacts['model.cdz'], fm.test);
        ratio = originalBytes / disk.bytes;
        row[arm] = round(disk.decodedAccuracy);
        row[`${arm}_lr`] = best.lr;
        log(`seed ${seed} ${arm}: lr ${best.lr} (validation ${pct(best.val)}), test ${pct(disk.decodedAccuracy)} (uncompressed ${pct(uncompressed)}), ${disk.bytes} bytes (${ratio.toFixed(1)}x)`);
      }
      perSeed.push(row);
    }
    const mean = (k) => perSeed.reduce((a, r) => a + r[k], 0) / perSeed.length;
    const gap = (mean('labelled') - mean('labelFree')) * 100;
    return {
      backend: backendName,
      dataset: fm.sizes,
      metrics: {
        uncompressed_accuracy: round(mean('uncompressed')),
        labelled_accuracy: round(mean('labelled')),
        label_free_accuracy: round(mean('labelFree')),
        gap_points: round(gap, 2),
        compression_ratio: round(ratio, 2),
        seeds: c.seeds.length,
        unlabeled_images: c.unlabeledCount,
      },
      tables: { 'per seed (test accuracy of the decoded container)': perSeed, 'choices (validation split)': choices },
      notes: [
        ...(note ? [note] : []),
        `LeNet-5 pre-trained on the first ${c.pretrainCount} training images (${c.pretrain.epochs} epochs${c.pretrain.schedule ? `, ${c.pretrain.schedule}` : ''}); pruned one-shot to Han's kept fractions ${JSON.stringify(SPARSITY)}, k-means ${JSON.stringify(BITS)} bits, Deep Compression container.`,
        `Labelled arm: recovery ${c.labelledEpochs} cosine epochs + ${c.centroidEpochs.labelled} centroid epoch(s) on those ${c.pretrainCount} labelled images. Label-free arm: ${c.labelFreeEpochs} + ${c.centroidEpochs.labelFree} epochs on ${c.unlabeledCount} images without labels, the loss T^2 KL(original_T || compressed_T), T = 2, teacher outputs cached.`,
        `Each arm's learning rate (${c.learningRates.join(', ')}; centroids at a tenth) chosen on the last ${c.validationCount} training images; the test set (${fm.test.count}) measured once per seed and arm, on the container decoded from disk.`,
      ],
    };
  },
};
