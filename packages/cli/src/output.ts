import { mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { UserError } from './errors.js';

/** Refuse an output directory that is not empty (unless forced) or that would overwrite the input. */
export async function checkOutputDir(out: string, force: boolean, inputs: string[]): Promise<void> {
  const abs = resolve(out);
  for (const input of inputs) {
    const rel = relative(abs, resolve(input));
    if (rel === '' || !rel.startsWith('..')) throw new UserError(`--out ${out} would overwrite the input ${input}; choose another directory`);
  }
  const entries = await readdir(abs).catch(() => undefined);
  if (entries && entries.length > 0 && !force) throw new UserError(`--out ${out} is not empty; pass --force to replace it`);
  const s = await stat(abs).catch(() => undefined);
  if (s && !s.isDirectory()) throw new UserError(`--out ${out} is a file, not a directory`);
}

/**
 * Write everything into a temporary directory beside `out`, then swap it in, so a failure
 * never leaves a half-written output and never destroys the previous one.
 */
export async function writeOutputDir(out: string, write: (dir: string) => Promise<void>): Promise<void> {
  const abs = resolve(out);
  const tmp = await mkdtemp(join(dirname(abs), `.${basename(abs)}.tmp-`));
  try {
    await write(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = `${tmp}.old`;
  const existed = await stat(abs).then(() => true, () => false);
  if (existed) await rename(abs, old);
  await rename(tmp, abs);
  if (existed) await rm(old, { recursive: true, force: true });
}
