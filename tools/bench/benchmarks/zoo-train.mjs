// The checkpoints the ResNet-20 and MobileNetV2 benchmarks start from, made here and nowhere else:
// one benchmark per network and seed (`npm run bench -- zoo-train-resnet20-seed1`), each a full
// run of at most about two hours on this machine's 2 cores (protocol.mjs seedParts; the report
// merges the seeds). Trains on the Fashion-MNIST training set minus the protocol's validation
// split (the last 5,000 of the 60,000), keeps the epoch with the best validation accuracy (the
// number of epochs chosen on validation), measures the test set once on it, and writes the
// checkpoint with its sidecar (checkpoints.mjs).
import { cloneGraph, cost } from '@condense/ir';
import { compile, train } from '@condense/tfjs';
import { asData, benchBackend, pct, round } from '../lib.mjs';
import { protocolData, seedParts, seedRecord } from '../protocol.mjs';
import { writeCheckpoint } from '../checkpoints.mjs';
import { ZOO } from '../zoo.mjs';

export const SEEDS = [1, 2, 3];

/**
 * Recipes. Epoch budgets from WASM training throughput at batch 128 measured here (2 cores shared
 * with other work, load 9-12): ResNet-20 47-50 samples/s, MobileNetV2 0.5 12-25 samples/s (two
 * micro-batches of 64 per step: the WASM heap). Quiet, expect ~1.5x that. An epoch is 55,000
 * images plus the 5,000 of validation: ResNet-20 ~12-19 min, 7 epochs ~1 h 30 quiet (2 h 10 at
 * load 10); MobileNetV2 ~30-60 min, 3 epochs ~1 h 35 quiet (3 h at load 10).
 * Adam 1e-3 with a cosine decay to 0 over the budget; random shifts of up to 2 pixels and
 * left-right flips. The best validation epoch is kept (with a cosine schedule usually the last).
 */
export const RECIPES = {
  resnet20: { epochs: 7, learningRate: 1e-3, schedule: { type: 'cosine' }, batchSize: 128, augment: { shift: 2, flip: true } },
  mobilenetv2: { epochs: 3, learningRate: 1e-3, schedule: { type: 'cosine' }, batchSize: 128, microBatch: 64, augment: { shift: 2, flip: true } },
};

const QUICK = { train: 2500, val: 500, test: 1000, epochs: 1 };

async function trainCheckpoint({ network, seed, quick, data, backend, log, command, commit }) {
  const recipe = quick ? { ...RECIPES[network], epochs: QUICK.epochs } : RECIPES[network];
  const backendName = await benchBackend(backend);
  const protocol = await protocolData({ quick, data }, { quickTrain: QUICK.train, quickValidation: QUICK.val, quickTest: QUICK.test });
  const { train: trainSplit, validation: val } = protocol;
  log(`${ZOO[network].title}, seed ${seed}, ${backendName}: ${protocol.validationSplit}; ${recipe.epochs} epochs`);

  const graph = ZOO[network].make(seed);
  const model = compile(graph, { seed });
  let best = { accuracy: -1, epoch: 0, graph: undefined };
  const history = [];
  const t0 = performance.now();
  const summary = await train(model, asData(trainSplit), {
    ...recipe,
    seed,
    validation: asData(val),
    onEvent: (e) => {
      if (e.type !== 'epochEnd') return;
      history.push({
        epoch: e.epoch + 1,
        loss: round(e.loss),
        train_accuracy: round(e.accuracy),
        val_accuracy: round(e.valAccuracy),
        val_loss: round(e.valLoss),
        learning_rate: round(e.learningRate, 6),
        samples_per_s: round(e.samplesPerSec, 1),
        elapsed_min: round(e.elapsedMs / 60000, 1),
      });
      log(
        `epoch ${e.epoch + 1}/${recipe.epochs}: loss ${e.loss.toFixed(4)}, train ${pct(e.accuracy)}, validation ${pct(e.valAccuracy)}, ${Math.round(e.samplesPerSec)} samples/s`,
      );
      if (e.valAccuracy > best.accuracy) {
        model.syncToGraph();
        best = { accuracy: e.valAccuracy, epoch: e.epoch + 1, graph: cloneGraph(graph) };
      }
    },
  });
  model.dispose();
  const trainSeconds = (performance.now() - t0) / 1000;
  const testAccuracy = await protocol.testAccuracy(best.graph, `seed ${seed}: epoch ${best.epoch}`); // once, on the chosen epoch
  const totals = cost(best.graph).totals;
  log(`kept epoch ${best.epoch} (validation ${pct(best.accuracy)}); test ${pct(testAccuracy)}`);

  const meta = {
    network,
    title: ZOO[network].title,
    seed,
    command,
    commit,
    date: new Date().toISOString(),
    quick,
    backend: backendName,
    split: protocol.validationSplit,
    data: protocol.sizes(),
    recipe,
    best_epoch: best.epoch,
    epochs_run: summary.epochs,
    val_accuracy: round(best.accuracy),
    test_accuracy: round(testAccuracy),
    params: totals.params,
    macs: totals.macs,
    train_samples_per_s: round(summary.samplesPerSec, 1),
    train_minutes: round(trainSeconds / 60, 1),
    history,
  };
  return { meta, best, testAccuracy, summary, trainSeconds, backendName, protocol };
}

/** One part per seed: `zoo-train-<network>-seed<N>` (seedParts), each writing its checkpoint. */
function benchmarksFor(network) {
  const name = `zoo-train-${network}`;
  return seedParts(
    {
      name,
      order: 5,
      description: `Train the ${ZOO[network].title} checkpoint (Fashion-MNIST minus the validation split; epochs chosen on validation; test measured once) and write it under bench-results/checkpoints/`,
      checks: {},
      targets: {},
      paper: {},
      async run({ quick, data, seed, backend, log, commit }) {
        const command = `npm run bench -- ${name}-seed${seed}${quick ? ' --quick' : ''}`;
        const r = await trainCheckpoint({ network, seed, quick, data, backend, log, command, commit });
        const saved = await writeCheckpoint(r.best.graph, r.meta, { quick });
        log(`checkpoint: ${saved.dir} (${saved.bytes} bytes)`);
        const metrics = {
          val_accuracy: r.meta.val_accuracy,
          test_accuracy: r.meta.test_accuracy,
          best_epoch: r.meta.best_epoch,
          epochs_run: r.meta.epochs_run,
          params: r.meta.params,
          macs: r.meta.macs,
          checkpoint_bytes: saved.bytes,
          train_samples_per_s: r.meta.train_samples_per_s,
          train_minutes: r.meta.train_minutes,
        };
        return {
          backend: r.backendName,
          dataset: r.protocol.sizes(),
          metrics,
          protocol: r.protocol.record(),
          seedRuns: seedRecord([{ seed, metrics }]),
          tables: { 'per epoch (validation split, never the test set)': r.meta.history },
          notes: [
            `Recipe: ${JSON.stringify(r.meta.recipe)}, seed ${seed} (initialisation, shuffle, augmentation).`,
            `Split: ${r.meta.split}.`,
            `Checkpoint: ${saved.dir.slice(saved.dir.indexOf(quick ? 'bench-out' : 'bench-results'))} (model.json + shards, ${saved.bytes} bytes; checkpoint.json holds this command, the commit, the seed, the split and both accuracies).`,
            ...(quick ? ['--quick: a few thousand images and one epoch; checks that everything runs, written under bench-out/quick/checkpoints/.'] : []),
          ],
        };
      },
    },
    SEEDS,
  );
}

export default Object.keys(RECIPES).flatMap(benchmarksFor);
