/** What both loaders share: reading the container's bytes, the stored params by weight name, TF.js errors as one line. */
import type { DecodedParam } from './decode.js';
import { CodecError } from './errors.js';
import { MAX_CONTAINER_BYTES } from './format.js';

export type CondenseSource = string | ArrayBuffer | Uint8Array | Response;

/** How errors name a source. */
export const sourceName = (source: CondenseSource): string =>
  typeof source === 'string' ? source : source instanceof Uint8Array || source instanceof ArrayBuffer ? 'container' : source.url || 'response';

/** Stored params by Keras weight name; a name carried twice is refused. */
export function weightsByName(params: DecodedParam[], where: string): Map<string, DecodedParam> {
  const out = new Map<string, DecodedParam>();
  for (const p of params) {
    if (p.weightName === undefined) continue;
    const other = out.get(p.weightName);
    if (other) throw new CodecError('NOT_LOADABLE', `params '${other.name}' and '${p.name}' both carry the weight name '${p.weightName}'`, where);
    out.set(p.weightName, p);
  }
  return out;
}

/** A TF.js error as one line (some have an empty message). */
export const tfjsMessage = (e: unknown): string => ((e as Error)?.message || (e as Error)?.name || String(e)).split('\n')[0].trim();

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Bytes of the source: a URL or (in Node) a file path, a fetch Response, or bytes in memory. */
export async function readSource(source: CondenseSource, name: string): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  try {
    if (typeof source !== 'string') return await responseBytes(source);
    if (isNode() && !/^https?:\/\//i.test(source)) {
      // A computed specifier keeps browser bundlers from trying to resolve a Node builtin.
      const fsModule = 'node:fs/promises';
      const fs = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
      const path = source.startsWith('file:') ? new URL(source) : source;
      const info = await fs.stat(path);
      if (!info.isFile()) throw new CodecError('IO', 'is not a regular file', name);
      if (info.size > MAX_CONTAINER_BYTES)
        throw new CodecError('IO', `has ${info.size} bytes, more than the ${MAX_CONTAINER_BYTES} a container may have`, name);
      return new Uint8Array(await fs.readFile(path));
    }
    return await responseBytes(await fetch(source));
  } catch (e) {
    if (e instanceof CodecError) throw e;
    throw new CodecError('IO', `cannot read the container (${(e as Error).message})`, name);
  }
}

async function responseBytes(r: Response): Promise<Uint8Array> {
  if (!r.ok) throw new CodecError('IO', `HTTP ${r.status} ${r.statusText}`, r.url || 'response');
  return new Uint8Array(await r.arrayBuffer());
}
