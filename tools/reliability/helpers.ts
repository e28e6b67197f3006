/** Shared by the reliability tests: scratch folders, fingerprints of inputs, the CLI run in-process. */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '@condense/cli';

export async function scratch(prefix = 'condense-rel-'): Promise<{ dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

/** Content hash and mtime of every file under `dir` (recursively): equal before and after = untouched. */
export async function fingerprint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string) => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, `${rel}${e.name}/`);
      else
        out[`${rel}${e.name}`] = `${createHash('sha256')
          .update(await readFile(p))
          .digest('hex')}@${(await stat(p)).mtimeMs}`;
    }
  };
  await walk(dir, '');
  return out;
}

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** `condense ARGS` in this process, output captured. */
export async function cli(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A refusal as the CLI should give it: exit status 1, one line, no stack trace, no raw JS error name. */
export function isCleanRefusal(r: CliRun): boolean {
  return r.code === 1 && r.err.split('\n').length === 1 && !/\n\s+at |TypeError|RangeError|ReferenceError|SyntaxError|Maximum call stack/.test(r.err);
}
