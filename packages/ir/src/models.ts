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
