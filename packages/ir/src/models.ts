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
    if (o.batchNorm) b.conv2d(filters, 3, { name, padding: 'same', bias: false }).batchNorm({ name: `${name}_bn` }).activation('relu', { name: `${name}_relu` });
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

/** Keras' _make_divisible: round to the nearest multiple of `divisor`, never below 90% of `v`. */
function makeDivisible(v: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor(v + divisor / 2) - (Math.floor(v + divisor / 2) % divisor));
  return rounded < 0.9 * v ? rounded + divisor : rounded;
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
  b.conv2d(channels, 3, { name: 'Conv1', strides: 2, padding: 'same', bias: false }).batchNorm({ name: 'bn_Conv1' }).activation('relu6', { name: 'Conv1_relu' });
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
      b.zeroPad2d(size % 2 === 0 ? [[0, 1], [0, 1]] : [[1, 1], [1, 1]], { name: `${prefix}pad` });
      size = Math.ceil(size / 2);
    }
    b.depthwiseConv2d(3, { name: `${prefix}depthwise`, strides: stride, padding: stride === 1 ? 'same' : 'valid', bias: false });
    bnRelu(`${prefix}depthwise`);
    b.conv2d(out, 1, { name: `${prefix}project`, bias: false }).batchNorm({ name: `${prefix}project_BN` });
    if (channels === out && stride === 1) b.addValues([input, b.current], { name: `${prefix}add` });
    channels = out;
  };
  const stages: [filters: number, stride: number, expansion: number, repeats: number][] = [
    [16, 1, 1, 1], [24, 2, 6, 2], [32, 2, 6, 3], [64, 2, 6, 4], [96, 1, 6, 3], [160, 2, 6, 3], [320, 1, 6, 1],
  ];
  let id = 0;
  for (const [filters, stride, expansion, repeats] of stages) {
    for (let r = 0; r < repeats; r++) inverted(filters, r === 0 ? stride : 1, expansion, id++);
  }
  b.conv2d(alpha > 1 ? makeDivisible(1280 * alpha) : 1280, 1, { name: 'Conv_1', bias: false }).batchNorm({ name: 'Conv_1_bn' }).activation('relu6', { name: 'out_relu' });
  return b.globalAvgPool2d({ name: 'global_average_pooling2d' }).dense(classes, { name: 'predictions', activation: 'softmax' }).build();
}
