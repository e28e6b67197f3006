/** Container files: atomic writes (temp file + rename), reads with the path in every error. */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Graph } from '@condense/ir';
import { decodeGraph, encodeGraph, type EncodeOptions, type EncodeResult } from './container.js';
import type { DecodeOptions } from './decode.js';
import { CodecError } from './errors.js';

/** Encode `graph` and write it to `path` atomically: readers see the old file or the whole new one. */
export async function writeContainer(graph: Graph, path: string, options: EncodeOptions = {}): Promise<EncodeResult> {
  const result = encodeGraph(graph, options);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, result.bytes, { flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new CodecError('IO', `cannot write the container (${(e as Error).message})`, path);
  }
  return result;
}

/** Read and decode a container file into an IR graph. */
export async function readContainer(path: string, options: Omit<DecodeOptions, 'source'> = {}): Promise<Graph> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new CodecError('IO', `cannot read the container (${(e as Error).message})`, path);
  }
  return decodeGraph(bytes, path, options);
}
