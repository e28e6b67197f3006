import { definePlugin, Type, type Registry } from '@condense/core';
import type { Graph } from '@condense/ir';
import { containerReport, encodeGraph, type EncodeOptions } from './container.js';

/**
 * The encode options that make a container loadable by `@condense/codec/loader`: the graph's own
 * TF.js topology and weight names (the only topology `readContainer` accepts next to the graph),
 * written by @condense/tfjs, an optional peer: the encoder itself needs no TF.js, so it is loaded
 * only here.
 */
export async function loaderOptions(graph: Graph): Promise<Pick<EncodeOptions, 'modelTopology' | 'weightNames'>> {
  let tfjs: typeof import('@condense/tfjs');
  try {
    tfjs = await import('@condense/tfjs');
  } catch (e) {
    throw new Error(
      `codec.deepCompression: 'topology: true' writes the TF.js model topology for @condense/codec/loader and needs @condense/tfjs (npm install @condense/tfjs), or set topology: false (${(e as Error).message.split('\n')[0]})`,
    );
  }
  const { modelTopology, weightNames } = tfjs.exportTopology(graph);
  return { modelTopology, weightNames };
}

/**
 * The final Deep Compression stage: encode the graph (sparse relative positions, codebook
 * indices, canonical Huffman) into one container, `model.cdz`, with the TF.js topology so the
 * small loader (`@condense/codec/loader`) can rebuild a LayersModel without the toolkit.
 */
export const deepCompression = definePlugin({
  name: 'codec.deepCompression',
  description:
    'Deep Compression storage (Han et al. 2016, section 4): sparse relative indices with filler entries, codebook indices, canonical Huffman coding; writes model.cdz. Must be the last stage.',
  schema: Type.Object(
    {
      file: Type.String({ default: 'model.cdz', pattern: '^[^/\\\\]+\\.cdz$', description: 'container file name in the output directory' }),
      huffman: Type.Boolean({ default: true, description: 'Huffman-code index and gap streams where that is smaller' }),
      gapBits: Type.Array(Type.Integer({ minimum: 1, maximum: 8 }), {
        default: [3, 4, 5, 8],
        minItems: 1,
        description: 'relative-position widths tried per param',
      }),
      topology: Type.Boolean({ default: true, description: 'store the TF.js model topology for the standalone loader' }),
    },
    { additionalProperties: false },
  ),
  create: (o) => ({
    contract: { provides: ['encoded'], final: true },
    async apply(graph) {
      const { bytes } = encodeGraph(graph, { huffman: o.huffman, gapBits: o.gapBits, ...(o.topology ? await loaderOptions(graph) : {}) });
      const size = containerReport(bytes);
      const share = Object.entries(size.byKind)
        .filter(([, b]) => b > 0)
        .map(([kind, b]) => `${kind} ${((100 * b) / size.total).toFixed(1)}%`)
        .join(', ');
      return {
        artifacts: { [o.file]: bytes },
        storedBytes: bytes.byteLength,
        details: { file: o.file, sections: size.byKind },
        notes: [`${o.file}: ${bytes.byteLength.toLocaleString('en-US')} bytes (${share})`],
      };
    },
  }),
});

export const plugins = [deepCompression];

/** Register `codec.deepCompression`. */
export function register(registry: Registry): void {
  registry.register(deepCompression);
}
