// The uncompressed ResNet-20 and MobileNetV2 baselines as the zoo-train checkpoints left them:
// accuracy as mean ± std over the seeds (validation and test), size and cost, and inference
// latency in stock TF.js (Node WASM at batch 1 and 32, Chromium WASM and WebGL). Trains nothing.
import { cost } from '@condense/ir';
import { latencyMetrics, latencyNotes, measureLatency } from '../latency.mjs';
import { checkpointDir, listCheckpoints, loadCheckpoint } from '../checkpoints.mjs';
import { round } from '../lib.mjs';
import { mean, std } from '../protocol.mjs';
import { RECIPES, SEEDS } from './zoo-train.mjs';
import { ZOO } from '../zoo.mjs';

const NETWORKS = Object.keys(RECIPES);

export default {
  name: 'zoo-baselines',
  order: 6,
  description:
    'ResNet-20 and MobileNetV2 (width 0.5) baselines from the zoo-train checkpoints: accuracy mean ± std over 3 seeds, params, MACs, file size, latency in stock TF.js (Node WASM, Chromium WASM/WebGL)',
  checks: Object.fromEntries(NETWORKS.map((n) => [`${n}_seeds`, (m) => m[`${n}_seeds`] >= 3])),
  targets: Object.fromEntries(NETWORKS.map((n) => [`${n}_seeds`, '>= 3 checkpoints (zoo-train-<network>-seed1..3)'])),
  paper: {},
  async run({ quick, log }) {
    const found = await listCheckpoints({ quick });
    const metrics = {};
    const rows = [];
    const notes = [];
    const timed = [];
    for (const network of NETWORKS) {
      const metas = (found[network] ?? []).filter((m) => SEEDS.includes(m.seed)).sort((a, b) => a.seed - b.seed);
      metrics[`${network}_seeds`] = metas.length;
      const missing = SEEDS.filter((s) => !metas.some((m) => m.seed === s));
      if (missing.length)
        notes.push(
          `${ZOO[network].title}: no checkpoint for seed(s) ${missing.join(', ')}; make them with ${missing.map((s) => `npm run bench -- zoo-train-${network}-seed${s}${quick ? ' --quick' : ''}`).join(', ')}.`,
        );
      if (metas.length === 0) continue;
      const test = metas.map((m) => m.test_accuracy);
      const val = metas.map((m) => m.val_accuracy);
      const { graph, dir } = await loadCheckpoint(network, metas[0].seed, { quick });
      const t = cost(graph).totals;
      Object.assign(metrics, {
        [`${network}_test_accuracy_mean`]: round(mean(test)),
        [`${network}_test_accuracy_std`]: round(std(test)),
        [`${network}_val_accuracy_mean`]: round(mean(val)),
        [`${network}_params`]: t.params,
        [`${network}_macs`]: t.macs,
        [`${network}_file_bytes`]: metas[0].bytes,
      });
      for (const m of metas)
        rows.push({
          network: ZOO[network].title,
          seed: m.seed,
          best_epoch: `${m.best_epoch}/${m.recipe.epochs}`,
          val_accuracy: m.val_accuracy,
          test_accuracy: m.test_accuracy,
          train_samples_per_s: m.train_samples_per_s,
          commit: m.commit.slice(0, 8),
          command: m.command,
        });
      timed.push({ name: network, dir });
      log(`${network}: ${metas.length} seed(s), test ${(100 * mean(test)).toFixed(2)}% ± ${(100 * std(test)).toFixed(2)}`);
    }
    let latency;
    if (timed.length) {
      latency = await measureLatency(timed, { quick });
      for (const { name } of timed) Object.assign(metrics, latencyMetrics(latency, name));
    }
    return {
      backend: latency
        ? `node ${latency.node.backend}; chromium ${Object.values(latency.browser)
            .map((r) => r.actual ?? r.skipped ?? r.error)
            .join(', ')}`
        : 'none (no checkpoints)',
      dataset: { checkpoints: NETWORKS.map((n) => checkpointDir(n, 'N', { quick })).join(', ') },
      metrics,
      tables: { 'checkpoints (accuracies from their sidecars: validation chose the epoch, test measured once)': rows },
      notes: [
        'Accuracy: mean ± sample std over the seeds; each checkpoint trained by its zoo-train command on the training set minus the validation split (the last 5,000 of the 60,000), the epoch kept by validation accuracy, the test set (10,000) measured once.',
        ...(latency ? latencyNotes(latency) : []),
        'Latency of the seed-1 checkpoint of each network, the networks timed side by side.',
        ...notes,
      ],
    };
  },
};
