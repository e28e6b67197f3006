/**
 * Outputs written so that nobody sees them half-done: a file goes to a temporary name beside its
 * target and is renamed over it; a folder is staged beside its target and moved in entry by entry,
 * so the target folder always exists and each file in it is the old one or the new one, whole.
 * Missing parent folders are created. New files and folders get the umask's usual mode.
 */
import { lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FileError, errnoOf, fileError } from './errors.js';
import { realPathOf } from './paths.js';
import { cleanStaleTemps, tempPath } from './temp.js';

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw fileError(dir, 'cannot create the folder', e);
  }
}

/** The folder that will hold `target`, created if missing, with stale temporaries of ours removed. */
async function prepareParent(target: string): Promise<string> {
  const parent = dirname(resolve(target));
  await ensureDir(parent);
  await cleanStaleTemps(parent);
  return parent;
}

/** Write `path` atomically: readers see the old file or the whole new one, never a part. */
export async function writeFileAtomic(path: string, contents: string | Uint8Array): Promise<void> {
  const target = resolve(path);
  await prepareParent(target);
  const tmp = tempPath(target);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(contents);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw fileError(path, 'cannot write', e);
  }
}

/** A new, empty staging folder beside `target` (our temporary naming, so a killed run's is cleaned later). */
export async function makeStage(target: string): Promise<string> {
  // Beside where the target really is (through a symlink), so that moving in stays on one file system.
  const real = await realPathOf(target);
  await prepareParent(real);
  const stage = tempPath(real);
  try {
    await mkdir(stage);
  } catch (e) {
    throw fileError(stage, 'cannot create the staging folder', e);
  }
  return stage;
}

const kind = async (path: string) =>
  lstat(path).then(
    (s) => (s.isDirectory() ? 'dir' : 'file'),
    () => undefined,
  );

/** Move `from` onto `to`: files by one rename each; folders merged, dropping what the new one lacks. */
async function moveEntry(from: string, to: string): Promise<void> {
  const [src, dst] = await Promise.all([kind(from), kind(to)]);
  if (src === 'dir' && dst === 'dir') {
    await mergeInto(from, to, [], true);
    await rm(from, { recursive: true, force: true });
    return;
  }
  // A file where a folder was (or the reverse) cannot be swapped in one rename.
  if (dst !== undefined && src !== dst) await rm(to, { recursive: true, force: true });
  await rename(from, to);
}

async function mergeInto(stage: string, target: string, last: readonly string[], removeOthers: boolean): Promise<void> {
  const names = await readdir(stage);
  const order = [...names.filter((n) => !last.includes(n)), ...last.filter((n) => names.includes(n))];
  for (const name of order) await moveEntry(join(stage, name), join(target, name));
  if (!removeOthers) return;
  const keep = new Set(names);
  for (const old of await readdir(target)) if (!keep.has(old)) await rm(join(target, old), { recursive: true, force: true });
}

export interface CommitOptions {
  /** Entries moved in after all the others, in this order (e.g. model.json, which names the shards). */
  last?: readonly string[];
  /** Remove entries of an existing target that the stage does not have (a full replace). Default false. */
  removeOthers?: boolean;
}

/**
 * Move a staged folder's entries into `target`, creating it by one rename when it does not exist.
 * The target never disappears on the way. The stage is gone afterwards.
 */
export async function commitStage(stage: string, target: string, options: CommitOptions = {}): Promise<void> {
  // A target that is a symlink to a folder is updated where it points.
  const abs = await realPathOf(target);
  try {
    const existing = await kind(abs);
    if (existing === undefined) {
      await rename(stage, abs);
      return;
    }
    if (existing !== 'dir') throw new FileError(target, 'exists and is not a folder');
    await mergeInto(stage, abs, options.last ?? [], options.removeOthers ?? false);
  } catch (e) {
    throw fileError(target, 'cannot move the new files in', e);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * Replace the folder `target` with what `write(stage)` puts into a staging folder. When `write`
 * fails, nothing of the old target has changed; the target is never missing while it is replaced.
 */
export async function replaceDir(target: string, write: (stage: string) => Promise<void>, options: Omit<CommitOptions, 'removeOthers'> = {}): Promise<void> {
  const stage = await makeStage(target);
  try {
    await write(stage);
  } catch (e) {
    await rm(stage, { recursive: true, force: true });
    throw e;
  }
  await commitStage(stage, target, { ...options, removeOthers: true });
}

/** True when `path` exists (anything: file, folder, link). */
export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (e) => {
      if (errnoOf(e) === 'ENOENT') return false;
      throw fileError(path, 'cannot be examined', e);
    },
  );
}
