import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { writeFileAtomic } from '@condense/files';
import { deserializeGraph, serializeGraph, type Graph } from '@condense/ir';
import { loadModel, saveModel } from '@condense/tfjs';
import { readContainer, writeContainer } from '@condense/codec';
import { UserError } from './errors.js';

/** The model formats the CLI reads and writes, told apart by path. */
export type ModelFormat = 'tfjs' | 'ir' | 'cdz';

export function formatOf(path: string): ModelFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.cdz') return 'cdz';
  if (ext === '.cir') return 'ir';
  return 'tfjs';
}

export interface LoadOptions {
  /** Containers declaring more elements are refused (the codec's default when absent). */
  maxElements?: number;
}

export async function loadAnyModel(path: string, o: LoadOptions = {}): Promise<Graph> {
  const exists = await stat(path).catch(() => undefined);
  if (!exists) throw new UserError(`${path}: no such file or directory`);
  switch (formatOf(path)) {
    case 'cdz':
      return readContainer(path, o.maxElements === undefined ? {} : { maxElements: o.maxElements });
    case 'ir':
      return deserializeGraph(new Uint8Array(await readFile(path)), path);
    default:
      return loadModel(path);
  }
}

/**
 * Write a model in the format its path names: a directory (model.json + shards), `.cir` or `.cdz`.
 * Missing folders are created; every file is written atomically.
 */
export async function saveAnyModel(graph: Graph, path: string): Promise<string[]> {
  switch (formatOf(path)) {
    case 'cdz':
      await writeContainer(graph, path);
      return [path];
    case 'ir':
      await writeFileAtomic(path, serializeGraph(graph));
      return [path];
    default: {
      const dir = basename(path) === 'model.json' ? dirname(path) : path;
      const r = await saveModel(graph, dir);
      return r.files.map((f) => join(dir, basename(f)));
    }
  }
}

/** The directory a model lives in (a TF.js model's folder, or the folder holding a file). */
export function modelHome(path: string): string {
  const abs = resolve(path);
  return formatOf(abs) === 'tfjs' && basename(abs) !== 'model.json' ? abs : dirname(abs);
}

/** What a model path reads: a TF.js model's whole folder (model.json and shards), else the file. */
export function modelInput(path: string): string {
  return formatOf(path) === 'tfjs' ? modelHome(path) : resolve(path);
}
