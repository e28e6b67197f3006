import { cost, inferShapes } from '@condense/ir';
import { inceptionV3 } from '../reconstruct/inception.mjs';
const t = performance.now();
const g = inceptionV3();
console.log('built in', ((performance.now() - t) / 1000).toFixed(1), 's');
const c = cost(g);
const convs = g.nodes.filter((n) => n.op === 'conv2d');
console.log('convs', convs.length, 'MACs', (c.totals.macs / 1e9).toFixed(2), 'G params', (c.totals.params / 1e6).toFixed(2), 'M');
const shapes = inferShapes(g);
const N = 64;
for (const cap of [Infinity, 65536, 32768, 16384]) {
  let gram = 0, solve = 0;
  for (const n of convs) {
    const k = g.params.get(n.params.kernel).shape; const rows = k[0] * k[1] * k[2];
    const out = shapes.get(n.name); const r = Math.min(N * out[1] * out[2], cap);
    gram += r * rows * rows / 2; solve += rows ** 3;
  }
  console.log(`cap ${cap}: gram ${(gram / 1e9).toFixed(0)} G, solve ~${(solve / 1e9).toFixed(0)} G`);
}
for (const per of [16, 32, 64]) {
  let gram = 0;
  for (const n of convs) {
    const k = g.params.get(n.params.kernel).shape; const rows = k[0] * k[1] * k[2];
    const out = shapes.get(n.name); const r = Math.min(N * out[1] * out[2], Math.max(per * rows, 8192));
    gram += r * rows * rows / 2;
  }
  console.log(`rows <= max(${per} k, 8192): gram ${(gram / 1e9).toFixed(0)} G`);
}
const top = convs.map((n) => { const k = g.params.get(n.params.kernel).shape; const rows = k[0]*k[1]*k[2]; const out = shapes.get(n.name); return [n.name, rows, N*out[1]*out[2], (N*out[1]*out[2]*rows*rows/2/1e9).toFixed(1)]; }).sort((a,b)=>b[3]-a[3]).slice(0,12);
console.log(top);
for (const [label, capOf] of [['4k', (k) => 4 * k], ['8k', (k) => 8 * k], ['max(4k,8192)', (k) => Math.max(4 * k, 8192)], ['max(8k,16384)', (k) => Math.max(8 * k, 16384)], ['16k', (k) => 16 * k]]) {
  let gram = 0;
  for (const n of convs) {
    const k = g.params.get(n.params.kernel).shape; const rows = k[0] * k[1] * k[2];
    const out = shapes.get(n.name); const r = Math.min(N * out[1] * out[2], capOf(rows));
    gram += r * rows * rows / 2;
  }
  console.log(`rows <= ${label}: gram ${(gram / 1e9).toFixed(0)} G`);
}
