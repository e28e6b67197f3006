// Checkpoints the benchmarks start from: trained by `npm run bench -- zoo-train-<network>-seed<N>`,
// written as TF.js layers-model files plus a checkpoint.json sidecar (command, commit, seed,
// split, training recipe, validation and test accuracy) under bench-results/checkpoints/
// (--quick runs: bench-out/quick/checkpoints/). Never made by hand.
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, saveModel } from '@condense/tfjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const checkpointsDir = (quick) => join(root, quick ? 'bench-out/quick' : 'bench-results', 'checkpoints');

export const checkpointDir = (network, seed, { quick = false } = {}) => join(checkpointsDir(quick), `${network}-seed${seed}`);

export const SIDECAR = 'checkpoint.json';

/** Save the trained graph and its sidecar (written last, atomically: a sidecar means a complete checkpoint). */
export async function writeCheckpoint(graph, meta, { quick = false } = {}) {
  const dir = checkpointDir(meta.network, meta.seed, { quick });
  const saved = await saveModel(graph, dir);
  const tmp = join(dir, `.${SIDECAR}.tmp-${process.pid}`);
  await writeFile(tmp, JSON.stringify({ ...meta, files: saved.files.map((f) => f.slice(dir.length + 1)), bytes: saved.bytes }, null, 2) + '\n');
  await rename(tmp, join(dir, SIDECAR));
  return { dir, bytes: saved.bytes };
}

/** A checkpoint's graph and sidecar; the error says which command makes it. */
export async function loadCheckpoint(network, seed, { quick = false } = {}) {
  const dir = checkpointDir(network, seed, { quick });
  if (!existsSync(join(dir, SIDECAR))) {
    throw new Error(`no checkpoint ${dir} (${SIDECAR} missing): make it with npm run bench -- zoo-train-${network}-seed${seed}${quick ? ' --quick' : ''}`);
  }
  const meta = JSON.parse(await readFile(join(dir, SIDECAR), 'utf8'));
  return { graph: await loadModel(dir), meta, dir };
}

/** Every checkpoint sidecar present, by network. */
export async function listCheckpoints({ quick = false } = {}) {
  const dir = checkpointsDir(quick);
  if (!existsSync(dir)) return {};
  const out = {};
  for (const name of (await readdir(dir)).sort()) {
    const file = join(dir, name, SIDECAR);
    if (!existsSync(file)) continue;
    const meta = JSON.parse(await readFile(file, 'utf8'));
    (out[meta.network] ??= []).push(meta);
  }
  return out;
}
