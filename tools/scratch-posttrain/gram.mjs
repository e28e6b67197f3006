import { accumulate, createStats } from '@condense/reconstruct';
for (const [k, rows] of [[288, 20000], [1344, 4000]]) {
  const stats = createStats({ name: 'c', op: 'dense', kernelShape: [k, 8] });
  const data = Float32Array.from({ length: rows * k }, Math.random);
  const t = performance.now();
  accumulate(stats, data, [rows, k]);
  const s = (performance.now() - t) / 1000;
  console.log(`k=${k} rows=${rows}: ${s.toFixed(2)} s, ${(rows * k * k / 2 / s / 1e9).toFixed(2)} G mult-add/s`);
}
