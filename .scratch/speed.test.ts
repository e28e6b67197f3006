import { it } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import { inflateSync } from 'fflate';
import { inflateRaw } from '../packages/codec/src/inflate.js';
import { encodeGraph } from '../packages/codec/src/container.js';
import { splitContainer } from '../packages/codec/src/test-helpers.js';
import { lenet5 } from '@condense/ir';

function best(f: () => void, n: number) { let b = Infinity; for (let i = 0; i < n; i++) { const t = performance.now(); f(); b = Math.min(b, performance.now() - t); } return b; }
it('speed', () => {
  const { header } = splitContainer(encodeGraph(lenet5()).bytes);
  const small = new TextEncoder().encode(JSON.stringify(header));
  const big = new TextEncoder().encode(JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ ...header, i }))));
  for (const [name, json] of [['lenet5 header', small], ['big', big]] as const) {
    const d = deflateRawSync(json, { level: 9 });
    const own = best(() => inflateRaw(d, json.length), 30);
    const ff = best(() => inflateSync(d, { out: new Uint8Array(json.length + 1) }), 30);
    console.log(name, json.length, 'B json,', d.length, 'B deflated: own', own.toFixed(3), 'ms, fflate', ff.toFixed(3), 'ms');
  }
});
