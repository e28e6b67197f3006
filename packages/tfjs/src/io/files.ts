import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { commitStage, FileError, makeStage, readInto, readTextBounded, regularFileSize, resolveInside } from '@condense/files';
import { parseBoundedJson } from '@condense/files/json';
import type { Graph } from '@condense/ir';
import { brief, isObject, ModelIOError, type Json } from './errors.js';
import type { WeightEncoding } from './encoding.js';
import { toArtifacts, type ExportOptions } from './export.js';
import { checkFormat, extrasOf, importParts } from './import.js';
import { ByteSource, decodeWeights, manifestBytes } from './weights.js';
import { graphModelMeta, importGraphModel } from '../graph-model/import.js';
import { toGraphModelArtifacts } from '../graph-model/export.js';
import { isGraphModelJson } from '../graph-model/parse.js';

const MODEL_JSON = 'model.json';
const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;
/** Largest model.json read: topology and manifest, not weights (those are in the shards). */
export const MAX_MODEL_JSON_BYTES = 256 * 2 ** 20;

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;
const fileProblem = (e: unknown): string => (e instanceof FileError ? e.problem : (e as Error).message);

async function readJson(file: string): Promise<Record<string, Json>> {
  let text: string;
  try {
    text = await readTextBounded(file, { maxBytes: MAX_MODEL_JSON_BYTES });
  } catch (e) {
    if (errno(e) === 'ENOENT') throw new ModelIOError(`${file}: no such file`);
    throw new ModelIOError(`${file}: ${fileProblem(e)}`);
  }
  const parsed = parseBoundedJson(text);
  if ('problem' in parsed) throw new ModelIOError(`${file}: ${parsed.problem.replace(/^is not valid JSON/, 'not valid JSON')}`);
  if (!isObject(parsed.value as Json)) throw new ModelIOError(`${file}: the top level must be a JSON object`);
  return parsed.value as Record<string, Json>;
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
    if (!Array.isArray(g.paths) || !g.paths.every((p) => typeof p === 'string'))
      throw new ModelIOError(`${file}: ${at}.paths must be a list of file names, got ${brief(g.paths)}`);
    if (!Array.isArray(g.weights)) throw new ModelIOError(`${file}: ${at}.weights must be an array`);
    return { paths: g.paths as string[], weights: g.weights, at };
  });
}

interface Shard {
  path: string;
  size: number;
}

/**
 * The shard files of a group: each path must stay inside the model's folder (no absolute path,
 * URL or `..`, no symlink out; TF.js itself joins them onto the model's URL) and be a regular file.
 */
async function groupShards(g: ShardGroup, base: string, file: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  for (const [i, p] of g.paths.entries()) {
    const field = `${g.at}.paths[${i}]`;
    let path: string;
    try {
      path = await resolveInside(base, p);
    } catch (e) {
      if (errno(e) === 'ENOENT') throw new ModelIOError(`${file}: weight shard ${join(base, p)} (${field}) does not exist`);
      throw new ModelIOError(`${file}: ${field} ${brief(p)} ${fileProblem(e)}; weight shards must be files inside the model's folder`);
    }
    try {
      shards.push({ path, size: await regularFileSize(path) });
    } catch (e) {
      throw new ModelIOError(`${file}: weight shard ${path} (${field}) ${fileProblem(e)}`);
    }
  }
  return shards;
}

const listShards = (shards: Shard[]): string => {
  const shown = shards.slice(0, 4).map((s) => `${s.path.split(sep).at(-1)} ${s.size} bytes`);
  return shown.join(', ') + (shards.length > 4 ? `, and ${shards.length - 4} more` : '');
};

/**
 * Read every shard of every group into one buffer (one allocation, no concatenation copies). Each
 * group's shard sizes are compared with what its manifest entries need before anything is
 * allocated, and files are read in bounded chunks.
 */
async function readShards(groups: ShardGroup[], base: string, file: string): Promise<{ buffer: Uint8Array; ranges: [number, number][] }> {
  const all: Shard[][] = [];
  let total = 0;
  for (const g of groups) {
    const shards = await groupShards(g, base, file);
    const need = manifestBytes(g.weights, `${file} (${g.at})`);
    const have = shards.reduce((a, s) => a + s.size, 0);
    // String weights store their lengths in the data: then the manifest gives a lower bound, checked while decoding.
    if (need.exact ? have !== need.bytes : have < need.bytes) {
      throw new ModelIOError(
        `${file}: ${g.at} needs ${need.exact ? '' : 'at least '}${need.bytes} bytes for its weights (their shapes and dtypes) but its shards hold ${have}: ${listShards(shards) || 'no files'}`,
      );
    }
    all.push(shards);
    total += have;
  }
  let buffer: Uint8Array;
  try {
    buffer = new Uint8Array(total);
  } catch {
    throw new ModelIOError(`${file}: the weights take ${total} bytes, more than this process can allocate`);
  }
  const ranges: [number, number][] = [];
  let at = 0;
  for (const shards of all) {
    const start = at;
    for (const s of shards) {
      try {
        await readInto(s.path, buffer.subarray(at, at + s.size));
      } catch (e) {
        throw new ModelIOError(`${file}: weight shard ${s.path}: ${fileProblem(e)}`);
      }
      at += s.size;
    }
    ranges.push([start, at]);
  }
  return { buffer, ranges };
}

/**
 * Import a TF.js model (`model.json` and its weight shards) as an IR graph: a layers model, or a
 * graph model (tfjs-converter's `format: 'graph-model'`, or a GraphDef topology without a format
 * field). `pathOrDir` is the model.json file or the directory holding it. The files are only
 * read, and only inside the model's folder. Float32 weights are views into one buffer holding all
 * shards, so import needs about the weight bytes once.
 */
export async function loadModel(pathOrDir: string): Promise<Graph> {
  let file = resolve(pathOrDir);
  const info = await stat(file).catch((e) => {
    if (errno(e) === 'ENOENT') throw new ModelIOError(`${file}: no such file or directory`);
    throw new ModelIOError(`${file}: cannot be read (${errno(e) ?? (e as Error).message})`);
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
    return decodeWeights(g.weights, new ByteSource([buffer.subarray(...ranges[i])]), where, { copy: false, values: graphModel });
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
  /**
   * File names the new shards must not take besides those already in `dir`: the files of a folder
   * this model will be moved into, so that its old model.json never points at a new shard.
   */
  avoidNames?: Iterable<string>;
}

export interface SaveResult {
  /** Absolute paths of the files written: model.json first, then the shards. */
  files: string[];
  /** Bytes of all files written (model.json and shards). */
  bytes: number;
  /** Bytes of the weight shards. */
  weightBytes: number;
  /** Each weight's encoding and why, in manifest order. */
  encodings: WeightEncoding[];
  /** Weights written larger than their input stored them, and why. */
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
  const { data, modelJson, notes, encodings } = modelFiles(graph, options);
  const target = resolve(dir);
  const existing = await stat(target).catch((e) => {
    if (errno(e) === 'ENOENT') return undefined;
    throw new ModelIOError(`saveModel: ${target} cannot be examined (${errno(e) ?? (e as Error).message})`);
  });
  if (existing && !existing.isDirectory()) throw new ModelIOError(`saveModel: ${target} exists and is not a directory`);
  const count = Math.ceil(data.byteLength / shardBytes);
  const taken = new Set([...(existing ? await readdir(target) : []), ...(options.avoidNames ?? [])]);
  const prefix = freshPrefix(taken, count);
  const shards = Array.from({ length: count }, (_, i) => ({
    name: `${prefix}-shard${i + 1}of${count}.bin`,
    bytes: data.subarray(i * shardBytes, Math.min(data.byteLength, (i + 1) * shardBytes)),
  }));
  const jsonText = JSON.stringify(modelJson(shards.map((s) => s.name)));

  const stage = await makeStage(target);
  try {
    for (const s of shards) await writeFile(join(stage, s.name), s.bytes);
    await writeFile(join(stage, MODEL_JSON), jsonText);
  } catch (e) {
    await rm(stage, { recursive: true, force: true });
    throw new ModelIOError(`saveModel: cannot write into ${stage} (${errno(e) ?? (e as Error).message})`);
  }
  const stale = existing ? await listedShards(target) : [];
  await commitStage(stage, target, { last: [MODEL_JSON] });
  const kept = new Set(shards.map((s) => join(target, s.name)));
  for (const f of stale) if (!kept.has(f)) await rm(f, { force: true });
  const files = [join(target, MODEL_JSON), ...shards.map((s) => join(target, s.name))];
  return { files, bytes: Buffer.byteLength(jsonText) + data.byteLength, weightBytes: data.byteLength, encodings, notes };
}

/** The weight bytes, model.json and weight encodings of a graph: a graph model when it was read from one, else a layers model. */
function modelFiles(
  graph: Graph,
  options: ExportOptions,
): { data: Uint8Array; modelJson: (paths: string[]) => Record<string, unknown>; encodings: WeightEncoding[]; notes: string[] } {
  if (graphModelMeta(graph)) {
    const g = toGraphModelArtifacts(graph, options);
    return { data: new Uint8Array(g.artifacts.weightData as ArrayBuffer), modelJson: g.modelJson, encodings: g.encodings, notes: g.notes };
  }
  const { artifacts, notes, encodings } = toArtifacts(graph, options);
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
  return { data: new Uint8Array(artifacts.weightData as ArrayBuffer), modelJson, encodings, notes };
}

/** A shard-name prefix whose names collide with none of `taken`. */
function freshPrefix(taken: Set<string>, count: number): string {
  const clash = (prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}-shard${i + 1}of${count}.bin`).some((n) => taken.has(n));
  if (!clash('group1')) return 'group1';
  for (;;) {
    const prefix = `group1-${Math.random().toString(36).slice(2, 8)}`;
    if (!clash(prefix)) return prefix;
  }
}

/**
 * Shard files (`.bin`, directly inside `dir`) listed by the model.json currently in `dir`, if there
 * is a readable one: only those are removed, so a stray entry cannot make saveModel delete another file.
 */
async function listedShards(dir: string): Promise<string[]> {
  try {
    const json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8'));
    const groups = Array.isArray(json?.weightsManifest) ? json.weightsManifest : [];
    const paths: string[] = groups.flatMap((g: { paths?: unknown }) => (Array.isArray(g?.paths) ? g.paths.filter((p) => typeof p === 'string') : []));
    return paths.map((p) => resolve(dir, p)).filter((f) => dirname(f) === dir && f.endsWith('.bin'));
  } catch {
    return [];
  }
}
