#!/usr/bin/env node
// Builds data/fashion-mnist-subset/: a balanced, seeded subset of Fashion-MNIST
// (1,000 train and 200 test images per class) written as gzip IDX files, so the
// package works offline without the 30 MB original.
//
// Usage: npm run build, then node scripts/make-subset.mjs [sourceDir]
//   sourceDir defaults to $FASHION_MNIST_DIR, then <repo>/../shared/datasets/fashion-mnist.
//
// The order is the package's own `shuffledIndices` (the seeded generator of @condense/ir), read
// from the built package; the selection is the same algorithm as
// `subset(split, n, { balanced: true, seed })` in src/batches.ts, and a test checks that the two
// agree when the full data is available.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { shuffledIndices } from '@condense/datasets';

const SEED = 20170825; // Fashion-MNIST release date; any fixed value works.
const CLASSES = 10;
const SPLITS = [
  { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte', perClass: 1000 },
  { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte', perClass: 200 },
];

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const repoDir = join(pkgDir, '..', '..');
const outDir = join(pkgDir, 'data', 'fashion-mnist-subset');
const srcDir = process.argv[2] ?? process.env.FASHION_MNIST_DIR ?? fileURLToPath(new URL('../../../../shared/datasets/fashion-mnist', import.meta.url));

/** Reads a gzip (or raw) ubyte IDX file: { dims, data }. Only what this script needs. */
function readUbyteIdx(path) {
  let bytes = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${path}: not a ubyte IDX file`);
  const ndims = bytes[3];
  const dims = [];
  for (let i = 0; i < ndims; i++) dims.push(bytes.readUInt32BE(4 + 4 * i));
  const header = 4 + 4 * ndims;
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - header !== size) throw new Error(`${path}: size does not match header`);
  return { dims, data: bytes.subarray(header), raw: bytes };
}

function writeUbyteIdx(path, dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  // Node's gzip header has mtime 0, so output bytes are reproducible.
  writeFileSync(path, gzipSync(Buffer.concat([header, data]), { level: 9 }));
}

/** Walk a seeded permutation, keeping each index while its class still has room. */
function pickBalanced(labels, perClass) {
  const left = new Array(CLASSES).fill(perClass);
  const picked = [];
  for (const i of shuffledIndices(labels.length, SEED)) {
    if (left[labels[i]] > 0) {
      left[labels[i]]--;
      picked.push(i);
      if (picked.length === perClass * CLASSES) return picked;
    }
  }
  throw new Error(`not enough samples for ${perClass} per class`);
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function findFile(base) {
  for (const name of [`${base}.gz`, base]) {
    if (existsSync(join(srcDir, name))) return join(srcDir, name);
  }
  throw new Error(`${srcDir}: missing ${base}(.gz)`);
}

mkdirSync(outDir, { recursive: true });
const provenance = [];
for (const split of SPLITS) {
  const imagesPath = findFile(split.images);
  const labelsPath = findFile(split.labels);
  const images = readUbyteIdx(imagesPath);
  const labels = readUbyteIdx(labelsPath);
  const [, rows, cols] = images.dims;
  const pixels = rows * cols;
  const picked = pickBalanced(labels.data, split.perClass);

  const outImages = Buffer.alloc(picked.length * pixels);
  const outLabels = Buffer.alloc(picked.length);
  picked.forEach((src, dst) => {
    images.data.copy(outImages, dst * pixels, src * pixels, (src + 1) * pixels);
    outLabels[dst] = labels.data[src];
  });
  writeUbyteIdx(join(outDir, `${split.images}.gz`), [picked.length, rows, cols], outImages);
  writeUbyteIdx(join(outDir, `${split.labels}.gz`), [picked.length], outLabels);
  provenance.push(
    `| ${split.images} | ${labels.data.length} | ${picked.length} (${split.perClass}/class) | \`${basename(imagesPath)}\` sha256 ${sha256(imagesPath)} |`,
    `| ${split.labels} | ${labels.data.length} | ${picked.length} | \`${basename(labelsPath)}\` sha256 ${sha256(labelsPath)} |`,
  );
  console.log(`${split.images}: ${picked.length} of ${labels.data.length}`);
}

// Write rather than copy: the source may be read-only and the mode would follow it.
writeFileSync(join(outDir, 'LICENSE'), readFileSync(join(srcDir, 'LICENSE')));
writeFileSync(
  join(outDir, 'README.md'),
  `# Fashion-MNIST balanced subset

A small, class-balanced subset of [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist)
(Copyright 2017 Zalando SE, MIT license; see LICENSE in this directory), embedded in
\`@condense/datasets\` so examples and tests run offline. \`loadFashionMnist()\` uses it when no
full copy of the dataset is found.

- train: 10,000 images, 1,000 per class, taken from the 60,000 original training images
- test: 2,000 images, 200 per class, taken from the 10,000 original test images
- format: the original IDX layout (28x28 uint8 images, uint8 labels), gzip-compressed, same file names

## How it was made

\`node scripts/make-subset.mjs [sourceDir]\` (in \`packages/datasets\`) with seed ${SEED}: shuffle the indices
of each original split with a mulberry32-seeded Fisher-Yates shuffle, then walk the shuffled order and keep an
image while its class has fewer than the per-class quota. Images are stored in that shuffled order, so
any prefix is roughly balanced. This is exactly \`subset(split, n, { balanced: true, seed: ${SEED} })\`
from \`src/batches.ts\`. Re-running the script on the same source reproduces these files byte for byte.

Source: the original release as packaged by Debian (dataset-fashion-mnist), read from
\`${relative(repoDir, srcDir)}\` (relative to the repository root):

| file | source count | subset count | source file |
| --- | --- | --- | --- |
${provenance.join('\n')}
`,
);
console.log(`wrote ${outDir}`);
