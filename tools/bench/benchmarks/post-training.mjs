// Post-training compression from 512 calibration images and no fine-tuning (issue 24), on the
// benchmark CNNs and Fashion-MNIST: round to nearest vs GPTQ at 4 and 3 bits, magnitude vs
// SparseGPT one-shot at 50/70/90% and 2:4, each beside the fine-tuned result of the existing
// methods at the same size (trained k-means; magnitude pruning then a fine-tune), with time and
// the peak memory of the method.
import { finetune, pipeline } from '@condense/core';
import { subset } from '@condense/datasets';
import * as ir from '@condense/ir';
import { cloneGraph, setMask } from '@condense/ir';
import { magnitudePrune } from '@condense/prune';
import { kmeansQuantize } from '@condense/quantize';
import { gptqPlugin, kernelBlocks, kernelLayers, layerSpec, sparseGptPlugin } from '@condense/reconstruct';
import { accuracy, benchBackend, envOverrides, fit, round, runtime } from '../lib.mjs';
import { mean as meanOf, protocolData, std as stdOf } from '../protocol.mjs';

/** The models, their training, and the images they see. */
function models(quick) {
  return [
    { key: 'lenet5', make: ir.lenet5, pretrain: { epochs: quick ? 1 : 8, lr: 1e-3, schedule: 'cosine' } },
    { key: 'vgg', make: (seed) => ir.vggSmall(seed), pretrain: { epochs: quick ? 1 : 3, lr: 1e-3, schedule: 'cosine' } },
    // The zoo's small-input MobileNetV2 (width 0.5, 28x28x1); ir.mobilenetV2 is the 224x224 keras.applications layout.
    { key: 'mobilenetv2', make: (seed) => ir.mobilenetV2Small(seed), pretrain: { epochs: quick ? 1 : 3, lr: 1e-3, schedule: 'cosine' } },
  ];
}

/**
 * The full run: per model, seed 1 trains the model and runs every method (16 post-training runs,
 * 6 fine-tuned baselines), seeds 2 and 3 the headline ones; about 2.5 hours on 2 quiet cores
 * (LeNet-5 ~35 min, the VGG-style CNN ~2 h, mostly its training and the fine-tuned baselines),
 * before the small MobileNetV2 joined (not yet timed in full).
 * --quick took 22 minutes on 2 heavily shared cores.
 */
function plan(quick) {
  return quick
    ? { train: 1000, validation: 300, test: 500, calibration: 128, seeds: [1], finetune: { quantize: 1, prune: 1 }, batchSize: 64 }
    : { train: 10000, test: undefined, calibration: 512, seeds: [1, 2, 3], finetune: { quantize: 1, prune: 2 }, batchSize: 128 };
}

const BITS = [4, 3];
const SPARSITIES = [0.5, 0.7, 0.9];

/**
 * One compression of a copy of `graph` by `stages`; its accuracy on `on` (the validation split,
 * or the protocol's test split for a final configuration, recorded under `label`), time and the
 * method's peak memory.
 */
async function run(graph, stages, data, on, label, log) {
  const t0 = performance.now();
  const r = await pipeline(stages).run(cloneGraph(graph), { data, runtime, evaluateEachStage: false });
  const seconds = (performance.now() - t0) / 1000;
  const details = r.stages.map((s) => s.details ?? {});
  const memory = Math.max(0, ...details.map((d) => (d.passPeakBytes ?? 0) + (d.statsPeakBytes ?? 0)));
  const acc = await accuracy(r.graph, typeof on === 'function' ? on(label) : on);
  log(`${label}: ${(acc * 100).toFixed(2)}% in ${seconds.toFixed(1)} s${memory ? `, ${(memory / 2 ** 20).toFixed(1)} MB held` : ''}`);
  return { graph: r.graph, accuracy: acc, seconds, memoryMB: memory / 2 ** 20, details };
}

/** n of every m consecutive kernel rows of each output pruned by magnitude: the N:M baseline, on the layers SparseGPT's N:M fits. */
const magnitudeNm = (n, m) => ({
  name: 'bench.magnitudeNm',
  options: { n, m },
  contract: { provides: ['mask'] },
  apply(graph) {
    for (const layer of kernelLayers(graph)) {
      if (kernelBlocks(layerSpec(graph, layer)).rows % m !== 0) continue;
      const p = graph.params.get(graph.nodes.find((x) => x.name === layer).params.kernel);
      const cols = p.shape.at(-1);
      const mask = new Uint8Array(p.data.length).fill(1);
      for (let r0 = 0; r0 < p.data.length / cols; r0 += m) {
        for (let c = 0; c < cols; c++) {
          const group = Array.from({ length: m }, (_, j) => (r0 + j) * cols + c).sort((a, b) => Math.abs(p.data[a]) - Math.abs(p.data[b]));
          for (const i of group.slice(0, n)) mask[i] = 0;
        }
      }
      setMask(p, mask);
    }
  },
});

/** The row of one method at one size: post-training on test, the fine-tuned baseline on test, both timed. */
async function compare(label, post, tuned, ctx) {
  const a = await run(ctx.graph, post, ctx.data, ctx.test, `${ctx.tag}: ${label}`, ctx.log);
  const b = tuned ? await run(ctx.graph, tuned, ctx.data, ctx.test, `${ctx.tag}: ${label} (fine-tuned baseline)`, ctx.log) : undefined;
  return {
    model: ctx.key,
    method: label,
    accuracy: round(a.accuracy),
    vs_float_points: round((a.accuracy - ctx.float) * 100, 2),
    seconds: round(a.seconds, 1),
    memory_mb: round(a.memoryMB, 1),
    ...(b ? { finetuned_accuracy: round(b.accuracy), finetuned_seconds: round(b.seconds, 1), speedup: round(b.seconds / a.seconds, 1) } : {}),
  };
}

/** Choose between variants on the validation split; the chosen one is measured once on test. */
async function choose(variants, ctx) {
  let best;
  for (const v of variants) {
    const r = await run(ctx.graph, v.stages, ctx.data, ctx.validation, `${ctx.tag}: ${v.label} (validation)`, ctx.log);
    if (!best || r.accuracy > best.accuracy) best = { ...v, accuracy: r.accuracy };
  }
  return best;
}

export default {
  name: 'post-training',
  order: 65,
  description:
    'Post-training compression from 512 calibration images, no fine-tuning: round to nearest vs GPTQ (4/3 bits), magnitude vs SparseGPT (50/70/90%, 2:4), against fine-tuned k-means / magnitude pruning at the same size',
  checks: {
    gptq4_vs_float_points: (m) => m.gptq4_vs_float_points >= -0.5,
    sparsegpt50_vs_float_points: (m) => m.sparsegpt50_vs_float_points >= -0.5,
    min_speedup_vs_finetuned: (m) => m.min_speedup_vs_finetuned >= 10,
  },
  targets: {
    gptq4_vs_float_points: 'GPTQ 4-bit within 0.5 points of float (mean over seeds, every model)',
    sparsegpt50_vs_float_points: 'SparseGPT 50% within 0.5 points of float, without fine-tuning',
    min_speedup_vs_finetuned: 'each post-training run at least 10x faster than its fine-tuned equivalent',
  },
  paper: {
    gptq4_vs_float_points: 'OBC/GPTQ: 4-bit ResNet-18/50 on ImageNet within about 1 point of float from calibration only; round to nearest loses far more',
    sparsegpt50_vs_float_points: 'SparseGPT: 50% one-shot with little loss',
  },
  async run({ quick, data: dataDir, seed: firstSeed, backend, log }) {
    const p = plan(quick);
    const backendName = await benchBackend(backend);
    const protocol = await protocolData(
      { quick, data: dataDir },
      { train: p.train, test: p.test, quickTrain: p.train, quickValidation: p.validation, quickTest: p.test },
    );
    const { train, validation } = protocol;
    const test = (label) => protocol.test(label);
    log(`backend ${backendName}; ${protocol.validationSplit}`);
    const seeds = p.seeds.map((s) => s + (firstSeed ?? 1) - 1);
    // CONDENSE_POST_TRAINING_CONFIG='{"models":["lenet5"]}' runs some of the models (the result's notes say so).
    const { overrides, note: overrideNote } = envOverrides('CONDENSE_POST_TRAINING_CONFIG');
    const chosen = models(quick).filter((m) => !overrides.models || overrides.models.includes(m.key));
    const known = models(quick).map((m) => m.key);
    if (!chosen.length) throw new Error(`CONDENSE_POST_TRAINING_CONFIG: models must name some of ${known.join(', ')}`);
    const rows = [];
    const headline = [];
    for (const m of chosen) {
      for (const seed of seeds) {
        const graph = m.make(seed);
        const t0 = performance.now();
        await fit(graph, train, { ...m.pretrain, batchSize: p.batchSize, seed, log, label: `${m.key} pretrain` });
        const trainS = (performance.now() - t0) / 1000;
        const tag = `${m.key} seed ${seed}`;
        const float = await accuracy(graph, test(`${tag}: float`));
        log(`${m.key} seed ${seed}: float ${(float * 100).toFixed(2)}%, trained in ${trainS.toFixed(0)} s`);
        const calibration = subset(train, p.calibration, { seed: seed + 1000 });
        const ctx = { key: m.key, tag, graph, float, test, validation, data: { train, calibration }, log };
        const common = { examples: p.calibration };
        // The fine-tunes the existing methods run: trained centroids as Deep Compression's; a short retraining after pruning.
        const ftq = finetune({ epochs: p.finetune.quantize, batchSize: p.batchSize });
        const ftp = finetune({ epochs: p.finetune.prune, batchSize: p.batchSize });
        const full = seed === seeds[0];
        const result = { model: m.key, seed, float_accuracy: round(float) };
        for (const bits of full ? BITS : [4]) {
          const gptq = await choose(
            [false, true].map((actOrder) => ({
              label: `GPTQ ${bits}-bit${actOrder ? ' act-order' : ''}`,
              stages: [gptqPlugin({ ...common, bits, actOrder })],
            })),
            ctx,
          );
          const rtn = await compare(
            `RTN ${bits}-bit`,
            [gptqPlugin({ ...common, bits, compensate: false })],
            full ? [kmeansQuantize({ bits }), ftq] : undefined,
            ctx,
          );
          const g = await compare(gptq.label, gptq.stages, undefined, ctx);
          rows.push(
            { ...rtn, seed },
            {
              ...g,
              seed,
              ...(rtn.finetuned_seconds
                ? { finetuned_accuracy: rtn.finetuned_accuracy, finetuned_seconds: rtn.finetuned_seconds, speedup: round(rtn.finetuned_seconds / g.seconds, 1) }
                : {}),
            },
          );
          result[`gptq${bits}`] = g.accuracy;
          result[`rtn${bits}`] = rtn.accuracy;
        }
        for (const sparsity of full ? SPARSITIES : [0.5]) {
          const pct = sparsity * 100;
          const mag = await compare(`magnitude ${pct}%`, [magnitudePrune({ sparsity })], full ? [magnitudePrune({ sparsity }), ftp] : undefined, ctx);
          const sg = await choose(
            ['layer', 'output'].map((scope) => ({
              label: `SparseGPT ${pct}%${scope === 'output' ? ' per output' : ''}`,
              stages: [sparseGptPlugin({ ...common, sparsity, scope })],
            })),
            ctx,
          );
          const s = await compare(sg.label, sg.stages, undefined, ctx);
          rows.push(
            { ...mag, seed },
            {
              ...s,
              seed,
              ...(mag.finetuned_seconds
                ? { finetuned_accuracy: mag.finetuned_accuracy, finetuned_seconds: mag.finetuned_seconds, speedup: round(mag.finetuned_seconds / s.seconds, 1) }
                : {}),
            },
          );
          result[`sparsegpt${pct}`] = s.accuracy;
          result[`magnitude${pct}`] = mag.accuracy;
        }
        if (full) {
          const mag = await compare('magnitude 2:4', [magnitudeNm(2, 4)], [magnitudeNm(2, 4), ftp], ctx);
          const s = await compare('SparseGPT 2:4', [sparseGptPlugin({ ...common, nm: '2:4' })], undefined, ctx);
          rows.push(
            { ...mag, seed },
            {
              ...s,
              seed,
              finetuned_accuracy: mag.finetuned_accuracy,
              finetuned_seconds: mag.finetuned_seconds,
              speedup: round(mag.finetuned_seconds / s.seconds, 1),
            },
          );
        }
        headline.push(result);
      }
    }
    // Per model and method: (method - float accuracy) of every seed.
    const deltas = (key, model) => headline.filter((h) => h.model === model).map((h) => h[key] - h.float_accuracy);
    const mean = (key, model) => meanOf(deltas(key, model));
    const keys = [...new Set(headline.map((h) => h.model))];
    const worst = (key) => Math.min(...keys.map((k) => mean(key, k)));
    const speedups = rows.filter((r) => r.speedup !== undefined && !r.method.startsWith('RTN') && !r.method.startsWith('magnitude')).map((r) => r.speedup);
    return {
      backend: backendName,
      dataset: protocol.sizes({ calibration: `${p.calibration} training images (seeded draw per seed)` }),
      protocol: protocol.record(),
      metrics: {
        gptq4_vs_float_points: round(worst('gptq4') * 100, 2),
        rtn4_vs_float_points: round(worst('rtn4') * 100, 2),
        sparsegpt50_vs_float_points: round(worst('sparsegpt50') * 100, 2),
        magnitude50_vs_float_points: round(worst('magnitude50') * 100, 2),
        min_speedup_vs_finetuned: speedups.length ? Math.min(...speedups) : undefined,
        ...Object.fromEntries(
          keys.flatMap((k) => [
            [
              `${k}_float_accuracy`,
              round(headline.filter((h) => h.model === k).reduce((a, h) => a + h.float_accuracy, 0) / headline.filter((h) => h.model === k).length),
            ],
            [`${k}_gptq4_vs_float_points`, round(mean('gptq4', k) * 100, 2)],
            [`${k}_gptq4_vs_float_points_std`, round(stdOf(deltas('gptq4', k)) * 100, 2)],
            [`${k}_sparsegpt50_vs_float_points`, round(mean('sparsegpt50', k) * 100, 2)],
            [`${k}_sparsegpt50_vs_float_points_std`, round(stdOf(deltas('sparsegpt50', k)) * 100, 2)],
          ]),
        ),
      },
      tables: {
        'post-training (no fine-tuning) vs the fine-tuned existing method at the same size; test accuracy, seed 1 (memory: what the method held, the layer pass frontier plus one layer statistics)':
          rows.filter((r) => r.seed === seeds[0]),
        'headline, per seed': headline,
      },
      notes: [
        `Models trained from scratch on ${train.count} training images (${chosen
          .map((m) => `${m.key} ${m.pretrain.epochs} cosine epochs`)
          .join(', ')}, Adam 1e-3); ${protocol.validationSplit}; calibration: ${p.calibration} images drawn from the training images per seed.`,
        'Choices made on the validation split, then measured once on test: GPTQ act-order on or off (per bit width), SparseGPT scope (per layer or per output channel).',
        'RTN: round to nearest on the same per-channel grid GPTQ uses (reconstruct.gptq with compensate: false). Magnitude: prune.magnitude one-shot per layer at the same sparsity. 2:4: n of every m consecutive kernel rows per output; layers whose rows do not split into groups of 4 (LeNet-5 conv1: 25) stay dense in both.',
        `Fine-tuned baselines at the same size: quantize.kmeans at the same bits (a 16- or 8-value codebook per layer) then ${p.finetune.quantize} fine-tune epoch (centroids trained, as Deep Compression); prune.magnitude then ${p.finetune.prune} fine-tune epoch(s) (masks kept). speedup = fine-tuned seconds / post-training seconds, for GPTQ and SparseGPT.`,
        `Headline metrics: the worst model's mean over ${seeds.length} seed(s) of (method accuracy - float accuracy), in points.`,
        ...(overrideNote ? [overrideNote] : []),
        ...(quick
          ? ['--quick: models trained 1 epoch on 1,000 images and 128 calibration images, one seed: it checks that everything runs; the numbers are noise.']
          : []),
      ],
    };
  },
};
