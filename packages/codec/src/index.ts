export { CodecError, type CodecErrorCode } from './errors.js';
export { crc32 } from './crc32.js';
export { BitWriter, pack, unpack, packedBytes } from './bits.js';
export {
  MAX_CODE_LENGTH,
  MAX_HUFFMAN_SYMBOLS,
  codeLengths,
  checkLengths,
  canonicalCodes,
  encodedBits,
  huffmanEncode,
  huffmanDecode,
  decodeTable,
  lengthsToString,
  lengthsFromString,
  type DecodeTable,
} from './huffman.js';
export { GAP_BITS, MAX_GAP_BITS, gapEntries, encodeGaps, decodeGaps } from './sparse.js';
export {
  MAGIC,
  VERSION,
  FORMAT,
  PREFIX_BYTES,
  SECTION_KINDS,
  type ContainerHeader,
  type ParamEntry,
  type StreamRef,
  type StreamName,
  type SectionKind,
  type ValueEncoding,
  type NodeJson,
} from './format.js';
export {
  decodeContainer,
  parseContainer,
  DEFAULT_MAX_ELEMENTS,
  type DecodeOptions,
  type DecodedContainer,
  type DecodedParam,
  type ParsedContainer,
} from './decode.js';
export { encodeParam, valueEncoding, type ParamEncodeOptions, type EncodedParam, type EncodedStream } from './encode.js';
export {
  encodeGraph,
  decodeGraph,
  storedWeightNames,
  sizeReport,
  containerReport,
  type DecodeGraphOptions,
  type EncodeOptions,
  type EncodeResult,
  type Section,
  type SizeReport,
} from './container.js';
export { writeContainer, readContainer } from './files.js';
export { deepCompression, loaderOptions, plugins, register } from './plugin.js';
export type { ExportTopology } from './agree.js';
