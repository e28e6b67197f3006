import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@condense/tfjs';
const b = await selectBackend();
console.log('backend', b, tf.getBackend());
for (const [rows, k] of [[4096, 288], [4096, 1344], [4096, 4032]]) {
  const x = tf.randomUniform([rows, k]);
  const xt = tf.transpose(x);
  tf.matMul(xt, x).dispose();
  const reps = 3;
  const t = performance.now();
  for (let i = 0; i < reps; i++) { const h = tf.matMul(xt, x); h.dataSync(); h.dispose(); }
  const s = (performance.now() - t) / 1000 / reps;
  console.log(rows, k, 'transposed-first matMul', (rows * k * k / s / 1e9).toFixed(1), 'G mult-add/s (full square)');
  const t2 = performance.now();
  for (let i = 0; i < reps; i++) { const h = tf.matMul(x, x, true, false); h.dataSync(); h.dispose(); }
  const s2 = (performance.now() - t2) / 1000 / reps;
  console.log(rows, k, 'transposeA flag', (rows * k * k / s2 / 1e9).toFixed(1), 'G mult-add/s');
  tf.dispose([x, xt]);
}
