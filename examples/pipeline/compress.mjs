// The chains of recipe.yaml and recipe-lenet5.yaml written as code: plugins are plain objects from
// typed factories.
//
//   node examples/pipeline/compress.mjs [mlp|lenet5] [OUT_DIR]
//
// trains the model on Fashion-MNIST (the full data when found, else the embedded subset),
// compresses it and writes OUT_DIR/model.cdz (default: pipeline-out/).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deepCompression } from '@condense/codec';
import { finetune, pipeline } from '@condense/core';
import { loadFashionMnist } from '@condense/datasets';
import { writeFileAtomic } from '@condense/files';
import { distillKd } from '@condense/distill';
import { lenet300100, lenet5 } from '@condense/ir';
import { magnitudePrune } from '@condense/prune';
import { float16Quantize, kmeansQuantize } from '@condense/quantize';
import { sss } from '@condense/sparsity';
import { thinet } from '@condense/thinet';
import { selectBackend, tfjsRuntime, train } from '@condense/tfjs';

/** The stages of recipe-lenet5.yaml. */
export function thinAndDeepCompressLenet5() {
  const batchSize = 128;
  return [
    distillKd({ temperature: 4, alpha: 0.7, scope: 'all' }),
    thinet({ layers: { conv1: 0.5, conv2: 0.5 }, finetuneBetween: { epochs: 1, batchSize, learningRate: 1e-3 } }),
    finetune({ epochs: 2, batchSize, learningRate: 1e-3 }),
    magnitudePrune({
      layers: { conv2: 0.6, fc1: 0.93, fc2: 0.85 },
      schedule: 'iterative',
      rounds: 2,
      finetune: { epochs: 1, batchSize, learningRate: 1e-3 },
    }),
    finetune({ epochs: 8, batchSize, learningRate: 1e-3, schedule: 'cosine' }),
    kmeansQuantize({ bits: { conv2d: 8, dense: 5 }, init: 'linear' }),
    float16Quantize({ kinds: ['bias'] }),
    finetune({ epochs: 1, batchSize, learningRate: 1e-4 }),
    deepCompression({}),
  ];
}

/** The stages of recipe.yaml. */
export function slimAndDeepCompress() {
  const batchSize = 256;
  return [
    distillKd({ temperature: 4, alpha: 0.7, scope: 'all' }),
    sss({ gamma: 0.004, learningRate: 0.1, structures: ['neuron'], include: ['fc1', 'fc2'] }),
    finetune({ epochs: 4, batchSize, learningRate: 1e-3 }),
    magnitudePrune({
      layers: { fc1: 0.91, fc2: 0.85, fc3: 0.6 },
      schedule: 'iterative',
      rounds: 3,
      finetune: { epochs: 2, batchSize, learningRate: 1e-3 },
    }),
    finetune({ epochs: 40, batchSize, learningRate: 1e-3, schedule: 'cosine' }),
    kmeansQuantize({ bits: 5, init: 'linear' }),
    float16Quantize({ kinds: ['bias'] }),
    finetune({ epochs: 1, batchSize, learningRate: 1e-4 }),
    deepCompression({}),
  ];
}

const CHAINS = {
  lenet5: { model: lenet5, stages: thinAndDeepCompressLenet5, epochs: 8, batchSize: 128, limit: { train: 10000 } },
  mlp: { model: lenet300100, stages: slimAndDeepCompress, epochs: 16, batchSize: 256, limit: {} },
};

async function main(which = 'mlp', outDir = 'pipeline-out') {
  const chain = CHAINS[which];
  if (!chain) throw new Error(`unknown chain '${which}': lenet5 or mlp`);
  await selectBackend();
  const { train: trainSplit, test } = loadFashionMnist({ limit: chain.limit });
  const data = { train: trainSplit, test };
  const model = chain.model(1);
  const split = { x: trainSplit.images, y: trainSplit.labels, count: trainSplit.count, shape: [...trainSplit.shape] };
  await train(model, split, { epochs: chain.epochs, batchSize: chain.batchSize, learningRate: 1e-3, schedule: { type: 'cosine' }, seed: 1 });
  const result = await pipeline(chain.stages()).run(model, {
    data,
    runtime: tfjsRuntime(),
    seed: 1,
    onEvent: (e) =>
      e.type === 'stageEnd' && console.log(`${e.name}: ${e.snapshot.nonzero} non-zero params, accuracy ${((e.snapshot.accuracy ?? NaN) * 100).toFixed(2)}%`),
  });
  await mkdir(outDir, { recursive: true });
  await writeFileAtomic(join(outDir, 'model.cdz'), result.artifacts['model.cdz']);
  console.log(`wrote ${join(outDir, 'model.cdz')} (${result.artifacts['model.cdz'].length} bytes)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv[2], process.argv[3]);
