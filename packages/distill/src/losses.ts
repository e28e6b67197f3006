import * as tf from '@tensorflow/tfjs-core';

export { softTargetLoss, kdLoss, hintLoss } from '@condense/tfjs';

/** [N, H, W, C] -> [N, H*W, C] with every channel's spatial map scaled to unit L2 norm. */
export function normalizeSpatial(f: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, h, w, c] = f.shape;
    const flat = tf.reshape(f, [n, h * w, c]);
    const norm = tf.sqrt(tf.add(tf.sum(tf.square(flat), 1, true), 1e-12));
    return tf.div(flat, norm) as tf.Tensor3D;
  });
}

/** Mean of (a_i . b_j)^2 over every pair of columns: the polynomial kernel with d = 2, c = 0. */
function meanPolyKernel(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor1D {
  return tf.mean(tf.square(tf.matMul(a, b, true, false)), [1, 2]) as tf.Tensor1D;
}

/**
 * Neuron Selectivity Transfer (Huang & Wang 2017): the squared MMD, with the polynomial kernel
 * k(x, y) = (x . y)^2, between the teacher's and the student's channels, each channel being one
 * sample (its spatial map, L2-normalised). Averaged over the batch. Channel counts may differ;
 * spatial sizes must agree.
 */
export function nstLoss(student: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  if (student.rank !== 4 || teacher.rank !== 4) {
    throw new Error(`NST needs spatial feature maps [batch, H, W, C]: got student [${student.shape.join(', ')}], teacher [${teacher.shape.join(', ')}]`);
  }
  if (student.shape[1] !== teacher.shape[1] || student.shape[2] !== teacher.shape[2]) {
    throw new Error(`NST needs the same spatial size: student ${student.shape[1]}x${student.shape[2]}, teacher ${teacher.shape[1]}x${teacher.shape[2]}`);
  }
  return tf.tidy(() => {
    const s = normalizeSpatial(student);
    const t = normalizeSpatial(teacher);
    const mmd = tf.sub(tf.add(meanPolyKernel(t, t), meanPolyKernel(s, s)), tf.mul(meanPolyKernel(t, s), 2));
    return tf.mean(mmd) as tf.Scalar;
  });
}
