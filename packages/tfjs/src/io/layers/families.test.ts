/**
 * The Keras-application layer families through the bridge: a tfjs-layers model with the layer is
 * imported (and computes what tfjs-layers computes), exported, and the export loads in stock
 * tf.loadLayersModel and computes the same. Layers tfjs-layers lacks (Subtract, grouped convs,
 * Keras 3's hard swish) are built in the IR and checked against the IR's own execution.
 */
import { cloneGraph, GraphBuilder, groupOf, removeChannels, type Graph } from '@condense/ir';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../exec/index.js';
import { fromArtifacts } from '../import.js';
import { toArtifacts } from '../export.js';
import { relativeError } from '../../testing/index.js';
import { artifactsOf, randomizeWeights, tf, tfl, useCpu } from '../test-helpers.js';

beforeAll(useCpu);

type Sym = tfl.SymbolicTensor;
const apply = (l: tfl.layers.Layer, x: Sym | Sym[]) => l.apply(x) as Sym;

function ours(graph: Graph, x: tf.Tensor): Float32Array {
  const model = compile(graph);
  try {
    const r = model.predict(x);
    const out = r.output.dataSync() as Float32Array;
    tf.dispose([...r.outputs, r.logits]);
    return out;
  } finally {
    model.dispose();
  }
}

const stockPredict = (m: tfl.LayersModel, x: tf.Tensor) => tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync() as Float32Array);
const loadStock = (a: tf.io.ModelArtifacts) => tfl.loadLayersModel({ load: async () => a });

/** Seeded input of a shape: uniform in [-2, 2), or ids in [0, vocab) with trailing zeros (padding) when `vocab`. */
function inputOf(shape: number[], vocab?: number): tf.Tensor {
  if (!vocab) return tf.randomUniform(shape, -2, 2, 'float32', 3);
  const [n, t] = shape;
  const ids = Int32Array.from({ length: n * t }, (_, i) => (i % t >= t - (i % 3) ? 0 : 1 + ((i * 7) % (vocab - 1))));
  return tf.tensor(ids, shape, 'int32');
}

/**
 * tfjs model -> IR (its outputs agree with tfjs within 1e-5) -> export -> stock tfjs (agrees with
 * the original within 1e-5). Returns the graph and the exported layer classes.
 */
async function roundTrip(model: tfl.LayersModel, vocab?: number): Promise<{ graph: Graph; classes: string[]; notes: string[] }> {
  randomizeWeights(model);
  const graph = fromArtifacts(await artifactsOf(model));
  const x = inputOf([3, ...(model.inputs[0].shape.slice(1) as number[])], vocab);
  const want = stockPredict(model, x);
  expect(relativeError(ours(graph, x), want), 'condense vs tfjs').toBeLessThan(1e-5);
  const { artifacts, notes } = toArtifacts(graph);
  const back = await loadStock(artifacts);
  expect(relativeError(stockPredict(back, x), want), 'the export under stock tfjs').toBeLessThan(1e-5);
  back.dispose();
  x.dispose();
  const layers = (artifacts.modelTopology as { config: { layers: { class_name: string }[] } }).config.layers;
  return { graph, classes: layers.map((l) => l.class_name), notes };
}

const ops = (g: Graph) => g.nodes.map((n) => n.op);

describe('convolutional', () => {
  it('Conv1D (dilated, strided, fused gelu), 1-D pooling, global 1-D pooling, LayerNormalization', async () => {
    const inp = tfl.input({ shape: [24, 2] });
    let x = apply(tfl.layers.conv1d({ filters: 4, kernelSize: 5, dilationRate: 2, padding: 'same', activation: 'gelu' }), inp);
    x = apply(tfl.layers.batchNormalization(), x);
    x = apply(tfl.layers.maxPooling1d({ poolSize: 2 }), x);
    x = apply(tfl.layers.conv1d({ filters: 6, kernelSize: 3, strides: 2, activation: 'relu' }), x);
    x = apply(tfl.layers.averagePooling1d({ poolSize: 2, padding: 'same' }), x);
    x = apply(tfl.layers.layerNormalization({ epsilon: 1e-3 }), x);
    const a = apply(tfl.layers.globalAveragePooling1d(), x);
    const m = apply(tfl.layers.globalMaxPooling1d(), x);
    const out = apply(tfl.layers.dense({ units: 3 }), apply(tfl.layers.concatenate(), [a, m]));
    const { graph } = await roundTrip(tfl.model({ inputs: inp, outputs: out }));
    expect(ops(graph)).toEqual([
      'input',
      'conv1d',
      'batchNorm',
      'maxPool1d',
      'conv1d',
      'avgPool1d',
      'layerNorm',
      'globalAvgPool1d',
      'globalMaxPool1d',
      'concat',
      'dense',
    ]);
    expect(graph.nodes[1].attrs).toEqual({ padding: 'same', dilation: 2, activation: 'gelu' });
  });

  it('Conv2DTranspose, UpSampling2D, Cropping2D, DepthwiseConv2D with depth_multiplier 3', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.conv2dTranspose({ inputShape: [4, 4, 3], filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }));
    m.add(tfl.layers.conv2dTranspose({ filters: 2, kernelSize: [3, 2], strides: [1, 2] }));
    m.add(tfl.layers.upSampling2d({ size: [2, 1] }));
    m.add(
      tfl.layers.cropping2D({
        cropping: [
          [1, 2],
          [0, 3],
        ],
      }),
    );
    m.add(tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 3, padding: 'same' }));
    m.add(tfl.layers.globalMaxPooling2d({}));
    const { graph, classes } = await roundTrip(m);
    expect(ops(graph).slice(1)).toEqual(['conv2dTranspose', 'conv2dTranspose', 'upSampling2d', 'cropping2d', 'depthwiseConv2d', 'globalMaxPool2d']);
    expect(classes).toEqual(['Conv2DTranspose', 'Conv2DTranspose', 'UpSampling2D', 'Cropping2D', 'DepthwiseConv2D', 'GlobalMaxPooling2D']);
  });

  it('a grouped conv: a DepthwiseConv2D when each group reads one channel, else a conv with a block-diagonal kernel', async () => {
    const b = new GraphBuilder('g', [5, 5, 4], 2);
    b.add('conv2d', ['input'], { groups: 4, padding: 'same' }, { kernel: [[3, 3, 1, 8], Float32Array.from({ length: 72 }, (_, i) => Math.sin(i))] }, 'dw');
    b.add(
      'conv2d',
      ['dw'],
      { groups: 2, activation: 'relu' },
      { kernel: [[3, 3, 4, 6], Float32Array.from({ length: 216 }, (_, i) => Math.cos(i))], bias: [[6], Float32Array.of(1, 2, 3, -1, -2, -3)] },
      'grouped',
    );
    const g = b.globalAvgPool2d().build();
    const x = tf.randomUniform([2, 5, 5, 4], -1, 1, 'float32', 5);
    const { artifacts, notes } = toArtifacts(g);
    const layers = (artifacts.modelTopology as { config: { layers: { class_name: string }[] } }).config.layers.map((l) => l.class_name);
    expect(layers).toEqual(['InputLayer', 'DepthwiseConv2D', 'Conv2D', 'GlobalAveragePooling2D']);
    expect(notes).toEqual([
      "node 'grouped': a conv with 2 groups has no tfjs-layers form; written as one whose kernel is zero outside the groups (2x the kernel weights)",
    ]);
    const stock = await loadStock(artifacts);
    expect(relativeError(stockPredict(stock, x), ours(g, x))).toBeLessThan(1e-5);
    // Re-imported, the block-diagonal kernel computes the same as the grouped one.
    expect(relativeError(ours(fromArtifacts(artifacts), x), ours(g, x))).toBeLessThan(1e-5);
    stock.dispose();
    x.dispose();
  });

  it('a dilated DepthwiseConv2D (whose dilation_rate tfjs-layers ignores) is written with its kernel spread out', async () => {
    const b = new GraphBuilder('d', [7, 6, 2], 4);
    b.depthwiseConv2d(3, { name: 'dw', dilation: [2, 1], depthMultiplier: 2, padding: 'same' });
    const g = b.build();
    const { artifacts, notes } = toArtifacts(g);
    expect(notes).toEqual([
      "node 'dw': tfjs-layers' DepthwiseConv2D ignores dilation_rate; written with the 2x1-dilated kernel spread out (5x3, zeros between the taps)",
    ]);
    const x = tf.randomUniform([2, 7, 6, 2], -1, 1, 'float32', 6);
    const stock = await loadStock(artifacts);
    expect(relativeError(stockPredict(stock, x), ours(g, x))).toBeLessThan(1e-6);
    stock.dispose();
    x.dispose();
  });

  it('a causal Conv1D imports and runs, and says why it cannot be written for TF.js', () => {
    const b = new GraphBuilder('c', [6, 2]);
    b.add('conv1d', ['input'], { padding: 'causal', dilation: 2 }, { kernel: [[3, 2, 2]] }, 'causal');
    expect(() => toArtifacts(b.build())).toThrow(/node 'causal' \(op 'conv1d'\): padding 'causal' has no tfjs-layers form/);
  });
});

describe('merge and normalization', () => {
  it('a squeeze-and-excitation block: Multiply with a broadcast gate; Average, Maximum, Minimum; Rescaling; PReLU; Permute', async () => {
    const inp = tfl.input({ shape: [6, 6, 4] });
    let x = apply(tfl.layers.rescaling({ scale: 1 / 127.5, offset: -1 }), inp);
    x = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }), x);
    x = apply(tfl.layers.prelu({ sharedAxes: [1, 2] }), x);
    let gate = apply(tfl.layers.globalAveragePooling2d({}), x);
    gate = apply(tfl.layers.reshape({ targetShape: [1, 1, 8] }), gate);
    gate = apply(tfl.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu' }), gate);
    gate = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'sigmoid' }), gate);
    const se = apply(tfl.layers.multiply(), [x, gate]);
    const y = apply(tfl.layers.conv2d({ filters: 8, kernelSize: 1 }), se);
    const merged = apply(tfl.layers.maximum(), [apply(tfl.layers.average(), [se, y]), apply(tfl.layers.minimum(), [se, y])]);
    const p = apply(tfl.layers.prelu({}), apply(tfl.layers.permute({ dims: [2, 1, 3] }), merged));
    const out = apply(tfl.layers.dense({ units: 3 }), apply(tfl.layers.flatten(), p));
    const { graph } = await roundTrip(tfl.model({ inputs: inp, outputs: out }));
    expect(ops(graph)).toContain('multiply');
    expect(graph.nodes.find((n) => n.op === 'rescaling')?.attrs).toEqual({ scale: 1 / 127.5, offset: -1 });
    expect(ops(graph).filter((o) => ['average', 'maximum', 'minimum', 'prelu', 'permute'].includes(o))).toEqual([
      'prelu',
      'average',
      'minimum',
      'maximum',
      'permute',
      'prelu',
    ]);
  });

  it('Subtract (no tfjs-layers class) is written as Add(a, Rescaling(-1)(b)); Keras 3 hard swish as the layers computing it', async () => {
    const b = new GraphBuilder('s', [5]);
    b.dense(4, { name: 'a' }, 'input');
    b.dense(4, { name: 'b', activation: 'hardSwish' }, 'input');
    b.add('subtract', ['a', 'b'], {}, {}, 'diff');
    b.activation('hardSigmoid6', { name: 'gate' });
    const g = b.build();
    const x = tf.randomUniform([3, 5], -4, 4, 'float32', 8);
    const { artifacts } = toArtifacts(g);
    const stock = await loadStock(artifacts);
    expect(relativeError(stockPredict(stock, x), ours(g, x))).toBeLessThan(1e-6);
    stock.dispose();
    x.dispose();
  });
});

describe('sequences', () => {
  it('Embedding with mask_zero -> Bidirectional LSTM (return_sequences) -> GRU and SimpleRNN; padded ids are skipped', async () => {
    const inp = tfl.input({ shape: [7], dtype: 'int32' });
    const e = apply(tfl.layers.embedding({ inputDim: 12, outputDim: 5, maskZero: true }), inp);
    const bi = apply(
      tfl.layers.bidirectional({ layer: tfl.layers.lstm({ units: 3, returnSequences: true, recurrentActivation: 'sigmoid' }) as tfl.RNN, name: 'bi' }),
      e,
    );
    const g = apply(tfl.layers.gru({ units: 4 }), bi);
    const r = apply(tfl.layers.simpleRNN({ units: 2, goBackwards: true }), bi);
    const out = apply(tfl.layers.dense({ units: 3, activation: 'softmax' }), apply(tfl.layers.concatenate(), [g, r]));
    const { graph, classes } = await roundTrip(tfl.model({ inputs: inp, outputs: out }), 12);
    expect(ops(graph)).toEqual(['input', 'notEqual', 'embedding', 'lstm', 'lstm', 'concat', 'gru', 'simpleRnn', 'concat', 'dense']);
    const bwd = graph.nodes.find((n) => n.name === 'bi/backward')!;
    expect(bwd.attrs).toEqual({ goBackwards: true, alignOutputs: true, returnSequences: true });
    expect(bwd.inputs).toEqual([graph.nodes[2].name, graph.nodes[1].name]); // the sequence and the mask
    expect(graph.nodes.find((n) => n.op === 'gru')!.attrs).toMatchObject({ recurrentActivation: 'hardSigmoid' }); // tfjs-layers' default
    expect(classes).toEqual(['InputLayer', 'Embedding', 'Bidirectional', 'GRU', 'SimpleRNN', 'Concatenate', 'Dense']);
    // Control: without their masks the recurrent layers read the padding, and the outputs change.
    const x = inputOf([3, 7], 12);
    const unmasked = cloneGraph(graph);
    for (const n of unmasked.nodes) if (['lstm', 'gru', 'simpleRnn'].includes(n.op)) n.inputs = n.inputs.slice(0, 1);
    expect(relativeError(ours(unmasked, x), ours(graph, x))).toBeGreaterThan(1e-3);
    x.dispose();
  });

  it('a Bidirectional whose directions no longer match (uneven pruning) says why it cannot be written', async () => {
    const inp = tfl.input({ shape: [4, 3] });
    const bi = apply(
      tfl.layers.bidirectional({ layer: tfl.layers.gru({ units: 3, returnSequences: true, recurrentInitializer: 'glorotUniform' }) as tfl.RNN, name: 'bi' }),
      inp,
    );
    const out = apply(tfl.layers.dense({ units: 2 }), bi);
    const graph = fromArtifacts(await artifactsOf(tfl.model({ inputs: inp, outputs: out })));
    removeChannels(graph, groupOf(graph, 'bi/forward'), [0, 2]);
    expect(() => toArtifacts(graph)).toThrow(
      /node 'bi\/backward' \(op 'gru'\): a backward layer with aligned outputs is written only inside its Bidirectional/,
    );
  });

  it('RepeatVector, a Bidirectional with merge_mode ave, an LSTM without bias', async () => {
    const inp = tfl.input({ shape: [4] });
    let x = apply(tfl.layers.repeatVector({ n: 5 }), apply(tfl.layers.dense({ units: 3 }), inp));
    x = apply(tfl.layers.bidirectional({ layer: tfl.layers.simpleRNN({ units: 2, returnSequences: true }) as tfl.RNN, mergeMode: 'ave' }), x);
    const out = apply(tfl.layers.lstm({ units: 2, useBias: false, recurrentInitializer: 'glorotUniform' }), x);
    const { graph } = await roundTrip(tfl.model({ inputs: inp, outputs: out }));
    expect(ops(graph)).toEqual(['input', 'dense', 'repeatVector', 'simpleRnn', 'simpleRnn', 'average', 'lstm']);
  });
});
