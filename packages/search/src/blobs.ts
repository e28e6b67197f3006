/**
 * How trials reach their model and data without carrying them: the coordinator stores each blob
 * once (a file, or one Redis key for workers on other machines) and a trial carries only its
 * reference; a worker fetches it once, keeps it in a cache keyed by the hash, and checks the
 * SHA-256 of every copy it uses, so a file that changed since the search began is an error,
 * never a silent stale model.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { oneLine } from './trial.js';

/** A blob by reference: where it is and what it must hash to. JSON, so trials can carry it. */
export type BlobRef = {
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  bytes: number;
  /** `file:///abs/path`, `http(s)://...`, or `redis:<key>` (read through the worker's own Redis connection). */
  location: string;
};

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Where a coordinator puts the blobs its trials reference. */
export interface BlobStore {
  put(bytes: Uint8Array): Promise<BlobRef>;
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/** Blobs as files named by their hash in `dir`: for threads and workers that share the file system. */
export function directoryBlobs(dir: string): BlobStore {
  return {
    async put(bytes) {
      await mkdir(dir, { recursive: true });
      const hash = sha256(bytes);
      const path = join(dir, hash);
      await writeAtomic(path, bytes);
      return { sha256: hash, bytes: bytes.length, location: pathToFileURL(path).href };
    },
  };
}

/** The Redis key of a blob under a key prefix. */
export const blobKey = (prefix: string, hash: string) => `${prefix}:blob:${hash}`;

/** Blobs stored once in Redis (SET NX, expiring after `ttlSeconds`): for workers on other machines. */
export function redisBlobs(client: Redis, prefix: string, ttlSeconds = 7 * 24 * 3600): BlobStore {
  return {
    async put(bytes) {
      const hash = sha256(bytes);
      const key = blobKey(prefix, hash);
      // Content-addressed: a key that exists already holds these bytes; refresh its expiry only.
      const set = await client.set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', ttlSeconds, 'NX');
      if (set === null) await client.expire(key, ttlSeconds);
      return { sha256: hash, bytes: bytes.length, location: `redis:${key}` };
    },
  };
}

export interface FetcherOptions {
  /** Verified copies of fetched blobs, by hash; default `$XDG_CACHE_HOME/condense/blobs` (or ~/.cache/condense/blobs). */
  cacheDir?: string;
  /** The Redis client that reads `redis:` locations (a queue worker's). */
  redis?: () => Redis;
}

export type BlobFetcher = (ref: BlobRef) => Promise<Uint8Array>;

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : tmpdir());
  return join(base, 'condense', 'blobs');
}

function checkRef(ref: BlobRef): void {
  if (typeof ref?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(ref.sha256) || typeof ref.location !== 'string') {
    throw new Error(`not a blob reference: ${JSON.stringify(ref)?.slice(0, 120)}`);
  }
}

/** The bytes of `ref` from where it lives; no hash check (the fetcher does that). */
async function readLocation(ref: BlobRef, o: FetcherOptions): Promise<Uint8Array> {
  const { location } = ref;
  if (location.startsWith('file:')) return new Uint8Array(await readFile(fileURLToPath(location)));
  if (location.startsWith('http:') || location.startsWith('https:')) {
    const res = await fetch(location);
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  if (location.startsWith('redis:')) {
    if (!o.redis) throw new Error('this worker has no Redis connection to read it (start it with --queue)');
    const got = await o.redis().getBuffer(location.slice('redis:'.length));
    if (!got) throw new Error('the key is gone (expired or deleted)');
    return new Uint8Array(got);
  }
  throw new Error('unknown location scheme (expected file:, http(s): or redis:)');
}

/**
 * Fetch blobs by reference: from the local cache when a copy there still hashes right, else from
 * their location, checked, then cached. Concurrent requests for one hash share one fetch.
 */
export function blobFetcher(o: FetcherOptions = {}): BlobFetcher {
  const dir = o.cacheDir ?? defaultCacheDir();
  const inFlight = new Map<string, Promise<Uint8Array>>();
  const fetchOne = async (ref: BlobRef): Promise<Uint8Array> => {
    const cached = join(dir, ref.sha256);
    const hit = await readFile(cached).then(
      (b) => new Uint8Array(b),
      () => undefined,
    );
    if (hit && sha256(hit) === ref.sha256) return hit;
    let bytes: Uint8Array;
    try {
      bytes = await readLocation(ref, o);
    } catch (e) {
      throw new Error(`blob ${ref.location}: cannot read it: ${oneLine(e)}`);
    }
    const got = sha256(bytes);
    if (got !== ref.sha256)
      throw new Error(
        `blob ${ref.location}: its content hash is ${got.slice(0, 12)}..., expected ${ref.sha256.slice(0, 12)}... (it changed since the trial was made)`,
      );
    // A local file is its own cache; remote blobs get a verified local copy.
    if (!ref.location.startsWith('file:')) {
      await mkdir(dir, { recursive: true });
      await writeAtomic(cached, bytes);
    }
    return bytes;
  };
  return (ref) => {
    checkRef(ref);
    let p = inFlight.get(ref.sha256);
    if (!p) {
      p = fetchOne(ref).finally(() => inFlight.delete(ref.sha256));
      inFlight.set(ref.sha256, p);
    }
    return p;
  };
}

/** A directory store in a fresh temporary directory, made on first use and removed by `dispose`. */
export function tempBlobs(): BlobStore & { dispose(): Promise<void> } {
  let dir: Promise<string> | undefined;
  return {
    async put(bytes) {
      dir ??= mkdtemp(join(tmpdir(), 'condense-blobs-'));
      return directoryBlobs(await dir).put(bytes);
    },
    async dispose() {
      if (dir) await rm(await dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}
