// Deep Compression (Han et al. 2016) of LeNet-300-100 on Fashion-MNIST: prune with retraining,
// trained k-means weight sharing, Huffman-coded sparse container; accuracy read back from the file.
import { lenet300100 } from '@condense/ir';
import { mlpPrunePlan, runDeepCompression } from '../deep-compression.mjs';
import { benchBackend, benchData } from '../lib.mjs';

/**
 * Han's kept fractions (8%/9%/26%) with 6 bits give ~31-34x here: our container also stores the
 * graph, Huffman tables and the TF.js topology, and Fashion-MNIST masks have less structure than
 * MNIST's. So fc1 (88% of the weights) keeps 5.5%, fc2 10%, fc3 30%; 5-bit codebooks (the paper's
 * width for fully-connected layers); biases as float16. Training as in prune-mlp (mlpPrunePlan).
 */
export const SPARSITY = Object.freeze({ fc1: 0.945, fc2: 0.9, fc3: 0.7 });

export function plan(quick) {
  const p = mlpPrunePlan(quick);
  return { ...p, prune: { ...p.prune, layers: SPARSITY }, quantize: { bits: 5, biasFloat16: true }, centroids: { epochs: 1, lr: 1e-4 } };
}

export default {
  name: 'deep-compression-mlp',
  order: 40,
  description: 'Deep Compression of LeNet-300-100 on Fashion-MNIST: prune + retrain, trained k-means, Huffman-coded sparse container decoded from disk',
  // Whether a result meets each target (the summary of BENCHMARKS.md).
  checks: {
    compression_ratio: (m) => m.compression_ratio >= 40,
    accuracy: (m) => m.baseline_accuracy - m.accuracy <= 0.005,
    decode_mb_per_s: (m) => m.decode_mb_per_s >= 100,
  },
  targets: {
    compression_ratio: '>= 40 (float32 weight shards / container file, everything included)',
    accuracy: 'within 0.5 points of baseline_accuracy (model decoded from the container file)',
    decode_mb_per_s: '>= 100',
  },
  paper: {
    compression_ratio: 'Deep Compression Table 1/2: LeNet-300-100 on MNIST 40x (1070 KB -> 27 KB), error 1.64% -> 1.58%',
    ratio_after_prune: 'Han et al. 2015: 12x fewer weights (8%/9%/26% kept); Deep Compression: 6 bits, Huffman coding',
  },
  async run({ quick, data, seed, backend, log }) {
    const p = plan(quick);
    const backendName = await benchBackend(backend);
    const fm = await benchData({ quick, data }, { train: p.train, test: p.test, quickTrain: p.train, quickTest: p.test });
    log(`backend ${backendName}; train ${fm.train.count}, test ${fm.test.count}`);
    const out = await runDeepCompression({ makeModel: lenet300100, plan: p, train: fm.train, test: fm.test, seed, log });
    return { backend: backendName, dataset: fm.sizes, ...out };
  },
};
