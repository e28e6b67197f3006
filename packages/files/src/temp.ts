/**
 * Temporary names of our own: `.<target>.condense-tmp-<pid>-<8 hex>`, in the target's folder (so
 * that a rename moves it in atomically). A killed run leaves them behind; the next write into the
 * same folder removes those whose process is gone.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const MARK = '.condense-tmp-';
const OURS = /\.condense-tmp-(\d+)-[0-9a-f]{8}$/;

/** A fresh temporary path beside `target`. */
export function tempPath(target: string): string {
  return join(dirname(target), `.${basename(target)}${MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** The process id a temporary name of ours records, or undefined for any other name. */
export function tempOwner(name: string): number | undefined {
  const m = OURS.exec(name);
  return m && name.startsWith('.') ? Number(m[1]) : undefined;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove the temporaries of ours in `dir` whose process no longer runs (a killed or crashed run);
 * those of running processes (a concurrent run) are left alone. Returns the paths removed.
 */
export async function cleanStaleTemps(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempOwner(name);
    if (pid === undefined || alive(pid)) continue;
    const path = join(dir, name);
    await rm(path, { recursive: true, force: true }).then(
      () => removed.push(path),
      () => undefined,
    );
  }
  return removed;
}
