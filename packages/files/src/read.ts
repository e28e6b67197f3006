/**
 * Reads whose sizes are checked before anything is allocated, in chunks small enough for any
 * platform (one read call is limited to 2^31-1 bytes), of regular files only: a folder, a FIFO
 * or a device where a file should be is refused instead of blocking or failing deep inside.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FileError, fileError } from './errors.js';

/** Bytes per read call. */
const CHUNK = 16 * 2 ** 20;

async function openRegular(path: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    // Non-blocking, so that a FIFO is refused by the check below instead of waiting for a writer.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw fileError(path, 'cannot be read', e);
  }
  const info = await fh.stat();
  if (!info.isFile()) {
    await fh.close();
    throw new FileError(path, info.isDirectory() ? 'is a directory, not a file' : 'is not a regular file', info.isDirectory() ? 'EISDIR' : undefined);
  }
  return { fh, size: info.size };
}

/** The size of a regular file (FileError for anything else or when it cannot be examined). */
export async function regularFileSize(path: string): Promise<number> {
  const { fh, size } = await openRegular(path);
  await fh.close();
  return size;
}

async function fill(fh: FileHandle, path: string, target: Uint8Array): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const want = Math.min(CHUNK, target.byteLength - done);
    const { bytesRead } = await fh.read(target, done, want, done);
    if (bytesRead === 0) throw new FileError(path, `shrank while it was read (${done} of ${target.byteLength} bytes)`);
    done += bytesRead;
  }
  const { bytesRead } = await fh.read(new Uint8Array(1), 0, 1, done);
  if (bytesRead !== 0) throw new FileError(path, `grew while it was read (beyond ${done} bytes)`);
}

/** Read all of `path` into `target`, whose length must be the file's size (checked first). */
export async function readInto(path: string, target: Uint8Array): Promise<void> {
  const { fh, size } = await openRegular(path);
  try {
    if (size !== target.byteLength) throw new FileError(path, `has ${size} bytes, expected ${target.byteLength}`);
    await fill(fh, path, target);
  } catch (e) {
    throw fileError(path, 'cannot be read', e);
  } finally {
    await fh.close();
  }
}

export interface ReadLimits {
  /** Refuse a larger file before allocating anything. */
  maxBytes: number;
}

/** Read a whole regular file of at most `maxBytes`; the size is checked before the buffer is allocated. */
export async function readBounded(path: string, limits: ReadLimits): Promise<Uint8Array> {
  const { fh, size } = await openRegular(path);
  try {
    if (size > limits.maxBytes) throw new FileError(path, `has ${size} bytes, more than the ${limits.maxBytes} allowed`);
    const out = new Uint8Array(size);
    await fill(fh, path, out);
    return out;
  } catch (e) {
    throw fileError(path, 'cannot be read', e);
  } finally {
    await fh.close();
  }
}

/** A UTF-8 text file of at most `maxBytes` (refused when it is not valid UTF-8). */
export async function readTextBounded(path: string, limits: ReadLimits): Promise<string> {
  const bytes = await readBounded(path, limits);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FileError(path, 'is not UTF-8 text');
  }
}
