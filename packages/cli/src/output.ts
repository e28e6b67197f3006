import { readdir, stat } from 'node:fs/promises';
import { isWithin, realPathOf, replaceDir } from '@condense/files';
import { UserError } from './errors.js';

/** A file or folder a command reads: no output may replace it or a folder holding it, with or without --force. */
export interface Input {
  /** What it is, for the message: 'model', 'recipe', 'data', a recipe stage's option... */
  what: string;
  path: string;
}

/** Refuse writing `out` (which will be replaced as a whole) when it is, or holds, one of the inputs (symlinks resolved). */
export async function checkNotAnInput(out: string, flag: string, inputs: Input[]): Promise<void> {
  const target = await realPathOf(out);
  for (const input of inputs) {
    if (isWithin(target, await realPathOf(input.path))) {
      throw new UserError(`${flag} ${out} would replace the ${input.what} ${input.path}; choose another ${flag === 'OUT' ? 'output' : 'directory'}`);
    }
  }
}

/** Refuse an output directory that is not empty (unless forced), that is a file, or that would replace an input. */
export async function checkOutputDir(out: string, force: boolean, inputs: Input[]): Promise<void> {
  await checkNotAnInput(out, '--out', inputs);
  const s = await stat(out).catch(() => undefined);
  if (s && !s.isDirectory()) throw new UserError(`--out ${out} is a file, not a directory`);
  const entries = s ? await readdir(out) : [];
  if (entries.length > 0 && !force) throw new UserError(`--out ${out} is not empty; pass --force to replace it`);
}

/**
 * Write everything into a staging directory beside `out`, then move it in (model.json last), so a
 * failure never leaves a half-written output, never destroys the previous one, and `out` never
 * goes missing on the way. Temporaries a killed run left beside `out` are removed first.
 */
export async function writeOutputDir(out: string, write: (dir: string) => Promise<void>): Promise<void> {
  await replaceDir(out, write, { last: ['model.json'] });
}
