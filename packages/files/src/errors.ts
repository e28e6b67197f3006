/** A file problem, reported in one line that starts with the path (and names the field when there is one). */
export class FileError extends Error {
  constructor(
    /** The file or folder at fault. */
    readonly path: string,
    /** What is wrong with it, without the path. */
    readonly problem: string,
    /** The system error code behind it (ENOENT, EISDIR, ...), when there is one. */
    readonly code?: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'FileError';
  }
}

/** The errno code of a Node system error, if `e` is one. */
export const errnoOf = (e: unknown): string | undefined => {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

const PLAIN: Record<string, string> = {
  ENOENT: 'does not exist',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  EEXIST: 'already exists',
  ENOTEMPTY: 'is a directory that is not empty',
};

/** `e` as a FileError about `path`: `doing` says what failed ("cannot read", "cannot write"). */
export function fileError(path: string, doing: string, e: unknown): FileError {
  if (e instanceof FileError) return e;
  const code = errnoOf(e);
  const why = code ? (PLAIN[code] ?? code) : ((e as Error)?.message || String(e)).split('\n')[0];
  return new FileError(path, `${doing} (${why})`, code);
}
