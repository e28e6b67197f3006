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
import { accuracy, benchBackend, envOverrides, fit, pct, round, runtime, shardBytes } from '../lib.mjs';
import { overSeeds, protocolData, seedRecord } from '../protocol.mjs';

const FULL = {
  pretrainCount: 10000, // first N training examples: the checkpoint's training set and the labelled arm's
  pretrain: { epochs: 8, lr: 1e-3, schedule: 'cosine' },
  unlabeledCount: 1000, // the label-free arm's images: the first N of the training set, labels dropped
  labelledEpochs: 4,
  labelFreeEpochs: 40, // as many steps as the labelled arm (10x fewer examples per epoch)
  centroidEpochs: { labelled: 1, labelFree: 10 },
  learningRates: [1e-3, 3e-4],
  batchSize: 128,
};
const QUICK = {
  ...FULL,
  pretrainCount: 800,
  pretrain: { epochs: 2, lr: 1e-3 },
  unlabeledCount: 200,
  labelledEpochs: 1,
  labelFreeEpochs: 4,
  centroidEpochs: { labelled: 1, labelFree: 1 },
  learningRates: [1e-3],
  batchSize: 50,
};

const SPARSITY = Object.freeze({ ...HAN_LENET5_SPARSITY });
const BITS = Object.freeze({ conv2d: 8, dense: 5 });

/** The first `n` images of a split without their labels (no targets at all). */
function unlabeledHead(split, n) {
  const size = split.images.length / split.count;
  return { inputs: { values: split.images.subarray(0, n * size), shape: [n, ...split.shape.slice(1)] } };
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
  description:
    'Label-free recovery: LeNet-5 pruned + k-means + container, recovered with labels vs from 1,000 unlabeled images against the original (3 seeds, choices on a validation split)',
  checks: {
    gap_points: (m) => m.gap_points <= 1,
  },
  targets: {
    gap_points: 'label-free recovery within 1 point of labelled recovery (mean over seeds, test accuracy of the decoded containers)',
  },
  seedColumns: ['uncompressed_accuracy', 'labelled_accuracy', 'label_free_accuracy', 'gap_points', 'labelled_lr', 'label_free_lr'],
  async run({ quick, data, seeds, backend, log }) {
    const { overrides, note } = envOverrides('CONDENSE_LABEL_FREE_CONFIG');
    const c = { ...(quick ? QUICK : FULL), ...overrides };
    const backendName = await benchBackend(backend);
    const protocol = await protocolData({ quick, data }, { train: c.pretrainCount, quickTrain: c.pretrainCount, quickTest: 500 });
    const { train, validation } = protocol;
    if (train.count < c.pretrainCount)
      throw new Error(`label-free: needs ${c.pretrainCount} training examples outside the validation split, the data has ${train.count}`);
    const unlabeled = unlabeledHead(train, c.unlabeledCount);
    log(`backend ${backendName}; pretrain/labelled ${train.count}, unlabeled ${c.unlabeledCount}; ${protocol.validationSplit}`);

    const choices = [];
    let ratio;
    const { runs, metrics } = await overSeeds(
      seeds,
      async (seed) => {
        const checkpoint = lenet5(seed);
        await fit(checkpoint, train, { ...c.pretrain, batchSize: c.batchSize, seed, log, label: `seed ${seed} pretrain` });
        const uncompressed = await protocol.testAccuracy(checkpoint, `seed ${seed}: uncompressed checkpoint`);
        const originalBytes = await shardBytes(checkpoint);
        const m = { uncompressed_accuracy: round(uncompressed) };
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
          const disk = await containerOnDisk(best.result.artifacts['model.cdz'], protocol.test(`seed ${seed}: ${arm} container`));
          ratio = originalBytes / disk.bytes;
          const key = arm === 'labelled' ? 'labelled' : 'label_free';
          m[`${key}_accuracy`] = round(disk.decodedAccuracy);
          m[`val_${key}_accuracy`] = round(best.val);
          m[`${key}_lr`] = best.lr;
          log(
            `seed ${seed} ${arm}: lr ${best.lr} (validation ${pct(best.val)}), test ${pct(disk.decodedAccuracy)} (uncompressed ${pct(uncompressed)}), ${disk.bytes} bytes (${ratio.toFixed(1)}x)`,
          );
        }
        m.gap_points = round((m.labelled_accuracy - m.label_free_accuracy) * 100, 2);
        m.compression_ratio = round(ratio, 2);
        return { metrics: m };
      },
      { log },
    );
    return {
      backend: backendName,
      dataset: protocol.sizes({ unlabeled: c.unlabeledCount }),
      metrics: { ...metrics, unlabeled_images: c.unlabeledCount },
      seedRuns: seedRecord(runs),
      protocol: protocol.record(),
      tables: { 'choices (validation split)': choices },
      notes: [
        ...(note ? [note] : []),
        `LeNet-5 pre-trained on the first ${train.count} training images (${c.pretrain.epochs} epochs${c.pretrain.schedule ? `, ${c.pretrain.schedule}` : ''}); pruned one-shot to Han's kept fractions ${JSON.stringify(SPARSITY)}, k-means ${JSON.stringify(BITS)} bits, Deep Compression container.`,
        `Labelled arm: recovery ${c.labelledEpochs} cosine epochs + ${c.centroidEpochs.labelled} centroid epoch(s) on those ${train.count} labelled images. Label-free arm: ${c.labelFreeEpochs} + ${c.centroidEpochs.labelFree} epochs on ${c.unlabeledCount} images without labels (as many steps), the loss T^2 KL(original_T || compressed_T), T = 2, teacher outputs cached. The full training set would fit in the time (~1 h for 3 seeds) but would give the labelled arm 5.5x the steps; kept at ${train.count}.`,
        `Each arm's learning rate (${c.learningRates.join(', ')}; centroids at a tenth) chosen per seed on the validation split; the test set (${protocol.sizes().test}) measured once per seed and arm, on the container decoded from disk, and once per seed for the uncompressed checkpoint.`,
      ],
    };
  },
};
