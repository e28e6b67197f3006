// The latency harness on a tiny saved model: stock TF.js WASM in Node, and WASM in Chromium
// when /usr/bin/chromium exists. Small repeats: this checks the plumbing, not the speed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '@condense/ir';
import { saveModel } from '@condense/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium } from '../browser/chromium.mjs';
import { latencyBrowser, latencyMetrics, latencyNode, latencyNotes, speedup } from './latency.mjs';

const plan = { batches: [1, 4], repeats: 3, warmup: 1 };
let dir;
let models;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'condense-latency-'));
  const small = new GraphBuilder('small', [8, 8, 1], 1)
    .conv2d(4, 3, { name: 'c', activation: 'relu' })
    .flatten()
    .dense(3, { name: 'fc', activation: 'softmax' })
    .build();
  const wide = new GraphBuilder('wide', [8, 8, 1], 1)
    .conv2d(64, 3, { name: 'c', activation: 'relu' })
    .conv2d(64, 3, { name: 'c2' })
    .flatten()
    .dense(3, { name: 'fc', activation: 'softmax' })
    .build();
  models = [
    { name: 'small', dir: join(dir, 'small') },
    { name: 'wide', dir: join(dir, 'wide') },
  ];
  await saveModel(small, models[0].dir);
  await saveModel(wide, models[1].dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const checkResults = (r) => {
  for (const m of ['small', 'wide']) {
    for (const batch of plan.batches) {
      const t = r.results[m][batch];
      expect(t.times_ms).toHaveLength(plan.repeats);
      expect(t.median_ms).toBeGreaterThan(0);
      expect(t.min_ms).toBeLessThanOrEqual(t.median_ms);
    }
  }
};

describe('latency harness', () => {
  it('times saved models side by side in stock TF.js WASM in Node', async () => {
    const r = await latencyNode(models, plan);
    expect(r).toMatchObject({ backend: 'wasm', tfjs: '4.22.0' });
    checkResults(r);
    const s = speedup(r, 'wide', 'small', 4);
    expect(s.before_ms).toBe(r.results.wide[4].median_ms);
    expect(s.speedup).toBeCloseTo(r.results.wide[4].median_ms / r.results.small[4].median_ms, 10);
    expect(s.paired_speedup).toBeGreaterThan(0);
    const run = { plan, node: r, browser: {} };
    expect(Object.keys(latencyMetrics(run, 'wide'))).toEqual(['latency_ms_node_wasm_b1_wide', 'latency_ms_node_wasm_b4_wide']);
    expect(latencyNotes(run)[0]).toMatch(/stock @tensorflow\/tfjs-backend-wasm 4\.22\.0 \(1 thread\(s\), SIMD true\)/);
  });

  it.skipIf(!hasChromium())('and in headless Chromium, saying which backend actually ran', async () => {
    const r = await latencyBrowser(models, { ...plan, backends: ['wasm'] });
    expect(r.wasm).toMatchObject({ requested: 'wasm', selected: true, actual: 'wasm', detail: { crossOriginIsolated: true, simd: true } });
    expect(r.wasm.consoleErrors).toBeUndefined();
    checkResults(r.wasm);
  });
});
