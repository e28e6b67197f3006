/** Container files: atomic writes (temp file + rename, folders created), bounded reads with the path in every error. */
import { FileError, readBounded, writeFileAtomic } from '@condense/files';
import type { Graph } from '@condense/ir';
import { decodeGraph, encodeGraph, type EncodeOptions, type EncodeResult } from './container.js';
import type { ExportTopology } from './agree.js';
import type { DecodeOptions } from './decode.js';
import { CodecError } from './errors.js';
import { MAX_CONTAINER_BYTES } from './format.js';

const problem = (e: unknown) => (e instanceof FileError ? e.problem : (e as Error).message);

/** Encode `graph` and write it to `path` atomically: readers see the old file or the whole new one. Missing folders are created. */
export async function writeContainer(graph: Graph, path: string, options: EncodeOptions = {}): Promise<EncodeResult> {
  const result = encodeGraph(graph, options);
  try {
    await writeFileAtomic(path, result.bytes);
  } catch (e) {
    throw new CodecError('IO', `cannot write the container (${problem(e)})`, path);
  }
  return result;
}

/**
 * `exportTopology` of @condense/tfjs, loaded when first needed (the codec itself does not import
 * TF.js); without it, a container that stores a TF.js topology cannot be checked and is refused.
 */
async function topologyExporter(): Promise<ExportTopology> {
  try {
    return (await import('@condense/tfjs')).exportTopology;
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    return () => {
      throw new Error(`@condense/tfjs is needed to check it against the graph (npm install @condense/tfjs): ${why}`);
    };
  }
}

/** Read and decode a container file into an IR graph; a stored TF.js topology is checked against it. */
export async function readContainer(path: string, options: Omit<DecodeOptions, 'source'> = {}): Promise<Graph> {
  let bytes: Uint8Array;
  try {
    bytes = await readBounded(path, { maxBytes: MAX_CONTAINER_BYTES });
  } catch (e) {
    throw new CodecError('IO', `cannot read the container (${problem(e)})`, path);
  }
  return decodeGraph(bytes, path, { ...options, exportTopology: await topologyExporter() });
}
