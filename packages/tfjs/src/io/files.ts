import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Graph } from '@condense/ir';
import { brief, isObject, ModelIOError, type Json } from './errors.js';
import { toArtifacts, type ExportOptions } from './export.js';
import { checkFormat, extrasOf, importParts } from './import.js';
import { ByteSource, decodeWeights } from './weights.js';
import { graphModelMeta, importGraphModel } from '../graph-model/import.js';
import { toGraphModelArtifacts } from '../graph-model/export.js';
import { isGraphModelJson } from '../graph-model/parse.js';

const MODEL_JSON = 'model.json';
const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;

async function readJson(file: string): Promise<Record<string, Json>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') throw new ModelIOError(`${file}: no such file`);
    throw new ModelIOError(`${file}: cannot be read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelIOError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw new ModelIOError(`${file}: the top level must be a JSON object`);
  return json;
}

interface ShardGroup {
  paths: string[];
  weights: Json;
  at: string;
}

function weightGroups(json: Record<string, Json>, file: string): ShardGroup[] {
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new ModelIOError(`${file}: weightsManifest must be an array`);
  return manifest.map((g, i) => {
    const at = `weightsManifest[${i}]`;
    if (!isObject(g)) throw new ModelIOError(`${file}: ${at} must be an object`);
    if (!Array.isArray(g.paths) || !g.paths.every((p) => typeof p === 'string')) throw new ModelIOError(`${file}: ${at}.paths must be a list of file names, got ${brief(g.paths)}`);
    if (!Array.isArray(g.weights)) throw new ModelIOError(`${file}: ${at}.weights must be an array`);
    return { paths: g.paths as string[], weights: g.weights, at };
  });
}

/** Read every shard of every group into one buffer (one allocation, no concatenation copies). */
async function readShards(groups: ShardGroup[], base: string, file: string): Promise<{ buffer: Uint8Array; ranges: [number, number][] }> {
  const sizes: number[][] = [];
  for (const g of groups) {
    const row: number[] = [];
    for (const [i, p] of g.paths.entries()) {
      const full = resolve(base, p);
      try {
        row.push((await stat(full)).size);
      } catch (e) {
        if (errno(e) === 'ENOENT') throw new ModelIOError(`${file}: weight shard ${full} (${g.at}.paths[${i}]) does not exist`);
        throw new ModelIOError(`${file}: weight shard ${full} cannot be read (${(e as Error).message})`);
      }
    }
    sizes.push(row);
  }
  const total = sizes.flat().reduce((a, b) => a + b, 0);
  const buffer = new Uint8Array(total);
  const ranges: [number, number][] = [];
  let at = 0;
  for (const [gi, g] of groups.entries()) {
    const start = at;
    for (const [i, p] of g.paths.entries()) {
      await readInto(resolve(base, p), buffer.subarray(at, at + sizes[gi][i]));
      at += sizes[gi][i];
    }
    ranges.push([start, at]);
  }
  return { buffer, ranges };
}

async function readInto(path: string, target: Uint8Array): Promise<void> {
  const fh = await open(path, 'r');
  try {
    let done = 0;
    while (done < target.byteLength) {
      const { bytesRead } = await fh.read(target, done, target.byteLength - done, done);
      if (bytesRead === 0) throw new ModelIOError(`${path}: the file shrank while it was read`);
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/**
 * Import a TF.js model (`model.json` and its weight shards) as an IR graph: a layers model, or a
 * graph model (tfjs-converter's `format: 'graph-model'`, or a GraphDef topology without a format
 * field). `pathOrDir` is
 * the model.json file or the directory holding it. The files are only read. Float32 weights are
 * views into one buffer holding all shards, so import needs about the weight bytes once.
 */
export async function loadModel(pathOrDir: string): Promise<Graph> {
  let file = resolve(pathOrDir);
  const info = await stat(file).catch((e) => {
    if (errno(e) === 'ENOENT') throw new ModelIOError(`${file}: no such file or directory`);
    throw e;
  });
  if (info.isDirectory()) file = join(file, MODEL_JSON);
  const json = await readJson(file);
  const graphModel = isGraphModelJson(json);
  if (!graphModel) checkFormat(json.format, file);
  if (json.modelTopology === undefined || json.modelTopology === null) throw new ModelIOError(`${file}: modelTopology is missing`);
  const groups = weightGroups(json, file);
  const { buffer, ranges } = await readShards(groups, dirname(file), file);
  const decoded = groups.map((g, i) => {
    const where = `${file} (${g.at}: ${g.paths.join(', ') || 'no files'})`;
    return decodeWeights(g.weights, new ByteSource([buffer.subarray(...ranges[i])]), where, { copy: false, values: graphModel, stored: graphModel });
  });
  const params = decoded.flatMap((d) => d.params);
  const sizeError = decoded.find((d) => d.sizeError)?.sizeError;
  if (graphModel) {
    const { weightsManifest: _manifest, ...fields } = json;
    const weightOrder = groups.flatMap((g) => (g.weights as { name: string }[]).map((w) => w.name));
    return importGraphModel({ json: fields, params, values: decoded.flatMap((d) => d.values), weightOrder, sizeError, where: file });
  }
  return importParts({ modelTopology: json.modelTopology, params, sizeError, where: file, extras: extrasOf(json) });
}

export interface SaveOptions extends ExportOptions {
  /** Maximum bytes per weight shard (default 4 MiB, like TF.js). */
  shardBytes?: number;
}

export interface SaveResult {
  /** Absolute paths of the files written: model.json first, then the shards. */
  files: string[];
  bytes: number;
  notes: string[];
}

/**
 * Write a graph as `dir/model.json` plus weight shards that stock `tf.loadLayersModel` loads (or
 * `tf.loadGraphModel`, for a graph read from a graph model).
 * Atomic: files are staged beside `dir` and moved in; model.json, moved last, switches the
 * model over, so a crash leaves the old model or the new one, never a mix. Shards that the
 * replaced model.json listed are removed afterwards; other files in `dir` are left alone.
 */
export async function saveModel(graph: Graph, dir: string, options: SaveOptions = {}): Promise<SaveResult> {
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes < 1) throw new ModelIOError(`saveModel: shardBytes must be a positive integer, got ${brief(shardBytes)}`);
  const { data, modelJson, notes } = modelFiles(graph, options);
  const target = resolve(dir);
  const existing = await stat(target).catch((e) => {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  });
  if (existing && !existing.isDirectory()) throw new ModelIOError(`saveModel: ${target} exists and is not a directory`);
  const count = Math.ceil(data.byteLength / shardBytes);
  const prefix = existing ? await freshPrefix(target, count) : 'group1';
  const shards = Array.from({ length: count }, (_, i) => ({
    name: `${prefix}-shard${i + 1}of${count}.bin`,
    bytes: data.subarray(i * shardBytes, Math.min(data.byteLength, (i + 1) * shardBytes)),
  }));
  const jsonText = JSON.stringify(modelJson(shards.map((s) => s.name)));

  await mkdir(dirname(target), { recursive: true });
  const stage = await mkdtemp(join(dirname(target), `.${basename(target)}.tmp-`));
  try {
    for (const s of shards) await writeFile(join(stage, s.name), s.bytes);
    await writeFile(join(stage, MODEL_JSON), jsonText);
    if (!existing) {
      await rename(stage, target);
    } else {
      const stale = await listedShards(target);
      for (const s of shards) await rename(join(stage, s.name), join(target, s.name));
      await rename(join(stage, MODEL_JSON), join(target, MODEL_JSON));
      const kept = new Set(shards.map((s) => join(target, s.name)));
      for (const f of stale) if (!kept.has(f)) await rm(f, { force: true });
    }
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  const files = [join(target, MODEL_JSON), ...shards.map((s) => join(target, s.name))];
  return { files, bytes: Buffer.byteLength(jsonText) + data.byteLength, notes };
}

/** The weight bytes and model.json of a graph: a graph model when it was read from one, else a layers model. */
function modelFiles(graph: Graph, options: ExportOptions): { data: Uint8Array; modelJson: (paths: string[]) => Record<string, unknown>; notes: string[] } {
  if (graphModelMeta(graph)) {
    const g = toGraphModelArtifacts(graph, options);
    return { data: new Uint8Array(g.artifacts.weightData as ArrayBuffer), modelJson: g.modelJson, notes: g.notes };
  }
  const { artifacts, notes } = toArtifacts(graph, options);
  const modelJson = (paths: string[]) => {
    const json: Record<string, unknown> = {
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
    };
    if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
    if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
    return json;
  };
  return { data: new Uint8Array(artifacts.weightData as ArrayBuffer), modelJson, notes };
}

/** A shard-name prefix whose names collide with no file already in `dir`. */
async function freshPrefix(dir: string, count: number): Promise<string> {
  const present = new Set(await readdir(dir));
  const clash = (prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}-shard${i + 1}of${count}.bin`).some((n) => present.has(n));
  if (!clash('group1')) return 'group1';
  for (;;) {
    const prefix = `group1-${Math.random().toString(36).slice(2, 8)}`;
    if (!clash(prefix)) return prefix;
  }
}

/** Shard files (inside `dir`) listed by the model.json currently in `dir`, if there is a readable one. */
async function listedShards(dir: string): Promise<string[]> {
  try {
    const json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8'));
    const groups = Array.isArray(json?.weightsManifest) ? json.weightsManifest : [];
    const paths: string[] = groups.flatMap((g: { paths?: unknown }) => (Array.isArray(g?.paths) ? g.paths.filter((p) => typeof p === 'string') : []));
    return paths.map((p) => resolve(dir, p)).filter((f) => dirname(f) === dir && !f.endsWith(`${sep}${MODEL_JSON}`));
  } catch {
    return [];
  }
}
