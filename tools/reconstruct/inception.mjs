// An InceptionV3-size model (keras.applications.InceptionV3's topology: 94 conv + batch-norm +
// ReLU blocks, 11 inception modules, 299x299x3 input, 1000 classes; 5.7 GMACs, 23.9M params),
// built with @condense/ir's GraphBuilder and seeded random weights. Nothing is committed: the
// measurement script builds it (and round-trips it through a TF.js LayersModel) when it runs.
import { GraphBuilder } from '@condense/ir';

/** keras.applications.inception_v3's conv2d_bn: a bias-free conv, a batch norm, a ReLU. */
function convBn(b, from, filters, rows, cols, name, o = {}) {
  b.conv2d(filters, [rows, cols], { name, padding: o.padding ?? 'same', strides: o.strides ?? 1, bias: false }, from);
  b.batchNorm({ name: `${name}_bn` });
  b.activation('relu', { name: `${name}_relu` });
  return b.current;
}

/** InceptionV3 at `size` x `size` (299 as published; any size >= 75). */
export function inceptionV3({ size = 299, classes = 1000, seed = 1 } = {}) {
  const b = new GraphBuilder('inception-v3', [size, size, 3], seed);
  let n = 0;
  const c = (from, filters, rows, cols, o) => convBn(b, from, filters, rows, cols, `conv${++n}`, o);
  const pool = (kind, from, name, o) => {
    b[kind](3, { name, ...o }, from);
    return b.current;
  };
  const concat = (inputs, name) => {
    b.concat(inputs, { name });
    return b.current;
  };
  let x = c('input', 32, 3, 3, { strides: 2, padding: 'valid' });
  x = c(x, 32, 3, 3, { padding: 'valid' });
  x = c(x, 64, 3, 3);
  x = pool('maxPool2d', x, 'pool1', { strides: 2, padding: 'valid' });
  x = c(x, 80, 1, 1, { padding: 'valid' });
  x = c(x, 192, 3, 3, { padding: 'valid' });
  x = pool('maxPool2d', x, 'pool2', { strides: 2, padding: 'valid' });
  // mixed0..2: 35 x 35
  for (const [i, poolFilters] of [32, 64, 64].entries()) {
    const b1 = c(x, 64, 1, 1);
    const b5 = c(c(x, 48, 1, 1), 64, 5, 5);
    const b3 = c(c(c(x, 64, 1, 1), 96, 3, 3), 96, 3, 3);
    const bp = c(pool('avgPool2d', x, `mixed${i}_pool`, { strides: 1, padding: 'same' }), poolFilters, 1, 1);
    x = concat([b1, b5, b3, bp], `mixed${i}`);
  }
  // mixed3: 35 -> 17
  {
    const b3 = c(x, 384, 3, 3, { strides: 2, padding: 'valid' });
    const bd = c(c(c(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, { strides: 2, padding: 'valid' });
    const bp = pool('maxPool2d', x, 'mixed3_pool', { strides: 2, padding: 'valid' });
    x = concat([b3, bd, bp], 'mixed3');
  }
  // mixed4..7: 17 x 17, factorised 7x7
  for (const [i, f] of [128, 160, 160, 192].entries()) {
    const b1 = c(x, 192, 1, 1);
    const b7 = c(c(c(x, f, 1, 1), f, 1, 7), 192, 7, 1);
    const bd = c(c(c(c(c(x, f, 1, 1), f, 7, 1), f, 1, 7), f, 7, 1), 192, 1, 7);
    const bp = c(pool('avgPool2d', x, `mixed${i + 4}_pool`, { strides: 1, padding: 'same' }), 192, 1, 1);
    x = concat([b1, b7, bd, bp], `mixed${i + 4}`);
  }
  // mixed8: 17 -> 8
  {
    const b3 = c(c(x, 192, 1, 1), 320, 3, 3, { strides: 2, padding: 'valid' });
    const b7 = c(c(c(c(x, 192, 1, 1), 192, 1, 7), 192, 7, 1), 192, 3, 3, { strides: 2, padding: 'valid' });
    const bp = pool('maxPool2d', x, 'mixed8_pool', { strides: 2, padding: 'valid' });
    x = concat([b3, b7, bp], 'mixed8');
  }
  // mixed9, 10: 8 x 8, expanded filter banks
  for (const i of [9, 10]) {
    const b1 = c(x, 320, 1, 1);
    const s = c(x, 384, 1, 1);
    const b3 = concat([c(s, 384, 1, 3), c(s, 384, 3, 1)], `mixed${i}_3x3`);
    const d = c(c(x, 448, 1, 1), 384, 3, 3);
    const bd = concat([c(d, 384, 1, 3), c(d, 384, 3, 1)], `mixed${i}_3x3dbl`);
    const bp = c(pool('avgPool2d', x, `mixed${i}_pool`, { strides: 1, padding: 'same' }), 192, 1, 1);
    x = concat([b1, b3, bd, bp], `mixed${i}`);
  }
  b.globalAvgPool2d({ name: 'avg_pool' }, x);
  b.dense(classes, { name: 'predictions', activation: 'softmax' });
  return b.build();
}
