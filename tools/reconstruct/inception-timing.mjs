#!/usr/bin/env node
// Time and peak memory of a layer-wise stage on an InceptionV3-size model (issue 24's target:
// ThiNet 30% and GPTQ 4-bit, 64 calibration images, each under 10 minutes and 2 GB).
// Run after `npm run build`, one method per process (peak RSS is per process):
//   node tools/reconstruct/inception-timing.mjs --method gptq|thinet [--examples 64] [--size 299] [--batch 16]
// The model (tools/reconstruct/inception.mjs, seeded random weights) is written as a TF.js
// LayersModel to a temporary directory and imported back, so the stage runs on an imported
// LayersModel; the calibration images are seeded uniform noise (timing does not depend on them).
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pipeline } from '@condense/core';
import { cost, rng } from '@condense/ir';
import { gptqPlugin } from '@condense/reconstruct';
import { loadModel, saveModel, tfjsRuntime } from '@condense/tfjs';
import { thinet } from '@condense/thinet';
import { benchBackend } from '../bench/lib.mjs';
import { inceptionV3 } from './inception.mjs';

const { values } = parseArgs({
  options: {
    method: { type: 'string', default: 'gptq' },
    examples: { type: 'string', default: '64' },
    size: { type: 'string', default: '299' },
    batch: { type: 'string', default: '16' },
    backend: { type: 'string' },
  },
});
const [examples, size, batchSize] = [Number(values.examples), Number(values.size), Number(values.batch)];
const log = (s) => console.error(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${s}`);
const mb = (bytes) => Math.round(bytes / 2 ** 20);
const peakRss = () => mb(process.resourceUsage().maxRSS * 1024);
const t0 = performance.now();

const backend = await benchBackend(values.backend);
log(`backend ${backend}; building InceptionV3 at ${size}x${size}`);
const dir = await mkdtemp(join(tmpdir(), 'condense-inception-'));
let graph;
try {
  await saveModel(inceptionV3({ size }), join(dir, 'model'));
  graph = await loadModel(join(dir, 'model', 'model.json'));
} finally {
  await rm(dir, { recursive: true, force: true });
}
const c = cost(graph).totals;
const convs = graph.nodes.filter((n) => n.op === 'conv2d').length;
log(`imported: ${convs} convs, ${(c.macs / 1e9).toFixed(2)} GMACs, ${(c.params / 1e6).toFixed(2)}M params; peak RSS so far ${peakRss()} MB`);

const random = rng(7);
const images = Float32Array.from({ length: examples * size * size * 3 }, random);
const calibration = { images, labels: Uint8Array.from({ length: examples }, (_, i) => i % 10), count: examples, shape: [examples, size, size, 3] };
const stage = values.method === 'thinet' ? thinet({ ratio: 0.3, imagesPerClass: Math.ceil(examples / 10) }) : gptqPlugin({ bits: 4, examples, batchSize });
const rssBefore = peakRss();
const cpu0 = process.cpuUsage();
const started = performance.now();
const r = await pipeline([stage]).run(graph, {
  data: { calibration },
  runtime: tfjsRuntime(),
  evaluateEachStage: false,
  onEvent: (e) => {
    if (e.type === 'progress' && (e.done % 10 === 0 || e.done === e.total)) log(`${e.done}/${e.total} layers (${e.label}), peak RSS ${peakRss()} MB`);
    if (e.type === 'log') log(e.message);
  },
});
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
const d = r.stages[0].details ?? {};
const after = cost(r.graph).totals;
const result = {
  method: values.method,
  backend,
  examples,
  size,
  convs,
  gmacs: +(c.macs / 1e9).toFixed(2),
  stage_s: +seconds.toFixed(1),
  cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(1),
  peak_rss_mb: peakRss(),
  peak_rss_before_stage_mb: rssBefore,
  load_average: loadavg().map((x) => +x.toFixed(1)),
  ...(values.method === 'thinet'
    ? { layers: d.layers?.length, macs_after_g: +(after.macs / 1e9).toFixed(2), params_after_m: +(after.params / 1e6).toFixed(2) }
    : {
        layers: d.reconstruction?.length,
        stats_s: +((d.statsMs ?? 0) / 1000).toFixed(1),
        solve_s: +((d.solveMs ?? 0) / 1000).toFixed(1),
        forward_s: +((d.forwardMs ?? 0) / 1000).toFixed(1),
        pass_peak_mb: mb(d.passPeakBytes ?? 0),
        stats_peak_mb: mb(d.statsPeakBytes ?? 0),
      }),
};
console.log(JSON.stringify(result, null, 2));
