// Deep Compression (Han et al. 2015 "Learning both Weights and Connections", 2016 "Deep Compression")
// shared by the prune-mlp, quantize-mlp and deep-compression-* benchmarks: the recipe as pipeline
// stages, the fair baseline, the container written to disk and decoded back.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { containerReport, decodeGraph, deepCompression, encodeGraph, parseContainer, readContainer } from '@condense/codec';
import { finetune, pipeline } from '@condense/core';
import { cloneGraph } from '@condense/ir';
import { magnitudePrune } from '@condense/prune';
import { float16Quantize, kmeansQuantize } from '@condense/quantize';
import { accuracy, fitPhases, pct, rangeOf, round, runtime, shardBytes, withTempDir } from './lib.mjs';
import { overSeeds, seedRecord } from './protocol.mjs';

/** Han et al. 2015, Table 2 (LeNet-300-100): fc1/fc2/fc3 keep 8%/9%/26% of their weights. */
export const HAN_LENET300_SPARSITY = Object.freeze({ fc1: 0.92, fc2: 0.91, fc3: 0.74 });
/** Han et al. 2015, Table 3 (LeNet-5): conv1/conv2/fc1/fc2 keep 66%/12%/8%/19%. */
export const HAN_LENET5_SPARSITY = Object.freeze({ conv1: 0.34, conv2: 0.88, fc1: 0.92, fc2: 0.81 });

/**
 * LeNet-300-100 pruned to Han's kept fractions with retraining (prune-mlp; quantize-mlp starts
 * from the same). Pruning starts from a converged model (16 epochs, cosine-decayed rate), as Han et
 * al. do. The sparse model needs a long retrain on Fashion-MNIST: against a fair baseline, 12 cosine
 * epochs left it 0.95 points short, 24 0.77, 36 0.52 (scratch runs at this plan otherwise). Full run:
 * 72 epochs for the compressed model and as many for the baseline; WASM trains LeNet-300-100 at
 * ~11,000 samples/s with batch 256 on 2 quiet cores (~6 s per epoch).
 */
export function mlpPrunePlan(quick) {
  return quick
    ? {
        train: 1000,
        test: 500,
        batchSize: 64,
        pretrain: { epochs: 2, lr: 1e-3 },
        prune: { layers: HAN_LENET300_SPARSITY, rounds: 2, epochs: 1, lr: 1e-3 },
        retrain: { epochs: 1, lr: 1e-3, schedule: 'cosine' },
      }
    : {
        train: undefined,
        test: undefined,
        batchSize: 256,
        pretrain: { epochs: 16, lr: 1e-3, schedule: 'cosine' },
        prune: { layers: HAN_LENET300_SPARSITY, rounds: 4, epochs: 2, lr: 1e-3 },
        retrain: { epochs: 48, lr: 1e-3, schedule: 'cosine' },
      };
}

/** The first `n` examples of a split. */
export function headOf(split, n) {
  return n >= split.count ? split : rangeOf(split, 0, n);
}

/**
 * A plan: { batchSize, pretrain: {epochs, lr}, prune: {layers, rounds, epochs, lr},
 * retrain?: {epochs, lr, schedule}, quantize?: {bits, init?, biasFloat16?}, centroids?: {epochs, lr, schedule} }.
 * Every training phase the compressed model gets after the checkpoint, in order; the fair
 * baseline is trained through exactly the same phases (epochs, learning rates, schedules).
 */
export function retrainingPhases(plan, { centroids = true } = {}) {
  const phases = [];
  for (let r = 1; r <= plan.prune.rounds; r++) phases.push({ epochs: plan.prune.epochs, lr: plan.prune.lr, label: `retrain round ${r}/${plan.prune.rounds}` });
  if (plan.retrain?.epochs) phases.push({ ...plan.retrain, label: 'retrain' });
  if (centroids && plan.centroids?.epochs) phases.push({ ...plan.centroids, label: 'centroid training' });
  return phases;
}

export const phaseEpochs = (phases) => phases.reduce((n, p) => n + p.epochs, 0);

/** Epochs the pipeline runs trained, as the pipeline counted them (every fine-tune through its runtime). */
export const pipelineEpochs = (...results) => results.reduce((n, r) => n + r.snapshots.reduce((m, s) => m + s.epochs, 0), 0);

/** The baseline's phases must train as many epochs as the pipeline did, or the baseline is not fair. */
export function checkFairPhases(phases, trained) {
  if (phaseEpochs(phases) !== trained)
    throw new Error(`fair baseline: its phases train ${phaseEpochs(phases)} epochs, the compressed model trained ${trained}`);
}

/** Every fine-tune a pipeline run did, in order, as training phases (for the fair baseline). */
export function recordedPhases(result) {
  return result.stages.flatMap((s) =>
    s.finetunes.map((f, k) => ({
      epochs: f.epochs,
      lr: f.options.learningRate,
      schedule: f.options.schedule,
      label: `${s.name} fine-tune ${k + 1}/${s.finetunes.length}`,
    })),
  );
}

/** Iterative magnitude pruning with retraining after every round, then (optionally) more retraining, e.g. with a cosine-decayed rate. */
export function pruneStages(plan) {
  const { layers, rounds, epochs, lr } = plan.prune;
  const stages = [magnitudePrune({ layers, schedule: 'iterative', rounds, finetune: { epochs, learningRate: lr, batchSize: plan.batchSize } })];
  if (plan.retrain?.epochs) stages.push(finetuneStage(plan.retrain, plan.batchSize));
  return stages;
}

/** Trained k-means weight sharing (linear init unless the plan says), biases to float16 if asked, then centroid training. */
export function quantizeStages(plan) {
  const stages = [kmeansQuantize({ bits: plan.quantize.bits, init: plan.quantize.init ?? 'linear' })];
  if (plan.quantize.biasFloat16) stages.push(float16Quantize({ kinds: ['bias'] }));
  if (plan.centroids?.epochs) stages.push(finetuneStage(plan.centroids, plan.batchSize));
  return stages;
}

const finetuneStage = (phase, batchSize) => finetune({ epochs: phase.epochs, learningRate: phase.lr, batchSize, schedule: phase.schedule ?? 'constant' });

/** Pipeline events as log lines. */
export function pipelineLog(log) {
  let stage = '';
  return (e) => {
    if (e.type === 'stageStart') log(`stage ${e.index}/${e.total}: ${(stage = e.name)}`);
    else if (e.type === 'epoch')
      log(
        `  ${stage} epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)} ${Number.isFinite(e.accuracy) ? `acc ${pct(e.accuracy)} ` : ''}${Math.round(e.samplesPerSec ?? 0)} samples/s`,
      );
    else if (e.type === 'log') log(`  ${e.message}`);
    else if (e.type === 'stageEnd')
      log(
        `  ${e.name}: ${e.snapshot.nonzero} non-zero params, ${e.snapshot.bytes} stored bytes${e.snapshot.accuracy === undefined ? '' : `, evaluation accuracy ${pct(e.snapshot.accuracy)}`}`,
      );
  };
}

/**
 * Train a fresh model to the checkpoint that compression starts from; `base` trains on later as the
 * fair baseline. The checkpoint is measured on `validation` (an intermediate model: never on the
 * test set); `validation: undefined` skips that (a pipeline's input snapshot does it).
 */
export async function pretrain(makeModel, train, validation, plan, { seed, log }) {
  const base = makeModel(seed);
  await fitPhases(base, train, [{ ...plan.pretrain, label: 'pretrain' }], { batchSize: plan.batchSize, seed, log });
  const checkpoint = cloneGraph(base);
  const checkpointAccuracy = validation ? await accuracy(checkpoint, validation) : undefined;
  if (validation) log(`checkpoint after ${plan.pretrain.epochs} epochs: validation accuracy ${pct(checkpointAccuracy)}`);
  return { base, checkpoint, checkpointAccuracy };
}

/**
 * The fair baseline: the uncompressed model continued through `phases` (the compressed model's
 * retraining: same epochs, rates, schedules), with `distill` (() => contributions, e.g. KD from the
 * checkpoint) in every phase when the compressed model was distilled. Measured on validation and,
 * once, on the test split (`protocol.test`, as `label`).
 */
export async function fairBaseline(base, protocol, plan, phases, { seed, log, label, distill }) {
  const contributions = distill ? distill() : [];
  const more = await fitPhases(
    base,
    protocol.train,
    phases.map((p) => ({ ...p, label: `${label}: ${p.label}` })),
    { batchSize: plan.batchSize, seed, log, contributions },
  );
  const validation = await accuracy(base, protocol.validation);
  const acc = await protocol.testAccuracy(base, label);
  const epochs = plan.pretrain.epochs + more;
  log(`${label} after ${epochs} epochs: validation ${pct(validation)}, test ${pct(acc)}`);
  return { accuracy: acc, validation, epochs };
}

/** Kept fraction of the pruned kernels and the whole-model parameter reduction. */
export function sparsityOf(graph, layers) {
  const rows = [];
  let kept = 0;
  let total = 0;
  for (const name of layers) {
    const node = graph.nodes.find((n) => n.name === name);
    const p = graph.params.get(node.params.kernel);
    const k = p.mask ? p.mask.reduce((a, m) => a + (m ? 1 : 0), 0) : p.data.length;
    rows.push({ layer: name, weights: p.data.length, kept: k, kept_fraction: round(k / p.data.length) });
    kept += k;
    total += p.data.length;
  }
  let params = 0;
  let nonzero = 0;
  for (const p of graph.params.values()) {
    params += p.data.length;
    for (const v of p.data) if (v !== 0) nonzero++;
  }
  return { rows, keptFraction: kept / total, params, nonzero, reduction: params / nonzero };
}

/** One row per snapshot: stored bytes (before entropy coding) and the ratio to float32. */
export function stageRows(snapshots) {
  const f32 = snapshots[0].float32Bytes;
  return snapshots.map((s) => ({
    stage: s.stage,
    nonzero: s.nonzero,
    stored_bytes: s.bytes,
    ratio: round(f32 / s.bytes, 2),
    epochs: s.epochs,
    accuracy: s.accuracy === undefined ? '' : round(s.accuracy),
    wall_s: round(s.wallMs / 1000, 1),
  }));
}

/** Median wall and CPU time (ms) of a synchronous `fn`, and the fastest run, after `warmup` untimed calls. */
function decodeTimes(fn, { repeats, warmup }) {
  for (let i = 0; i < warmup; i++) fn();
  const wall = [];
  const cpu = [];
  for (let i = 0; i < repeats; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    fn();
    wall.push(performance.now() - t);
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return { wallMs: median(wall), cpuMs: median(cpu), bestMs: Math.min(...wall) };
}

/**
 * Write a container to a temporary file, decode it back from the file, measure the decoded
 * model's accuracy and time `decodeGraph` on the bytes read.
 */
export async function containerOnDisk(artifact, test) {
  return withTempDir('condense-dc-', async (dir) => {
    const file = join(dir, 'model.cdz');
    await writeFile(file, artifact);
    const bytes = (await stat(file)).size;
    const decoded = await readContainer(file);
    const decodedAccuracy = await accuracy(decoded, test);
    const onDisk = new Uint8Array(await readFile(file));
    const decode = decodeTimes(() => decodeGraph(onDisk, file), { repeats: 51, warmup: 20 });
    return { bytes, decoded, decodedAccuracy, decode, onDisk };
  });
}

/**
 * The quantize step's choices a Deep Compression run selects from on validation: the plan's own
 * k-means init and the other (linear: the paper's; k-means++), from the same pruned model.
 */
export const quantizeChoices = (plan) => plan.quantizeChoices ?? [{ init: plan.quantize.init ?? 'linear' }];

/**
 * The whole Deep Compression run on one model, once per seed: pretrain to the checkpoint, prune
 * with retraining, then k-means with centroid training and the container for each of
 * `quantizeChoices(plan)`, the one with the best validation accuracy kept (ties: the first); write
 * its container, decode it back from the file and measure it on the test split; then the fair
 * baseline. Returns metrics (mean ± std over the seeds), tables, notes and the seed runs.
 */
export async function runDeepCompression({ makeModel, plan, protocol, seeds, log }) {
  const { runs, metrics } = await overSeeds(seeds, (seed) => deepCompressionSeed({ makeModel, plan, protocol, seed, log }), { log });
  const [first] = runs;
  const choices = quantizeChoices(plan);
  return {
    metrics,
    seedRuns: seedRecord(runs),
    protocol: protocol.record(),
    tables: {
      ...(choices.length > 1
        ? { 'quantize choice per seed (validation accuracy of the final in-memory model; the best is kept)': runs.flatMap((r) => r.choices) }
        : {}),
      [`seed ${first.seed}: pipeline stages (validation accuracy; stored bytes before entropy coding; the codec row is the container)`]: first.stages,
      [`seed ${first.seed}: container, per param`]: first.perParam,
      [`seed ${first.seed}: container, bytes by kind`]: first.byKind,
    },
    notes: first.notes,
  };
}

async function deepCompressionSeed({ makeModel, plan, protocol, seed, log }) {
  const { train, validation } = protocol;
  const { base, checkpoint } = await pretrain(makeModel, train, undefined, plan, { seed, log });
  const originalBytes = await shardBytes(checkpoint);
  log(`original float32 weight shards: ${originalBytes} bytes`);

  // Every stage is measured on validation (the pipeline's evaluation data); the test split only once, below.
  const data = { train, test: validation };
  const t0 = performance.now();
  const pruned = await pipeline(pruneStages(plan)).run(checkpoint, { data, runtime, seed, onEvent: pipelineLog(log) });
  const pruneS = (performance.now() - t0) / 1000;
  const tried = [];
  for (const choice of quantizeChoices(plan)) {
    const p = { ...plan, quantize: { ...plan.quantize, ...choice } };
    const t = performance.now();
    const q = await pipeline([...quantizeStages(p), deepCompression({})]).run(pruned.graph, { data, runtime, seed, onEvent: pipelineLog(log) });
    tried.push({ choice, q, seconds: (performance.now() - t) / 1000, val: q.snapshots.at(-1).accuracy });
    log(`quantize ${JSON.stringify(choice)}: validation accuracy ${pct(q.snapshots.at(-1).accuracy)}`);
  }
  const best = tried.reduce((a, b) => (b.val > a.val ? b : a));
  const result = best.q;
  const wallS = pruneS + best.seconds;
  const artifact = result.artifacts['model.cdz'];

  const disk = await containerOnDisk(artifact, protocol.test(`seed ${seed}: decoded container`));
  const params = result.snapshots[0].params;
  const mbPerS = (ms) => (params * 4) / 1e6 / (ms / 1000);
  log(
    `container ${disk.bytes} bytes (${(originalBytes / disk.bytes).toFixed(1)}x); decoded from the file: test accuracy ${pct(disk.decodedAccuracy)}; decode median ${disk.decode.wallMs.toFixed(2)} ms (CPU ${disk.decode.cpuMs.toFixed(2)} ms, best ${disk.decode.bestMs.toFixed(2)} ms)`,
  );

  const phases = retrainingPhases(plan);
  checkFairPhases(phases, pipelineEpochs(pruned, result));
  const baseline = await fairBaseline(base, protocol, plan, phases, { seed, log, label: `seed ${seed}: baseline` });

  const noTopology = encodeGraph(result.graph).bytes.length;
  const report = containerReport(disk.onDisk);
  const header = parseContainer(disk.onDisk).header;
  const f32 = pruned.snapshots[0].float32Bytes;
  const kernels = Object.keys(plan.prune.layers);
  const sp = sparsityOf(result.graph, kernels);
  const perParam = header.params.map((p) => {
    const bytes = report.sections.filter((s) => s.name.startsWith(`${p.name}:`)).reduce((a, s) => a + s.bytes, 0);
    const n = p.shape.reduce((a, b) => a * b, 1);
    const keptRow = sp.rows.find((r) => `${r.layer}/kernel` === p.name);
    return {
      param: p.name,
      elements: n,
      kept: keptRow ? keptRow.kept : n,
      encoding: p.encoding + (p.codebook ? ` ${p.codebook.bits} bits` : ''),
      layout: p.gapBits === undefined ? 'dense' : `sparse, ${p.gapBits}-bit gaps`,
      bytes,
      bits_per_kept_weight: round((8 * bytes) / (keptRow ? keptRow.kept : n), 2),
    };
  });
  const quantN = quantizeStages({ ...plan, quantize: { ...plan.quantize, ...best.choice } }).length;
  const inMemoryVal = result.snapshots.at(-1).accuracy;

  return {
    metrics: {
      baseline_accuracy: round(baseline.accuracy),
      accuracy: round(disk.decodedAccuracy),
      accuracy_drop_points: round((baseline.accuracy - disk.decodedAccuracy) * 100, 2),
      val_baseline_accuracy: round(baseline.validation),
      val_accuracy: round(inMemoryVal),
      val_accuracy_drop_points: round((baseline.validation - inMemoryVal) * 100, 2),
      compression_ratio: round(originalBytes / disk.bytes, 2),
      ratio_after_prune: round(f32 / pruned.snapshots.at(-1).bytes, 2),
      ratio_after_quantize: round(f32 / result.snapshots[quantN].bytes, 2),
      wall_s: round(wallS, 1),
      decode_mb_per_s: round(mbPerS(disk.decode.wallMs), 1),
      decode_mb_per_s_cpu: round(mbPerS(disk.decode.cpuMs), 1),
      decode_mb_per_s_best: round(mbPerS(disk.decode.bestMs), 1),
      val_checkpoint_accuracy: round(pruned.snapshots[0].accuracy),
      val_accuracy_after_prune: round(pruned.snapshots.at(-1).accuracy),
      val_accuracy_after_kmeans: round(result.snapshots[1].accuracy),
      original_bytes: originalBytes,
      container_bytes: disk.bytes,
      container_bytes_without_topology: noTopology,
      compression_ratio_without_topology: round(originalBytes / noTopology, 2),
      weights_kept_fraction: round(sp.keptFraction),
      params_reduction: round(sp.reduction, 2),
      decode_ms: round(disk.decode.wallMs, 3),
      baseline_epochs: baseline.epochs,
      compressed_epochs: plan.pretrain.epochs + pipelineEpochs(pruned, result),
    },
    choices: tried.map((t) => ({ seed, ...t.choice, validation_accuracy: round(t.val), kept: t === best ? 'yes' : '' })),
    stages: stageRows([...pruned.snapshots, ...result.snapshots.slice(1)]),
    perParam,
    byKind: Object.entries(report.byKind)
      .filter(([, b]) => b > 0)
      .map(([kind, b]) => ({ kind, bytes: b, share: round(b / report.total, 3) })),
    notes: [
      `Training: Adam, batch ${plan.batchSize}. Checkpoint: ${plan.pretrain.epochs} epochs at ${plan.pretrain.lr}${plan.pretrain.schedule ? ` (${plan.pretrain.schedule})` : ''}. Then ${phases.map((p) => `${p.label}: ${p.epochs} epoch(s) at ${p.lr}${p.schedule ? ` (${p.schedule})` : ''}`).join('; ')}.`,
      `baseline_accuracy: the uncompressed model continued from the same checkpoint through exactly those phases (same epochs, rates, schedules): ${baseline.epochs} epochs in all, as many as the compressed model (${plan.pretrain.epochs + phaseEpochs(phases)}).`,
      `Pruning: ${JSON.stringify(plan.prune.layers)} (sparsity per layer), ${plan.prune.rounds} rounds, the kept fraction shrinking geometrically. k-means: ${JSON.stringify(plan.quantize.bits)} bits on the kept weights, init chosen per seed on validation from ${quantizeChoices(
        plan,
      )
        .map((c) => c.init)
        .join(' / ')}; biases ${plan.quantize.biasFloat16 ? 'rounded to float16 (quantize.float16, kinds bias) before centroid training' : 'stay float32'}.`,
      'accuracy is measured once per seed on the graph decoded from the container file written to disk (readContainer); val_* metrics are the in-memory models on the validation split.',
      `compression_ratio = float32 weight shards (saveModel of the checkpoint: ${originalBytes} bytes) / model.cdz, everything included: header with graph, Huffman tables and the TF.js topology for the standalone loader (seed ${seed}: ${disk.bytes - noTopology} bytes of ${disk.bytes}; without it ${(originalBytes / noTopology).toFixed(1)}x).`,
      "ratio_after_prune / ratio_after_quantize: float32 bytes / the pipeline snapshots' stored bytes (sparse relative indices and raw codebook indices, before Huffman coding).",
      `decode_mb_per_s: ${(params * 4).toLocaleString('en-US')} bytes (10^6 per MB) of float32 weights produced per decode of the container bytes already read (decodeGraph, annotations restored): median wall time of 51 decodes after 20 warm-up ones, on a shared machine; _cpu uses the median process CPU time of the same decodes, _best the fastest one.`,
    ],
  };
}
