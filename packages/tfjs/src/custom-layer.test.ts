/**
 * A custom TF.js layer class (registered with tf.serialization) that condense does not know: the
 * import error says how to teach it; registerKerasLayer does, and the layer then imports, runs,
 * trains (gradients through its TF.js kernel) and exports back to a file stock TF.js loads.
 */
import { lastDim, type Param } from '@condense/ir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, loadModel, ModelIOError, registerKerasLayer, saveModel } from './index.js';
import { artifactsOf, loadStock, maxAbsDiff, predict, randomInput, tempDir, tf, tfl, useCpu, writeModelFiles } from './io/test-helpers.js';

/** y = tanh(x) * scale, one trainable scale per channel. */
class ScaledTanh extends tfl.layers.Layer {
  static className = 'ScaledTanh';
  private scale?: tfl.LayerVariable;
  override build(shape: tfl.Shape | tfl.Shape[]): void {
    const c = (shape as tfl.Shape).at(-1) as number;
    this.scale = this.addWeight('scale', [c], 'float32', tfl.initializers.randomUniform({ minval: 0.5, maxval: 2, seed: 3 }));
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.mul(tf.tanh(Array.isArray(inputs) ? inputs[0] : inputs), this.scale!.read()));
  }
}
tf.serialization.registerClass(ScaledTanh);

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  await useCpu();
  tmp = await tempDir();
});
afterAll(() => tmp.done());

async function customModel(dir: string): Promise<tfl.LayersModel> {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [4], units: 3 }));
  m.add(new ScaledTanh({ name: 'squash' }));
  m.add(tfl.layers.dense({ units: 2 }));
  await writeModelFiles(dir, await artifactsOf(m));
  return m;
}

describe('a custom layer class', () => {
  it('unknown: the error names the file, the layer and its class, and how to register it', async () => {
    const dir = `${tmp.dir}/unknown`;
    await customModel(dir);
    const err = await loadModel(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelIOError);
    expect((err as Error).message).toMatch(
      /unknown\/model\.json: layer 'squash' \(ScaledTanh\): the layer class is not supported\. Register it from your code with registerKerasLayer\(\{ className: 'ScaledTanh', op, kernel, fromKeras, toKeras \}\)/,
    );
  });

  it('registered: imports, runs and trains through its kernel, and exports to stock TF.js', async () => {
    registerKerasLayer({
      className: 'ScaledTanh',
      op: {
        op: 'scaledTanh',
        arity: 1,
        params: { scale: { kind: 'other', shape: (ctx) => [lastDim(ctx, ctx.inputs[0])] } },
        inferShape: (ctx) => ctx.inputs[0],
        channels: { kind: 'elementwise', params: [{ role: 'scale', axis: 0 }] },
        reference: ([x], ctx) => {
          const s = (ctx.param('scale') as Param).data;
          return { shape: x.shape, data: x.data.map((v, i) => Math.tanh(v) * s[i % s.length]) };
        },
      },
      kernel: (_node, [x], p) => tf.mul(tf.tanh(x), p.scale),
    });
    const dir = `${tmp.dir}/custom`;
    const m = await customModel(dir);
    const graph = await loadModel(dir);
    expect(graph.nodes.map((n) => n.op)).toEqual(['input', 'dense', 'scaledTanh', 'dense']);
    const x = randomInput(m);
    const model = compile(graph);
    const r = model.predict(x);
    expect(maxAbsDiff(r.output.dataSync(), predict(m, x))).toBeLessThan(1e-6);
    // Its param trains: a gradient reaches it through the registered kernel.
    const scale = model.variables.get(graph.nodes[2].params.scale)!;
    const { grads } = tf.variableGrads(() => tf.sum(model.predict(x, { training: true }).output) as tf.Scalar, [scale]);
    expect(Math.max(...Array.from(grads[scale.name].dataSync(), Math.abs))).toBeGreaterThan(1e-3);
    tf.dispose([r.output, ...r.outputs, ...Object.values(grads)]);
    model.dispose();

    const out = `${tmp.dir}/custom-out`;
    await saveModel(graph, out);
    const stock = await loadStock(out);
    expect(stock.layers.map((l) => l.getClassName())).toEqual(['Dense', 'ScaledTanh', 'Dense']);
    expect(maxAbsDiff(predict(stock, x), predict(m, x))).toBe(0);
    stock.dispose();
    x.dispose();
  });
});
