/** Tiny models and data for the unit tests (not exported by the package). */
import { GraphBuilder, rng, type Graph, type Param } from '@condense/ir';

export function mlp(seed = 1): Graph {
  return new GraphBuilder('mlp', [6], seed)
    .dense(8, { name: 'fc1', activation: 'relu' })
    .dense(5, { name: 'fc2', activation: 'relu' })
    .dense(3, { name: 'out', activation: 'softmax' })
    .build();
}

/** conv, conv, pool, flatten, dense, dense; optionally conv -> batchNorm -> relu. */
export function cnn(seed = 1, o: { batchNorm?: boolean; padding?: 'same' | 'valid' } = {}): Graph {
  const b = new GraphBuilder('cnn', [6, 6, 2], seed);
  const padding = o.padding ?? 'same';
  const conv = (filters: number, name: string) => {
    if (o.batchNorm)
      b.conv2d(filters, 3, { name, padding, bias: false })
        .batchNorm({ name: `${name}_bn` })
        .activation('relu', { name: `${name}_relu` });
    else b.conv2d(filters, 3, { name, padding, activation: 'relu' });
  };
  conv(4, 'conv1');
  conv(5, 'conv2');
  b.maxPool2d(2, { name: 'pool' });
  return b.flatten({ name: 'flatten' }).dense(6, { name: 'fc1', activation: 'relu' }).dense(3, { name: 'out', activation: 'softmax' }).build();
}

/** stem conv, a residual block (conv -> conv, added to the stem), relu, flatten, dense. */
export function resnet(seed = 1): Graph {
  const b = new GraphBuilder('resnet', [5, 5, 3], seed);
  b.conv2d(4, 3, { name: 'stem', padding: 'same', activation: 'relu' });
  b.conv2d(6, 3, { name: 'block_conv1', padding: 'same', activation: 'relu' }, 'stem');
  b.conv2d(4, 3, { name: 'block_conv2', padding: 'same' });
  b.addValues(['stem', 'block_conv2'], { name: 'block_add' });
  b.activation('relu', { name: 'block_relu' });
  return b.flatten({ name: 'flatten' }).dense(3, { name: 'out', activation: 'softmax' }).build();
}

/** Give every param non-trivial values (biases and batchNorm statistics too), deterministically. */
export function randomize(g: Graph, seed = 7): Graph {
  const r = rng(seed);
  for (const p of g.params.values()) {
    const positive = p.name.endsWith('movingVariance');
    for (let i = 0; i < p.data.length; i++) p.data[i] = positive ? 0.5 + r() : (r() * 2 - 1) * (p.name.endsWith('kernel') ? 0.6 : 0.3);
  }
  return g;
}

export function setValues(p: Param, values: number[]): void {
  p.data.set(values);
}

/** n random examples of a shape, labels from a fixed random linear rule (learnable). */
export function syntheticData(shape: number[], n: number, classes: number, seed = 3) {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n * size }, () => r());
  const w = Float32Array.from({ length: size * classes }, () => r() * 2 - 1);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestV = -Infinity;
    for (let c = 0; c < classes; c++) {
      let v = 0;
      for (let j = 0; j < size; j++) v += x[i * size + j] * w[j * classes + c];
      if (v > bestV) [best, bestV] = [c, v];
    }
    y[i] = best;
  }
  return { images: x, labels: y, count: n, shape: [n, ...shape] };
}

/** Random inputs for the reference interpreter. */
export function inputs(shape: number[], n: number, seed = 5): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
}
