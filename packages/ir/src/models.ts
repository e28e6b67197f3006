import { GraphBuilder } from './builder.js';
import type { Graph } from './types.js';

/** The reference models of the papers condense reproduces, for 28x28x1 inputs and 10 classes. */

/** LeNet-300-100 (Han et al. 2015): 266,610 params, 266,200 MACs. */
export function lenet300100(seed = 1): Graph {
  return new GraphBuilder('lenet-300-100', [28, 28, 1], seed)
    .flatten({ name: 'flatten' })
    .dense(300, { name: 'fc1', activation: 'relu' })
    .dense(100, { name: 'fc2', activation: 'relu' })
    .dense(10, { name: 'fc3', activation: 'softmax' })
    .build();
}

/** LeNet-5, Caffe variant (conv 20@5x5, pool, conv 50@5x5, pool, dense 500, dense 10): 431,080 params, 2,293,000 MACs. */
export function lenet5(seed = 1): Graph {
  return new GraphBuilder('lenet-5', [28, 28, 1], seed)
    .conv2d(20, 5, { name: 'conv1' })
    .maxPool2d(2, { name: 'pool1' })
    .conv2d(50, 5, { name: 'conv2' })
    .maxPool2d(2, { name: 'pool2' })
    .flatten({ name: 'flatten' })
    .dense(500, { name: 'fc1', activation: 'relu' })
    .dense(10, { name: 'fc2', activation: 'softmax' })
    .build();
}

/** The small VGG-style CNN of the SSS and ThiNet benchmarks: conv 32, 32, pool, conv 64, 64, pool, dense 256, dense 10. */
export function vggSmall(seed = 1, o: { batchNorm?: boolean } = {}): Graph {
  const b = new GraphBuilder('vgg-small', [28, 28, 1], seed);
  const conv = (filters: number, name: string) => {
    if (o.batchNorm)
      b.conv2d(filters, 3, { name, padding: 'same', bias: false })
        .batchNorm({ name: `${name}_bn` })
        .activation('relu', { name: `${name}_relu` });
    else b.conv2d(filters, 3, { name, padding: 'same', activation: 'relu' });
  };
  conv(32, 'conv1');
  conv(32, 'conv2');
  b.maxPool2d(2, { name: 'pool1' });
  conv(64, 'conv3');
  conv(64, 'conv4');
  b.maxPool2d(2, { name: 'pool2' });
  return b.flatten({ name: 'flatten' }).dense(256, { name: 'fc1', activation: 'relu' }).dense(10, { name: 'fc2', activation: 'softmax' }).build();
}

/** Options of `resnet20`. */
export interface ResNet20Options {
  /** Input [height, width, channels]; default [28, 28, 1] (Fashion-MNIST). */
  inputShape?: [number, number, number];
  /** Default 10. */
  classes?: number;
}

/**
 * ResNet-20 (He et al. 2016, the CIFAR network: 3 stages x 3 basic blocks of 16, 32, 64 channels,
 * BN after every conv, residual adds, global average pooling, dense softmax).
 * Shortcuts: identity inside a stage, a 1x1 stride-2 conv + BN projection where the stage
 * changes width (option B, as the Keras `resnet_v1` example). Option A (stride-2 subsampling plus
 * zero channels) would tie each stage's residual channels to the next stage's and needs a channel
 * pad that no stock Keras layer has; with projections every stage's residual stream is one channel
 * group (its convs, BNs and the adds) and every block's inner conv is a group of its own, all
 * prunable, and the model exports as plain Conv2D/BatchNormalization/Add layers.
 * 28x28x1: 273,754 params, 31.0M MACs.
 */
export function resnet20(seed = 1, o: ResNet20Options = {}): Graph {
  const b = new GraphBuilder('resnet-20', o.inputShape ?? [28, 28, 1], seed);
  convBn(b, 16, 3, 1, 'stem', 'relu');
  let width = 16;
  [16, 32, 64].forEach((filters, stage) => {
    for (let block = 0; block < 3; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const name = `s${stage + 1}b${block + 1}`;
      const input = b.current;
      convBn(b, filters, 3, stride, `${name}_conv1`, 'relu', input);
      convBn(b, filters, 3, 1, `${name}_conv2`);
      const main = b.current;
      const shortcut = stride !== 1 || width !== filters ? convBn(b, filters, 1, stride, `${name}_proj`, undefined, input) : input;
      b.addValues([main, shortcut], { name: `${name}_add` }).activation('relu', { name: `${name}_relu` });
      width = filters;
    }
  });
  return b
    .globalAvgPool2d({ name: 'pool' })
    .dense(o.classes ?? 10, { name: 'fc', activation: 'softmax' })
    .build();
}

/** Options of `mobilenetV2Small`. */
export interface MobileNetV2SmallOptions {
  /** Width multiplier alpha on every layer's channels (rounded to multiples of 8, as Keras does); default 0.5. */
  width?: number;
  /** Input [height, width, channels]; default [28, 28, 1] (Fashion-MNIST). */
  inputShape?: [number, number, number];
  /** Default 10. */
  classes?: number;
}

/**
 * The inverted-residual stages of MobileNetV2 (Sandler et al. 2018, Table 2) as
 * [expansion t, channels c, repeats n, stride s] for ImageNet inputs.
 */
const MOBILENET_V2_STAGES: [t: number, c: number, n: number, s: number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** Keras's `_make_divisible`: the nearest multiple of 8, never more than 10% below `v`. */
export function makeDivisible(v: number, divisor = 8): number {
  const r = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return r < 0.9 * v ? r + divisor : r;
}

/**
 * MobileNetV2 (Sandler et al. 2018) for small inputs: stem conv 3x3, 17 inverted residual blocks
 * (1x1 expansion conv + BN + relu6, 3x3 depthwise conv + BN + relu6, 1x1 linear projection + BN,
 * a residual add when stride 1 and the width is unchanged), a 1x1 conv to 1280 channels (1280 for
 * width <= 1, as Keras), global average pooling, dense softmax. Layer names follow Keras's
 * `block_<i>_expand / _depthwise / _project`.
 * For small inputs the stem and the 24-channel stage keep stride 1 (as CIFAR ports do), so 28x28
 * goes 28 -> 14 -> 7 -> 4 instead of vanishing after ImageNet's five halvings.
 * Width 0.5 on 28x28x1: 718,746 params, 23.1M MACs (width 1: 2,270,218 params, 72.9M MACs).
 */
export function mobilenetV2Small(seed = 1, o: MobileNetV2SmallOptions = {}): Graph {
  const alpha = o.width ?? 0.5;
  if (!(alpha > 0)) throw new Error(`mobilenetV2Small: width must be a positive number, got ${o.width}`);
  const b = new GraphBuilder(`mobilenet-v2-${alpha}`, o.inputShape ?? [28, 28, 1], seed);
  convBn(b, makeDivisible(32 * alpha), 3, 1, 'stem', 'relu6');
  let width = makeDivisible(32 * alpha);
  let block = 0;
  for (const [t, c, n, s] of MOBILENET_V2_STAGES) {
    const out = makeDivisible(c * alpha);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 && c !== 24 ? s : 1;
      const name = `block_${block++}`;
      const input = b.current;
      if (t !== 1) convBn(b, width * t, 1, 1, `${name}_expand`, 'relu6');
      b.depthwiseConv2d(3, { name: `${name}_depthwise`, strides: stride, padding: 'same', bias: false });
      b.batchNorm({ name: `${name}_depthwise_bn` }).activation('relu6', { name: `${name}_depthwise_relu` });
      convBn(b, out, 1, 1, `${name}_project`);
      if (stride === 1 && width === out) b.addValues([input, b.current], { name: `${name}_add` });
      width = out;
    }
  }
  convBn(b, alpha > 1 ? makeDivisible(1280 * alpha) : 1280, 1, 1, 'head', 'relu6');
  return b
    .globalAvgPool2d({ name: 'pool' })
    .dense(o.classes ?? 10, { name: 'fc', activation: 'softmax' })
    .build();
}

/** conv (no bias) + BN (+ activation) named `name`, `name_bn`, `name_<fn>`; returns the last value. */
function convBn(b: GraphBuilder, filters: number, kernel: number, strides: number, name: string, fn?: 'relu' | 'relu6', from = b.current): string {
  b.conv2d(filters, kernel, { name, strides, padding: 'same', bias: false }, from).batchNorm({ name: `${name}_bn` });
  if (fn) b.activation(fn, { name: `${name}_${fn}` });
  return b.current;
}

/**
 * MobileNetV2 (Sandler et al. 2018) as keras.applications builds it: the same layers, names and
 * padding (a 'valid' depthwise conv after ZeroPadding2D at stride 2), width multiplier `alpha`.
 * At 224x224, alpha 1 and 1000 classes: 3,538,984 params, 300.8M MACs (conv, depthwise and dense).
 */
export function mobilenetV2(o: { alpha?: number; inputSize?: number; classes?: number; seed?: number } = {}): Graph {
  const { alpha = 1, inputSize = 224, classes = 1000, seed = 1 } = o;
  const b = new GraphBuilder('mobilenetv2', [inputSize, inputSize, 3], seed);
  let size = Math.ceil(inputSize / 2);
  let channels = makeDivisible(32 * alpha);
  const bnRelu = (name: string) => b.batchNorm({ name: `${name}_BN` }).activation('relu6', { name: `${name}_relu` });
  b.conv2d(channels, 3, { name: 'Conv1', strides: 2, padding: 'same', bias: false })
    .batchNorm({ name: 'bn_Conv1' })
    .activation('relu6', { name: 'Conv1_relu' });
  const inverted = (filters: number, stride: number, expansion: number, id: number) => {
    const input = b.current;
    const out = makeDivisible(Math.trunc(filters * alpha));
    const prefix = id ? `block_${id}_` : 'expanded_conv_';
    if (id) {
      b.conv2d(expansion * channels, 1, { name: `${prefix}expand`, bias: false });
      bnRelu(`${prefix}expand`);
    }
    if (stride === 2) {
      // Keras' correct_pad for an even input: one row and column after.
      b.zeroPad2d(
        size % 2 === 0
          ? [
              [0, 1],
              [0, 1],
            ]
          : [
              [1, 1],
              [1, 1],
            ],
        { name: `${prefix}pad` },
      );
      size = Math.ceil(size / 2);
    }
    b.depthwiseConv2d(3, { name: `${prefix}depthwise`, strides: stride, padding: stride === 1 ? 'same' : 'valid', bias: false });
    bnRelu(`${prefix}depthwise`);
    b.conv2d(out, 1, { name: `${prefix}project`, bias: false }).batchNorm({ name: `${prefix}project_BN` });
    if (channels === out && stride === 1) b.addValues([input, b.current], { name: `${prefix}add` });
    channels = out;
  };
  let id = 0;
  for (const [expansion, filters, repeats, stride] of MOBILENET_V2_STAGES) {
    for (let r = 0; r < repeats; r++) inverted(filters, r === 0 ? stride : 1, expansion, id++);
  }
  b.conv2d(alpha > 1 ? makeDivisible(1280 * alpha) : 1280, 1, { name: 'Conv_1', bias: false })
    .batchNorm({ name: 'Conv_1_bn' })
    .activation('relu6', { name: 'out_relu' });
  return b.globalAvgPool2d({ name: 'global_average_pooling2d' }).dense(classes, { name: 'predictions', activation: 'softmax' }).build();
}
