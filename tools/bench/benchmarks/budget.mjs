// Automatic per-layer budgets (searchBudget, the code API of search.budget) on LeNet-300-100,
// LeNet-5 and the VGG-style CNN, Fashion-MNIST: size=40x and macs=3x within 0.5 points, each side by
// side with the hand-tuned recipe of the existing benchmark for that network and target, from the
// same checkpoint, on the same data, with the same fine-tuning phases (epochs, rates, schedules).
// The search sees only the validation split; the test split is measured once per final model.
// The searches on LeNet-300-100 run three ways (in this thread, on 2 worker threads, on 2 BullMQ
// workers over a local redis-server) and must choose alike; LeNet-5 and the CNN search on 2 worker
// threads only (three ways there would triple their search time for the same comparison).
// One part per seed (budget-seed1..3); --quick runs the first only (~2.5 min on 2 shared cores,
// 40% of it searching).
// Duration of a full part, estimated from the --quick run and the other benchmarks' training
// speeds on 2 shared cores: ~1.5-2.5 h. LeNet-300-100 ~20-50 min (12M training samples: 16
// pretraining epochs, 2 x 60 Deep Compression and 2 x 44 SSS epochs on 55,000 images, at
// 4,000-11,000 samples/s; 6 searches ~3 min); LeNet-5 ~15 min (0.8M samples at ~1,100/s;
// searches ~3 min); the CNN ~35-90 min (0.24M samples at 50-140/s; searches and ThiNet ~10 min).
// `npm run bench -- budget` (3 parts) ~5-7 h.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encodeGraph } from '@condense/codec';
import { finetune, pipeline } from '@condense/core';
import { cloneGraph, cost, lenet300100, lenet5, vggSmall } from '@condense/ir';
import { l1Filter } from '@condense/prune';
import { DEFAULT_EXECUTORS, inProcessRunner, queueRunner, searchBudget, workerPool } from '@condense/search';
import { hasRedisServer, startRedis } from '@condense/search/testing';
import { finalizeStage } from '@condense/sparsity';
import { thinet } from '@condense/thinet';
import { pipelineEpochs, pretrain, pruneStages, quantizeStages, retrainingPhases } from '../deep-compression.mjs';
import { accuracy, benchBackend, pct, round, runtime } from '../lib.mjs';
import { overSeeds, protocolData, seedParts, seedRecord } from '../protocol.mjs';
import { plan as lenet5Plan, SPARSITY as LENET5_SPARSITY } from './deep-compression-lenet5.mjs';
import { plan as mlpPlan } from './deep-compression-mlp.mjs';
import { SIZES as SSS_SIZES, sssStage, WEIGHT_LR } from './sss.mjs';
import { plan as thinetPlan, RATIO as THINET_RATIO } from './thinet.mjs';

const CLI = fileURLToPath(new URL('../../../packages/cli/bin/condense.js', import.meta.url));
const MAX_DROP = 0.5;
/** The targets, and what meets each: the cost model's float32 bytes / stored bytes, the checkpoint's MACs / the model's. */
const TARGETS = { size: { text: 'size=40x', need: 40 }, macs: { text: 'macs=3x', need: 3 } };
/** --quick: fewer sparsities and widths per layer (the searches are most of a quick run). */
const QUICK_LEVELS = { prune: [0.5, 0.8, 0.9, 0.95, 0.98], bits: [8, 5, 3, 2] };
/** sss-mlp's gamma, chosen there on validation from its grid (bench-results/sss-mlp.json at 120b0edb: 0.003; budget-seed1 ran with the earlier 0.002). */
const SSS_MLP_GAMMA = 0.003;

/** Fine-tuning phases as stages, in order. */
const phaseStages = (phases, batchSize) =>
  phases.map((ph) => finetune({ epochs: ph.epochs, learningRate: ph.lr, batchSize, schedule: ph.schedule ?? 'constant' }));

const isEmpty = (layerMap) => typeof layerMap === 'object' && Object.keys(layerMap).length === 0;

/**
 * Deep Compression's schedule (deep-compression.mjs), by default with the plan's sparsities and
 * bits: iterative pruning with retraining, retraining, k-means, biases to float16, centroid
 * training. With nothing to prune (or quantize) the retraining (centroid training) still runs, so
 * the epochs stay the plan's.
 */
function sizeStages(plan, { sparsity = plan.prune.layers, bits = plan.quantize.bits } = {}) {
  const pruning = isEmpty(sparsity)
    ? phaseStages(retrainingPhases(plan, { centroids: false }), plan.batchSize)
    : pruneStages({ ...plan, prune: { ...plan.prune, layers: sparsity } });
  const quantizing = isEmpty(bits)
    ? phaseStages(plan.centroids?.epochs ? [plan.centroids] : [], plan.batchSize)
    : quantizeStages({ ...plan, quantize: { ...plan.quantize, bits } });
  return [...pruning, ...quantizing];
}

/** LeNet-5's Deep Compression plan by layer kind on the CNN: first conv as conv1, the others as conv2, fc1 and the output as LeNet-5's. */
const VGG_SPARSITY = Object.freeze({
  conv1: LENET5_SPARSITY.conv1,
  conv2: LENET5_SPARSITY.conv2,
  conv3: LENET5_SPARSITY.conv2,
  conv4: LENET5_SPARSITY.conv2,
  fc1: LENET5_SPARSITY.fc1,
  fc2: LENET5_SPARSITY.fc2,
});

/**
 * The networks: data sizes and checkpoint (the size benchmark's), the search's sizes, and per target
 * the hand-tuned recipe (`stages`, the training included) with the automatic one on the same phases.
 */
function networks(quick) {
  const mlp = mlpPlan(quick);
  const sssSize = SSS_SIZES[quick ? 'quick' : 'full'].mlp;
  const sssPhases = [
    { epochs: sssSize.sss, lr: WEIGHT_LR },
    { epochs: sssSize.retrain, lr: WEIGHT_LR, schedule: 'cosine' },
  ];
  const gamma = quick ? sssSize.grid[0] : SSS_MLP_GAMMA;
  const lenet = lenet5Plan(quick);
  const th = thinetPlan(quick);
  // The CNN: sss-cnn's 10,000-image subset and 8-epoch checkpoint; thinet's batch and rate.
  const vgg = quick
    ? {
        train: 500,
        test: 500,
        batchSize: 64,
        pretrain: { epochs: 1, lr: 1e-3 },
        prune: { layers: VGG_SPARSITY, rounds: 1, epochs: 1, lr: 1e-3 },
        quantize: { bits: { conv2d: 8, dense: 5 }, biasFloat16: true },
        centroids: { epochs: 1, lr: 1e-4 },
      }
    : {
        train: 10000,
        test: undefined,
        batchSize: 64,
        pretrain: { epochs: 8, lr: 1e-3 },
        prune: { layers: VGG_SPARSITY, rounds: 1, epochs: 1, lr: 1e-3 },
        retrain: { epochs: 2, lr: 1e-3, schedule: 'cosine' },
        quantize: { bits: { conv2d: 8, dense: 5 }, biasFloat16: true },
        centroids: { epochs: 1, lr: 1e-4 },
      };
  // ThiNet's recipe (50% of every conv's channels, then fine-tuning at 1e-3): one epoch on thinet's
  // 55,000 images is about 4 on these 10,000 (quick: the plans' own epochs).
  const thinetPhases = (epochs) => [{ epochs, lr: 1e-3 }];
  const thinetRecipe = (plan, epochs, why) => ({
    name: 'thinet',
    why,
    phases: thinetPhases(epochs),
    stages: () => [thinet({ ratio: THINET_RATIO, imagesPerClass: th.perClass }), ...phaseStages(thinetPhases(epochs), plan.batchSize)],
  });
  const sizeRecipe = (plan, name, why) => ({ name, why, phases: retrainingPhases(plan), stages: () => sizeStages(plan) });
  return [
    {
      key: 'mlp',
      name: 'LeNet-300-100',
      make: lenet300100,
      plan: mlp,
      samples: quick ? 300 : 2000,
      threeWays: true,
      hand: {
        size: sizeRecipe(mlp, 'deep-compression-mlp', "its benchmark: Han's kept fractions, 4-bit k-means"),
        macs: {
          name: 'sss-mlp',
          why: 'no benchmark has a MACs recipe for LeNet-300-100; sss-mlp is its structured one (neurons removed), with its gamma, penalties and epochs',
          phases: sssPhases,
          batchSize: sssSize.batchSize,
          stages: () => [
            sssStage(sssSize, gamma, { finalize: false }),
            ...phaseStages(sssPhases.slice(0, 1), sssSize.batchSize),
            finalizeStage(),
            ...phaseStages(sssPhases.slice(1), sssSize.batchSize),
          ],
        },
      },
    },
    {
      key: 'lenet5',
      name: 'LeNet-5',
      make: lenet5,
      plan: lenet,
      samples: quick ? 300 : 2000,
      hand: {
        size: sizeRecipe(lenet, 'deep-compression-lenet5', "its benchmark: Han's kept fractions (fc1 5%), 8-bit conv, 5-bit dense"),
        macs: thinetRecipe(
          lenet,
          quick ? 1 : 8,
          "no benchmark has a MACs recipe for LeNet-5; thinet is the benchmarks' conv-channel recipe (the paper's fixed 50% of every conv layer), fine-tuned 8 epochs on these 10,000 images",
        ),
      },
    },
    {
      key: 'vgg',
      name: 'VGG-style CNN',
      make: vggSmall,
      plan: vgg,
      samples: quick ? 100 : 1000,
      hand: {
        size: sizeRecipe(
          vgg,
          'deep-compression-lenet5 by layer kind',
          "no benchmark has a size recipe for the CNN; LeNet-5's Deep Compression plan is the hand-tuned one for a CNN: its first conv's kept fraction on conv1, conv2's on conv2-4, fc1's and the output's on fc1 and fc2, 8-bit conv, 5-bit dense",
        ),
        macs: thinetRecipe(vgg, quick ? 1 : 4, 'its benchmark: thinet, 50% of every conv layer'),
      },
    },
  ];
}

/** `condense worker` processes on the queue, resolved once each takes trials; returns their stop. */
async function startWorkers(url, n, backend) {
  const procs = Array.from({ length: n }, () =>
    spawn(process.execPath, [CLI, 'worker', '--queue', url, '--workers', '1', '--backend', backend, '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  await Promise.all(
    procs.map(
      (p) =>
        new Promise((resolve, reject) => {
          p.once('exit', (code) => reject(new Error(`condense worker exited with code ${code}`)));
          createInterface({ input: p.stdout }).on('line', (line) => line.includes('taking trials') && resolve());
        }),
    ),
  );
  return () => Promise.all(procs.map((p) => new Promise((resolve) => (p.exitCode !== null ? resolve() : (p.once('exit', resolve), p.kill('SIGTERM'))))));
}

/** The runners a search can use, opened on demand and closed by `close`. */
function runners(engine, log) {
  const init = { backend: engine };
  let queue;
  return {
    thread: () => inProcessRunner({ modules: [DEFAULT_EXECUTORS], init }),
    threads: () => workerPool({ workers: 2, modules: [DEFAULT_EXECUTORS], init: { ...init, wasmThreads: 1 }, name: 'search' }),
    async bullmq() {
      if (!hasRedisServer) return undefined;
      if (!queue) {
        const redis = await startRedis();
        const stop = await startWorkers(redis.url, 2, engine);
        queue = { url: redis.url, stop: async () => (await stop(), await redis.stop()) };
        log(`redis-server at ${redis.url}, 2 condense worker processes`);
      }
      return queueRunner({ url: queue.url });
    },
    async close() {
      await queue?.stop();
    },
  };
}

/** One search of `graph` to `target` on the validation split; the runner is closed after. */
async function search(open, graph, validation, target, { samples, seed, quick }) {
  const runner = await open();
  if (!runner) return undefined;
  const t0 = performance.now();
  try {
    const r = await searchBudget(
      { graph, validation, runner },
      { target, maxDrop: MAX_DROP / 100, samples, steps: 3, seed, ...(quick ? { levels: QUICK_LEVELS } : {}) },
    );
    return { result: r, seconds: (performance.now() - t0) / 1000, runner: runner.name };
  } finally {
    await runner.close();
  }
}

/** The automatic recipe: the chosen budgets on the hand-tuned recipe's training phases. */
function autoStages(net, targetKey, config) {
  const hand = net.hand[targetKey];
  if (targetKey === 'size') return sizeStages(net.plan, { sparsity: config.prune, bits: config.bits });
  const batchSize = hand.batchSize ?? net.plan.batchSize;
  return [...(Object.keys(config.channels).length ? [l1Filter({ layers: config.channels })] : []), ...phaseStages(hand.phases, batchSize)];
}

/** Run `stages` from the checkpoint; measure the result on validation and, once, on the test split. */
async function compress(stages, checkpoint, protocol, { seed, label }) {
  const r = await pipeline(stages).run(cloneGraph(checkpoint), {
    data: { train: protocol.train, calibration: protocol.train },
    runtime,
    seed,
    evaluateEachStage: false,
  });
  const c = cost(r.graph).totals;
  return {
    graph: r.graph,
    epochs: pipelineEpochs(r),
    validation: await accuracy(r.graph, protocol.validation),
    test: await protocol.testAccuracy(r.graph, label),
    ratio: c.float32Bytes / c.bytes,
    containerRatio: c.float32Bytes / encodeGraph(r.graph).bytes.length,
    macs: c.macs,
  };
}

/** One network, one seed: the checkpoint, then per target the search(es), the automatic and the hand-tuned recipe. */
async function runNetwork(net, protocol, open, { seed, quick, log }) {
  const say = (m) => log(`${net.name}: ${m}`);
  const { checkpoint, checkpointAccuracy } = await pretrain(net.make, protocol.train, protocol.validation, net.plan, { seed, log: say });
  const checkpointTest = await protocol.testAccuracy(checkpoint, `seed ${seed}: ${net.name} checkpoint`);
  const macs0 = cost(checkpoint).totals.macs;
  const m = { [`${net.key}_checkpoint_accuracy`]: round(checkpointTest), [`${net.key}_val_checkpoint_accuracy`]: round(checkpointAccuracy) };
  const rows = [];
  const chosen = [];
  for (const [tk, target] of Object.entries(TARGETS)) {
    const k = `${net.key}_${tk}`;
    const how = { samples: net.samples, seed, quick };
    const ways = net.threeWays
      ? [
          ['1_thread', open.thread],
          ['2_threads', open.threads],
          ['2_bullmq', open.bullmq],
        ]
      : [['2_threads', open.threads]];
    const searches = [];
    for (const [way, runner] of ways) {
      const s = await search(runner, checkpoint, protocol.validation, target.text, how);
      if (!s) {
        say('redis-server is not installed: no BullMQ timing');
        continue;
      }
      say(`${target.text} search on ${s.runner}: ${s.result.trials} trials in ${s.seconds.toFixed(1)} s; chose ${JSON.stringify(s.result.config)}`);
      m[`${k}_search_s_${way}`] = round(s.seconds, 1);
      searches.push(s);
    }
    const { result } = searches[0];
    if (net.threeWays) m[`${k}_same_choice`] = searches.every((s) => JSON.stringify(s.result.config) === JSON.stringify(result.config)) ? 1 : 0;
    const hand = net.hand[tk];
    const auto = await compress(autoStages(net, tk, result.config), checkpoint, protocol, {
      seed,
      label: `seed ${seed}: ${net.name} ${target.text} automatic`,
    });
    const tuned = await compress(hand.stages(), checkpoint, protocol, { seed, label: `seed ${seed}: ${net.name} ${target.text} ${hand.name}` });
    if (auto.epochs !== tuned.epochs)
      throw new Error(`budget: ${net.name} ${target.text}: the automatic recipe trained ${auto.epochs} epochs, ${hand.name} ${tuned.epochs}`);
    const reached = (x) => (tk === 'size' ? x.ratio : macs0 / x.macs);
    for (const [who, x] of [
      ['auto', auto],
      ['hand', tuned],
    ]) {
      Object.assign(m, {
        [`${k}_${who}_accuracy`]: round(x.test),
        [`${k}_${who}_val_accuracy`]: round(x.validation),
        [`${k}_${who}_reduction`]: round(reached(x), 2),
        ...(tk === 'size' ? { [`${k}_${who}_container_ratio`]: round(x.containerRatio, 2) } : {}),
      });
      rows.push({
        network: net.name,
        target: target.text,
        recipe: who === 'auto' ? 'automatic' : hand.name,
        reduction: round(reached(x), 2),
        accuracy: round(x.test),
        val_accuracy: round(x.validation),
        drop_points: round((checkpointTest - x.test) * 100, 2),
        epochs: x.epochs,
      });
    }
    // What the search itself measured of its choice, one-shot (in its own count: the cost model's bytes or MACs).
    const searched = result.target.before / result.measured.value;
    Object.assign(m, {
      [`${k}_epochs`]: auto.epochs,
      [`${k}_trials`]: result.trials,
      [`${k}_search_reduction`]: round(searched, 2),
      [`${k}_search_met_target`]: result.meetsTarget ? 1 : 0,
      [`${k}_one_shot_val_accuracy`]: round(result.measured.accuracy),
    });
    if (!result.meetsTarget) say(`${target.text}: the search missed the target (${round(searched, 2)}x after ${result.corrections.length} correction steps)`);
    say(
      `${target.text}: automatic ${round(reached(auto), 2)}x at ${pct(auto.test)}, ${hand.name} ${round(reached(tuned), 2)}x at ${pct(tuned.test)} (checkpoint ${pct(checkpointTest)}; test, ${auto.epochs} fine-tuning epochs each)`,
    );
    chosen.push({
      network: net.name,
      target: target.text,
      chosen: JSON.stringify(Object.fromEntries(Object.entries(result.config).filter(([, v]) => Object.keys(v).length))),
      comparison: hand.name,
      why: hand.why,
    });
  }
  return { metrics: m, rows, chosen };
}

async function runSeed(nets, protocols, open, { seed, quick, log }) {
  const out = { metrics: {}, rows: [], chosen: [] };
  for (const net of nets) {
    const r = await runNetwork(net, protocols[net.key], open, { seed, quick, log });
    Object.assign(out.metrics, r.metrics);
    out.rows.push(...r.rows);
    out.chosen.push(...r.chosen);
  }
  return out;
}

/** Per network and target: the automatic recipe meets the target within the drop, and is no worse than the hand-tuned one. */
function checks() {
  const out = {};
  for (const net of ['mlp', 'lenet5', 'vgg']) {
    for (const [tk, { need }] of Object.entries(TARGETS)) {
      const k = `${net}_${tk}`;
      out[`${k}_meets`] = (m) => m[`${k}_auto_reduction`] >= need && m[`${net}_checkpoint_accuracy`] - m[`${k}_auto_accuracy`] <= MAX_DROP / 100;
      // A hand-tuned recipe that misses the target is no bar to an automatic one that meets it.
      out[`${k}_no_worse`] = (m) =>
        m[`${k}_auto_reduction`] >= Math.min(need, m[`${k}_hand_reduction`]) &&
        (m[`${k}_auto_accuracy`] >= m[`${k}_hand_accuracy`] || (m[`${k}_hand_reduction`] < need && m[`${k}_auto_reduction`] >= need));
    }
  }
  out.mlp_same_choice = (m) => m.mlp_size_same_choice === 1 && m.mlp_macs_same_choice === 1;
  return out;
}

function targets() {
  const out = {};
  for (const [net, name] of [
    ['mlp', 'LeNet-300-100'],
    ['lenet5', 'LeNet-5'],
    ['vgg', 'the CNN'],
  ]) {
    for (const [tk, { text }] of Object.entries(TARGETS)) {
      out[`${net}_${tk}_meets`] =
        `${name}, ${text}: the automatic recipe reaches it (${tk === 'size' ? 'float32 bytes / stored bytes of the cost model, before entropy coding' : 'checkpoint MACs / MACs'}) within ${MAX_DROP} points of the checkpoint's test accuracy, after fine-tuning`;
      out[`${net}_${tk}_no_worse`] =
        `${name}, ${text}: the automatic recipe's reduction >= the smaller of the target and the hand-tuned one's, and its test accuracy >= the hand-tuned one's (or the hand-tuned one misses the target the automatic one meets)`;
    }
  }
  out.mlp_same_choice =
    'on LeNet-300-100 the search in this thread, on 2 worker threads and on 2 BullMQ workers chooses the same recipe (trials are deterministic)';
  return out;
}

export default seedParts({
  name: 'budget',
  order: 90,
  description: `Automatic per-layer budgets (search.budget: sensitivity curves, knapsack, greedy correction) to size=40x and macs=3x within ${MAX_DROP} points on LeNet-300-100, LeNet-5 and the VGG-style CNN, against the hand-tuned recipes of the other benchmarks; search time in this thread, on 2 worker threads and on 2 BullMQ workers`,
  checks: checks(),
  targets: targets(),
  async run({ quick, data, seeds, backend, log }) {
    const backendName = await benchBackend(backend);
    const nets = networks(quick);
    const protocols = {};
    for (const net of nets) {
      protocols[net.key] = await protocolData(
        { quick, data },
        { train: net.plan.train, test: net.plan.test, quickTrain: net.plan.train, quickTest: net.plan.test },
      );
      log(`${net.name}: ${protocols[net.key].validationSplit}`);
    }
    log(`backend ${backendName}`);
    const open = runners(backendName.split(' ')[0], log);
    let seedRuns;
    try {
      seedRuns = await overSeeds(seeds, (seed) => runSeed(nets, protocols, open, { seed, quick, log }), { log });
    } finally {
      await open.close();
    }
    const { runs, metrics } = seedRuns;
    const [first] = runs;
    const timing = Object.keys(TARGETS).map((tk) => ({
      network: 'LeNet-300-100',
      target: TARGETS[tk].text,
      trials: metrics[`mlp_${tk}_trials`],
      '1 thread (s)': metrics[`mlp_${tk}_search_s_1_thread`],
      '2 worker threads (s)': metrics[`mlp_${tk}_search_s_2_threads`],
      '2 BullMQ workers (s)': metrics[`mlp_${tk}_search_s_2_bullmq`] ?? '',
    }));
    return {
      backend: backendName,
      dataset: Object.fromEntries(nets.map((n) => [n.key, protocols[n.key].sizes()])),
      metrics,
      seedRuns: seedRecord(runs),
      protocol: {
        validation_split: nets.map((n) => `${n.name}: ${protocols[n.key].validationSplit}`).join('; '),
        test_uses: nets.flatMap((n) => protocols[n.key].testUses),
      },
      tables: {
        [`seed ${first.seed}: automatic vs hand-tuned (test accuracy; reduction: size = float32 / stored bytes of the cost model, macs = checkpoint MACs / MACs)`]:
          first.rows,
        [`seed ${first.seed}: the chosen budgets and the comparison recipe`]: first.chosen,
        'search time on LeNet-300-100 (mean over seeds)': timing,
      },
      notes: [
        `Per seed and network: one checkpoint (the size benchmark's pretraining) that every search and recipe starts from. The search measures one-shot trials on the validation split (${nets.map((n) => `${n.name} ${n.samples}`).join(', ')} examples per trial), never on the test split; the test split is measured once per final model (the checkpoint, the automatic and the hand-tuned recipe per target).`,
        "The automatic recipe is the chosen budget trained through the hand-tuned recipe's phases: for size, Deep Compression's iterative pruning with retraining, k-means (init as the plan's; not chosen per seed here) and centroid training, with the searched per-layer sparsities and bits; for macs, the searched channel fractions removed (prune.l1Filter), then the comparison's fine-tuning epochs (the sss phases for LeNet-300-100, thinet's for the CNNs). Both train as many epochs (checked).",
        "size reduction is the cost model's (the search's target measure: sparse indices and codebook indices, before entropy coding); *_container_ratio is the same model's .cdz container (Huffman-coded, no TF.js topology), the measure deep-compression-* reports (with the topology).",
        `Accuracy drops are against the checkpoint's test accuracy (the model the search starts from; --max-drop ${MAX_DROP}). Trials are deterministic: all runners must choose the same budgets.`,
        ...(quick ? ['--quick: a few hundred training images and 1-2 epochs; the accuracies and checks are noise, it checks that everything runs.'] : []),
      ],
    };
  },
});
