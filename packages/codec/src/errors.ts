/**
 * Every problem the codec detects, one code each, so callers (and tests) can tell a
 * truncated download from a corrupted one from a file written by a newer version.
 */
export type CodecErrorCode =
  /** Decoding: the file does not start with the container magic. */
  | 'BAD_MAGIC'
  /** Decoding: the container version is not one this build reads. */
  | 'UNSUPPORTED_VERSION'
  /** Decoding: the file is shorter than its fixed prefix, header or declared body. */
  | 'TRUNCATED'
  /** Decoding: the file is longer than its header declares. */
  | 'TRAILING_DATA'
  /** Decoding: a section's offset/length points outside the body. */
  | 'OUT_OF_RANGE'
  /** Decoding: a declared element count is not backed by the bytes present, or exceeds `maxElements`. */
  | 'SIZE_LIMIT'
  /** Decoding: a Huffman code-length table is malformed, over-subscribed or incomplete. */
  | 'BAD_HUFFMAN'
  /** Decoding: a section's (or the header's) CRC32 does not match its bytes. */
  | 'CRC_MISMATCH'
  /** Decoding: the header is not valid JSON or a field has the wrong type. */
  | 'BAD_HEADER'
  /** Decoding: a param's shape, encoding and streams disagree. */
  | 'BAD_PARAM'
  /** Decoding: a stream's content is invalid (symbol out of range, position past the end, bits overrun). */
  | 'BAD_DATA'
  /** Encoding: a param's data does not match its annotations (mask, codebook, quant, float16). */
  | 'INCONSISTENT_PARAM'
  /** Encoding: bad arguments (unknown param in weightNames, unsupported bit width, ...). */
  | 'INVALID_ARGUMENT'
  /** Decoding into a graph: the stored IR graph is invalid (unknown op, bad attribute, bad quantization). */
  | 'BAD_GRAPH'
  /** Decoding into a graph: the stored TF.js topology or weight names are not the graph's own export. */
  | 'TOPOLOGY_MISMATCH'
  /** Loader: the container has no TF.js modelTopology, its topology is malformed, or its params do not match the model's weights. */
  | 'NOT_LOADABLE'
  /** Reading or writing a file (or fetching a URL) failed. */
  | 'IO';

export class CodecError extends Error {
  constructor(
    readonly code: CodecErrorCode,
    message: string,
    /** The param or section at fault, when there is one. */
    readonly where?: string,
  ) {
    super(`${code}: ${where === undefined ? '' : `${where}: `}${message}`);
    this.name = 'CodecError';
  }
}

export const fail = (code: CodecErrorCode, message: string, where?: string): never => {
  throw new CodecError(code, message, where);
};
