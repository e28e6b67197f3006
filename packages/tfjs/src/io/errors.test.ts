import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder, registerOp } from '@condense/ir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromArtifacts, loadModel, ModelIOError, registerLayerMapping, toArtifacts } from './index.js';
import { artifactsOf, maxAbsDiff, predict, tempDir, tf, tfl, useCpu, writeModelFiles } from './test-helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let artifacts: tf.io.ModelArtifacts;
beforeAll(async () => {
  await useCpu();
  tmp = await tempDir();
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [300], units: 40, name: 'fc1' }));
  m.add(tfl.layers.dense({ units: 3, name: 'fc2' }));
  artifacts = await artifactsOf(m);
});
afterAll(() => tmp.done());

/** Write the good model, let `spoil` change the files, and return loadModel's error message. */
async function failure(name: string, spoil: (dir: string, json: Record<string, any>) => Promise<void> | void): Promise<string> {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const dir = join(tmp.dir, name);
  await writeModelFiles(dir, artifacts, 16 * 1024);
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  await spoil(dir, json);
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  const err = await loadModel(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelIOError);
  return (err as Error).message;
}

describe('import errors name the file, layer, weight or field', () => {
  it('unsupported layer: names the layer and its class', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.conv2d({ inputShape: [5, 5, 1], filters: 2, kernelSize: 3, name: 'c' }));
    m.add(tfl.layers.thresholdedReLU({ name: 'thr' }));
    const dir = join(tmp.dir, 'unsupported');
    await writeModelFiles(dir, await artifactsOf(m));
    await expect(loadModel(dir)).rejects.toThrow(
      /model\.json: layer 'thr' \(ThresholdedReLU\): the layer class is not supported\. Register it from your code with registerKerasLayer\(\{ className: 'ThresholdedReLU'/,
    );
  });

  it('missing shard: names the file path', async () => {
    const msg = await failure('missing-shard', (dir) => rm(join(dir, 'group1-shard2of3.bin')));
    expect(msg).toContain(join(tmp.dir, 'missing-shard', 'group1-shard2of3.bin'));
    expect(msg).toMatch(/does not exist/);
  });

  it('malformed model.json: names the file and the field', async () => {
    const dir = join(tmp.dir, 'bad-json');
    await writeModelFiles(dir, artifacts);
    await writeFile(join(dir, 'model.json'), '{"modelTopology": {');
    await expect(loadModel(join(dir, 'model.json'))).rejects.toThrow(new RegExp(`${join(dir, 'model.json')}: not valid JSON`));
    expect(await failure('no-topology', (_d, j) => void delete j.modelTopology)).toMatch(/model\.json: modelTopology is missing/);
    expect(await failure('bad-manifest', (_d, j) => void (j.weightsManifest = { paths: [] }))).toMatch(/model\.json: weightsManifest must be an array/);
    expect(await failure('no-class', (_d, j) => void delete j.modelTopology.config.layers[1].class_name)).toMatch(
      /modelTopology\.config\.layers\[1\]\.class_name is missing/,
    );
    expect(await failure('bad-shape', (_d, j) => void (j.weightsManifest[0].weights[0].shape = [300, 'x']))).toMatch(
      /weight 'fc1\/kernel' has an invalid shape/,
    );
    expect(await failure('graph-model', (_d, j) => void (j.format = 'graph-model'))).toMatch(
      /graph-model\/model\.json: format is 'graph-model' but modelTopology is not a GraphDef \(it has no node list\)/,
    );
    await expect(loadModel(join(tmp.dir, 'nowhere'))).rejects.toThrow(/nowhere: no such file or directory/);
  });

  it('shard sizes are compared with the manifest before anything is read, naming the shards and both sizes', async () => {
    // 300*40 + 40 + 40*3 + 3 floats = 48,652 bytes in shards of 16 KiB.
    const truncated = await failure('truncated', (dir) => truncate(join(dir, 'group1-shard3of3.bin'), 100));
    expect(truncated).toMatch(
      /model\.json: weightsManifest\[0\] needs 48652 bytes for its weights \(their shapes and dtypes\) but its shards hold 32868: group1-shard1of3\.bin 16384 bytes, group1-shard2of3\.bin 16384 bytes, group1-shard3of3\.bin 100 bytes/,
    );
    const reshaped = await failure('reshaped', (_d, j) => void (j.weightsManifest[0].weights[0].shape = [300, 39]));
    expect(reshaped).toMatch(/needs 47452 bytes .* but its shards hold 48652/);
    // A shape that keeps the byte count reaches the layers, which name the weight.
    const swapped = await failure('swapped', (_d, j) => void (j.weightsManifest[0].weights[0].shape = [40, 300]));
    expect(swapped).toMatch(/layer 'fc1' \(Dense\): weight 'fc1\/kernel' has shape \[40, 300\], the config implies \[\?, 40\]/);
  });

  it('artifacts in memory: same checks, and the artifacts are not modified', () => {
    const copy = new Uint8Array(artifacts.weightData as ArrayBuffer).slice();
    const graph = fromArtifacts(artifacts);
    graph.params.get('fc1/kernel')!.data.fill(7);
    expect(Buffer.compare(new Uint8Array(artifacts.weightData as ArrayBuffer), copy)).toBe(0);
    expect(() => fromArtifacts({ ...artifacts, weightData: (artifacts.weightData as ArrayBuffer).slice(4) })).toThrow(
      /model artifacts: weight 'fc2\/bias' .* needs bytes/,
    );
    expect(() => fromArtifacts({ ...artifacts, modelTopology: new ArrayBuffer(8) })).toThrow(/modelTopology must be a JSON object/);
  });
});

describe('plugin ops and registerLayerMapping', () => {
  registerOp({ op: 'testScale', arity: 1, inferShape: (ctx) => ctx.inputs[0], channels: { kind: 'elementwise' } });

  it('export of an op without a Keras mapping fails naming the node and op', () => {
    const b = new GraphBuilder('plugin', [4]).dense(3, { name: 'fc' });
    b.add('testScale', ['fc'], { factor: 2.5 }, {}, 'scale');
    expect(() => toArtifacts(b.build())).toThrow(/node 'scale' \(op 'testScale'\): no Keras layer is known for this op; .*registerLayerMapping\('testScale'/);
  });

  it('a registered mapping exports (stock tfjs loads it) and imports', async () => {
    registerLayerMapping('testScale', {
      kerasClass: 'Rescaling',
      fromKeras: (l, ctx) => void ctx.addNode({ name: l.name, op: 'testScale', inputs: ctx.inputs, attrs: { factor: l.config.scale } }),
      toKeras: (node, ctx) => ({ className: 'Rescaling', name: ctx.name, config: { scale: node.attrs.factor as number, offset: 0 }, inputs: ctx.inputs }),
    });
    const b = new GraphBuilder('plugin', [4]).dense(3, { name: 'fc' });
    b.add('testScale', ['fc'], { factor: 2.5 }, {}, 'scale');
    const g = b.build();
    const { artifacts: a } = toArtifacts(g);
    const model = await tfl.loadLayersModel(tf.io.fromMemory(a));
    expect(model.layers.map((l) => l.getClassName())).toEqual(['InputLayer', 'Dense', 'Rescaling']);
    const back = fromArtifacts(a);
    expect(back.nodes.map((n) => [n.op, n.attrs])).toEqual([
      ['input', { shape: [4] }],
      ['dense', {}],
      ['testScale', { factor: 2.5 }],
    ]);
    // Predictions: 2.5 * dense(x).
    const plain = tfl.sequential();
    plain.add(tfl.layers.dense({ inputShape: [4], units: 3 }));
    plain.setWeights([tf.tensor(g.params.get('fc/kernel')!.data, [4, 3]), tf.tensor(g.params.get('fc/bias')!.data)]);
    const x = tf.randomUniform([2, 4], -1, 1, 'float32', 3);
    const want = predict(plain, x).map((v) => v * 2.5);
    expect(maxAbsDiff(predict(model, x), want)).toBeLessThan(1e-5);
  });
});
