import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { deserializeGraph, serializeGraph, type Graph } from '@condense/ir';
import { loadModel, saveModel } from '@condense/tfjs';
import { readContainer, writeContainer } from '@condense/codec';
import { writeFileAtomic } from '@condense/core';
import { UserError } from './errors.js';

/** The model formats the CLI reads and writes, told apart by path. */
export type ModelFormat = 'tfjs' | 'ir' | 'cdz';

export function formatOf(path: string): ModelFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.cdz') return 'cdz';
  if (ext === '.cir') return 'ir';
  return 'tfjs';
}

export async function loadAnyModel(path: string): Promise<Graph> {
  const exists = await stat(path).catch(() => undefined);
  if (!exists) throw new UserError(`${path}: no such file or directory`);
  switch (formatOf(path)) {
    case 'cdz':
      return readContainer(path);
    case 'ir':
      return deserializeGraph(new Uint8Array(await readFile(path)), path);
    default:
      return loadModel(path);
  }
}

/** Write a model in the format its path names: a directory (model.json + shards), `.cir` or `.cdz`. */
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

/** The directory a model lives in, to refuse writing over the input. */
export function modelHome(path: string): string {
  const abs = resolve(path);
  return formatOf(abs) === 'tfjs' && basename(abs) !== 'model.json' ? abs : dirname(abs);
}
