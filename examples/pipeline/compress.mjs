// The chain of recipe.yaml written as code: plugins are plain objects from typed factories.
//
//   node examples/pipeline/compress.mjs [OUT_DIR]
//
// trains LeNet-300-100 on Fashion-MNIST (the full data when found, else the embedded subset),
// compresses it and writes OUT_DIR/model.cdz (default: pipeline-out/).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deepCompression } from '@condense/codec';
import { finetune, pipeline } from '@condense/core';
import { loadFashionMnist } from '@condense/datasets';
import { distillKd } from '@condense/distill';
import { lenet300100 } from '@condense/ir';
import { magnitudePrune } from '@condense/prune';
import { float16Quantize, kmeansQuantize } from '@condense/quantize';
import { sss } from '@condense/sparsity';
import { selectBackend, train } from '@condense/tfjs';

const batchSize = 256;

/** The stages of recipe.yaml. */
export function slimAndDeepCompress() {
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
    finetune({ epochs: 12, batchSize, learningRate: 1e-3, schedule: 'cosine' }),
    kmeansQuantize({ bits: 5, init: 'linear' }),
    float16Quantize({ kinds: ['bias'] }),
    finetune({ epochs: 1, batchSize, learningRate: 1e-4 }),
    deepCompression({}),
  ];
}

async function main(outDir = 'pipeline-out') {
  await selectBackend();
  const { train: trainSplit, test } = loadFashionMnist();
  const data = { train: trainSplit, test };
  const model = lenet300100(1);
  await train(model, { x: trainSplit.images, y: trainSplit.labels, count: trainSplit.count, shape: [...trainSplit.shape] }, { epochs: 16, batchSize, learningRate: 1e-3, schedule: { type: 'cosine' }, seed: 1 });
  const result = await pipeline(slimAndDeepCompress()).run(model, {
    data,
    seed: 1,
    onEvent: (e) => e.type === 'stageEnd' && console.log(`${e.name}: ${e.snapshot.nonzero} non-zero params, accuracy ${((e.snapshot.accuracy ?? NaN) * 100).toFixed(2)}%`),
  });
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'model.cdz'), result.artifacts['model.cdz']);
  console.log(`wrote ${join(outDir, 'model.cdz')} (${result.artifacts['model.cdz'].length} bytes)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv[2]);
