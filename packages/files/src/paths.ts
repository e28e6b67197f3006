/** Paths that must stay inside a folder (weight shards next to their model.json), and path containment. */
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { FileError, fileError } from './errors.js';

const URL_LIKE = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

/** Why `rel` cannot name a file inside a folder (absolute, a URL, `..`), or undefined when it can. */
export function confinedPathProblem(rel: unknown): string | undefined {
  if (typeof rel !== 'string' || rel === '') return 'is not a file name';
  if (rel.includes('\0')) return 'contains a NUL character';
  if (URL_LIKE.test(rel)) return 'is a URL or a drive path, not a path inside the folder';
  if (isAbsolute(rel) || rel.startsWith('\\')) return 'is an absolute path, not a path inside the folder';
  if (rel.split(/[/\\]/).includes('..')) return "goes up with '..', out of the folder";
  return undefined;
}

/** True when `inner` is `outer` or lies under it (both absolute, already resolved). */
export function isWithin(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The real path of `rel` inside `folder`, after resolving symlinks; refuses (FileError naming `rel`)
 * absolute paths, URLs, `..`, a missing file, and any link that leads out of the folder.
 */
export async function resolveInside(folder: string, rel: unknown): Promise<string> {
  const shown = typeof rel === 'string' ? rel : JSON.stringify(rel);
  const problem = confinedPathProblem(rel);
  if (problem) throw new FileError(shown, problem);
  const base = await realpath(resolve(folder)).catch((e) => {
    throw fileError(folder, 'cannot be opened', e);
  });
  const real = await realpath(join(base, rel as string)).catch((e) => {
    throw fileError(shown, `cannot be found in ${base}`, e);
  });
  if (!isWithin(base, real)) throw new FileError(shown, `leads out of ${base} (to ${real})`);
  return real;
}

/** `path` with symlinks resolved as far as it exists (a missing tail is kept as written). */
export async function realPathOf(path: string): Promise<string> {
  const abs = resolve(path);
  const tail: string[] = [];
  for (let p = abs; ; ) {
    try {
      return join(await realpath(p), ...tail.reverse());
    } catch {
      const parent = resolve(p, '..');
      if (parent === p) return abs;
      tail.push(p.slice(parent.length).replace(/^[/\\]/, ''));
      p = parent;
    }
  }
}
