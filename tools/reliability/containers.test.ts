/**
 * Issue 27, item 3 (the container loader and decoder as denial-of-service vectors) and the
 * container half of item 8: every hostile container is refused quickly, in bounded memory, with a
 * one-line CodecError naming the file and field; a failed load leaks nothing.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CodecError, DEFAULT_MAX_ELEMENTS, decodeContainer, decodeGraph } from '@condense/codec';
import { loadCondenseModel } from '@condense/codec/loader';
import { exportTopology } from '@condense/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadableBytes, splitContainer, joinContainer, tf, withStreams } from './containers.js';
import { cli, isCleanRefusal, scratch } from './helpers.js';

let tmp: Awaited<ReturnType<typeof scratch>>;
let good: Uint8Array;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await scratch();
  good = await loadableBytes();
});
afterAll(() => tmp.done());

/** `run` must fail with a CodecError of `code` within `ms` milliseconds; returns its message. */
async function refused(run: () => unknown, code: string, ms = 2000): Promise<string> {
  const t = performance.now();
  const err = await Promise.resolve()
    .then(run)
    .then(
      () => undefined,
      (e: unknown) => e as Error,
    );
  expect(performance.now() - t, 'time to refuse').toBeLessThan(ms);
  expect(err, 'must be refused').toBeInstanceOf(CodecError);
  expect((err as CodecError).code, err!.message).toBe(code);
  expect(err!.message.split('\n')).toHaveLength(1);
  return err!.message;
}

const edited = (edit: (h: any) => void) => {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const { header, body } = splitContainer(good);
  edit(header);
  return joinContainer(header, body);
};
const layer = (h: any, name: string) => h.modelTopology.config.layers.find((l: any) => l.name === name); // eslint-disable-line @typescript-eslint/no-explicit-any

describe('27.3a the loader runs no initializer and checks every weight shape before TF.js allocates it', () => {
  it('loads a good container with its weights, keeping the original initializers for save()', async () => {
    const m = await loadCondenseModel(good);
    const x = tf.ones([1, 8, 8, 1]);
    expect((m.predict(x) as tf.Tensor).shape).toEqual([1, 3]);
    const saved = JSON.stringify(m.toJSON(null, false));
    expect(saved).not.toContain('CondenseStoredWeight');
    m.dispose();
  });

  it('refuses a huge layer with an orthogonal initializer in milliseconds, allocating nothing', async () => {
    const huge = edited((h) => {
      const fc1 = layer(h, 'fc1');
      fc1.config.units = 40_000;
      fc1.config.kernel_initializer = { class_name: 'Orthogonal', config: { gain: 1, seed: null } };
    });
    const rss = process.memoryUsage().rss;
    const tensors = tf.memory().numTensors;
    expect(await refused(() => loadCondenseModel(huge), 'NOT_LOADABLE', 1000)).toMatch(
      /param 'fc1\/kernel' has shape \[36,16\], weight 'fc1\/kernel' needs \[36,40000\]/,
    );
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});

describe('27.3b the stored topology is validated before TF.js sees it', () => {
  it('refuses a dangling inbound node, a layer without one, and a cycle, naming the layers', async () => {
    const dangling = edited((h) => void (layer(h, 'fc2').inbound_nodes = [[['nowhere', 0, 0, {}]]]));
    expect(await refused(() => loadCondenseModel(dangling), 'NOT_LOADABLE')).toMatch(
      /layer 'fc2' inbound_nodes\[0\]\[0\] names the layer 'nowhere', which the topology does not define/,
    );
    const cycle = edited((h) => void (layer(h, 'flat').inbound_nodes = [[['fc1', 0, 0, {}]]]));
    expect(await refused(() => loadCondenseModel(cycle), 'NOT_LOADABLE')).toMatch(/layer '(flat|fc1)' depends on itself/);
    // Found by the fuzz test: TF.js waited forever for a layer that has no inbound node.
    const orphan = edited((h) => void (layer(h, 'pool').inbound_nodes = []));
    expect(await refused(() => loadCondenseModel(orphan), 'NOT_LOADABLE')).toMatch(
      /layer 'pool' \(config\.layers\[2\]\) has 0 inbound nodes; only an InputLayer may have none/,
    );
    const badNode = edited((h) => void (layer(h, 'fc2').inbound_nodes = [[['fc1', 3, 0, {}]]]));
    expect(await refused(() => loadCondenseModel(badNode), 'NOT_LOADABLE')).toMatch(/names node 3 of layer 'fc1', which has 1/);
  });
});

describe('27.3c the IR graph and the stored topology are the same model', () => {
  it('decodeGraph (inspect, convert, compress) refuses a topology that differs from the graph, layer by layer', async () => {
    const other = edited((h) => void (layer(h, 'fc1').config.activation = 'linear'));
    // The loader would run it ...
    const m = await loadCondenseModel(other);
    m.dispose();
    // ... so everything that shows the graph refuses it.
    expect(await refused(() => decodeGraph(other, 'm.cdz', { exportTopology }), 'TOPOLOGY_MISMATCH')).toMatch(
      /^TOPOLOGY_MISMATCH: m\.cdz: .*layer 'fc1' \(config\.layers\[4\]\): config\.activation is "linear" in the stored topology, "relu" in the graph$/,
    );
    const file = join(tmp.dir, 'other.cdz');
    await writeFile(file, other);
    const r = await cli('inspect', file);
    expect(isCleanRefusal(r), r.err).toBe(true);
    expect(r.err).toMatch(/TOPOLOGY_MISMATCH/);
  });

  it('decodeGraph validates the graph: a quantization scale of 0, -1 or NaN is refused naming the param', async () => {
    for (const scale of [0, -1, NaN]) {
      const bad = withStreams(good, (_h, get, set) => {
        const b = get('fc2/kernel', 'quant').slice();
        new DataView(b.buffer).setFloat32(0, scale, true);
        set('fc2/kernel', 'quant', b);
      });
      expect(() => decodeContainer(bad)).not.toThrow();
      expect(await refused(() => decodeGraph(bad, 'm.cdz', { exportTopology }), 'BAD_GRAPH')).toMatch(
        /m\.cdz: param 'fc2\/kernel': quantization scale\[0\] = (0|-1|NaN) must be positive and finite/,
      );
    }
  });
});

describe('27.3d the header is bounded by its body, and its nesting', () => {
  it('refuses an 88 KB file declaring a 60 MB header, and deep nesting, quickly', async () => {
    const { header, body } = splitContainer(good);
    header.meta = { pad: 'x'.repeat(60e6) };
    const big = joinContainer(header, body);
    expect(big.length).toBeLessThan(120_000);
    expect(await refused(() => decodeContainer(big), 'SIZE_LIMIT', 500)).toMatch(/header declares \d+ bytes once inflated, more than the \d+ allowed/);
    const deep = edited((h) => void (h.meta = { deep: JSON.parse('['.repeat(200) + ']'.repeat(200)) }));
    expect(await refused(() => decodeContainer(deep), 'BAD_HEADER')).toMatch(/header is nested more than 64 levels deep \(at meta\.deep(\[0\])+\)/);
  });
});

describe('27.3e declared elements are bounded by a documented, configurable limit', () => {
  it(`refuses 2^28 elements declared through sparse fillers (default limit ${DEFAULT_MAX_ELEMENTS}); --max-elements sets it`, async () => {
    const many = withStreams(good, (h, _get, set) => {
      const p = h.params.find((x: { name: string }) => x.name === 'fc1/kernel');
      p.shape = [2 ** 14, 2 ** 14];
      const codes = Math.floor(2 ** 28 / (2 ** p.gapBits - 1));
      p.streams.gaps.n = codes;
      p.streams.values.n = 0;
      p.streams.gaps.huff = `${'0'.repeat(2 ** p.gapBits - 1)}1`;
      set('fc1/kernel', 'gaps', new Uint8Array(Math.ceil(codes / 8)));
      set('fc1/kernel', 'values', new Uint8Array(0));
      delete p.streams.values.huff;
    });
    expect(await refused(() => decodeContainer(many), 'SIZE_LIMIT', 200)).toMatch(/shape \[16384, 16384\] exceeds 67108864 elements/);
    const file = join(tmp.dir, 'many.cdz');
    await writeFile(file, good);
    expect((await cli('inspect', file, '--max-elements', '100')).err).toMatch(
      /SIZE_LIMIT: .*many\.cdz: param 'fc1\/kernel': shape \[36, 16\] exceeds 100 elements/,
    );
    expect((await cli('inspect', file, '--max-elements', 'lots')).code).toBe(2);
  });
});

describe('27.3f streams tile the body', () => {
  it('refuses overlapping streams and bytes no stream references', async () => {
    const { header, body } = splitContainer(good);
    const streams = header.params.flatMap((p: any) => Object.values(p.streams)) as { off: number; len: number }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    streams.sort((x, y) => x.off - y.off).at(-1)!.off -= 1;
    expect(await refused(() => decodeContainer(joinContainer(header, body)), 'OUT_OF_RANGE')).toMatch(/overlaps param/);
    const extra = splitContainer(good);
    extra.header.bodyBytes += 16;
    const padded = new Uint8Array(extra.body.length + 16);
    padded.set(extra.body);
    expect(await refused(() => decodeContainer(joinContainer(extra.header, padded)), 'OUT_OF_RANGE')).toMatch(/body bytes \[\d+, \d+\) belong to no stream/);
  });
});

describe('27.8 container errors name the file and field; a failed load leaks nothing', () => {
  it('strides: null in the graph and in the stored topology', async () => {
    const inGraph = edited((h) => void (h.nodes.find((n: { name: string }) => n.name === 'conv').attrs.strides = null));
    expect(await refused(() => decodeGraph(inGraph, 'm.cdz', { exportTopology }), 'BAD_GRAPH')).toMatch(/m\.cdz: .*conv.*strides must be positive integers/);
    const inTopology = edited((h) => void (layer(h, 'conv').config.strides = null));
    expect(await refused(() => loadCondenseModel(inTopology), 'NOT_LOADABLE')).toMatch(
      /layer 'conv' \(Conv2D\) config\.strides must be a positive integer or a list of 1 to 3 of them, got null/,
    );
  });

  it('failed loads leave no tensor behind and never have an empty message', async () => {
    const failures = [
      edited((h) => void (layer(h, 'fc2').config.units = 4)),
      edited((h) => void (layer(h, 'fc1').config.activation = 'no-such-activation')),
      edited((h) => void (layer(h, 'pool').class_name = 'NoSuchLayer')),
      edited((h) => void (h.params.find((p: { name: string }) => p.name === 'fc2/bias').weightName = 'other/bias')),
    ];
    const tensors = tf.memory().numTensors;
    for (const bytes of failures) {
      for (let i = 0; i < 3; i++) {
        const msg = await refused(() => loadCondenseModel(bytes), 'NOT_LOADABLE');
        expect(msg).toMatch(/^NOT_LOADABLE: container: \S/);
      }
    }
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
