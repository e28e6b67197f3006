#!/usr/bin/env node
// Where training time goes on WASM: `node tools/bench/profile-train.mjs [--model resnet20|mobilenetv2|lenet5|lenet300100]
// [--steps 3] [--batch 128] [--micro N] [--shapes] [--vs-tf] [--json FILE]`. Runs condense's trainer (Adam)
// on random 28x28x1 data, one warm-up step, then `steps` profiled steps; prints the phases
// (forward, backward, optimizer), the kernel families and the top kernels by self time, per step.
// --vs-tf then times the same steps unprofiled, alternating with the TensorFlow/Keras peer (2
// rounds), and prints the ratio. Needs `npm run build` first.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { compile, describeBackend, selectBackend, train } from '@condense/tfjs';
import { installKernelProfiler } from './kernel-profile.mjs';
import { startPeer } from './peers.mjs';
import { ZOO } from './zoo.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet20' },
    steps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '128' },
    micro: { type: 'string' },
    'vs-tf': { type: 'boolean', default: false },
    shapes: { type: 'boolean', default: false },
    json: { type: 'string' },
    top: { type: 'string', default: '25' },
  },
});
const spec = ZOO[values.model];
if (!spec) throw new Error(`--model: unknown '${values.model}'; known: ${Object.keys(ZOO).join(', ')}`);
const [steps, batch] = [Number(values.steps), Number(values.batch)];
const micro = values.micro ? { microBatch: Number(values.micro) } : {};

await selectBackend('wasm');
const n = batch * steps;
const random = (() => {
  let s = 7;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
})();
const data = { x: Float32Array.from({ length: n * 784 }, random), y: Int32Array.from({ length: n }, (_, i) => i % 10), count: n, shape: [n, 28, 28, 1] };
const model = compile(spec.make(1));
await train(model, data, { epochs: 1, batchSize: batch, stepsPerEpoch: 1, ...micro }); // warm-up: kernels' first calls, XNNPACK setup

const profiler = installKernelProfiler('wasm', { shapes: values.shapes });
const t = performance.now();
await train(model, data, { epochs: 1, batchSize: batch, stepsPerEpoch: steps, shuffle: false, ...micro });
const wallMs = performance.now() - t;
const rep = profiler.report();
profiler.uninstall();

// Unprofiled, alternating with TensorFlow/Keras CPU on the same network and batch.
let versus;
if (values['vs-tf']) {
  const tfPeer = await startPeer('tf', { threads: 2 });
  if (tfPeer.skipped) versus = { skipped: tfPeer.skipped };
  else {
    await tfPeer.trainRate(values.model, batch, 1);
    const rates = { wasm: [], tf: [] };
    for (let r = 0; r < 2; r++) {
      const t0 = performance.now();
      await train(model, data, { epochs: 1, batchSize: batch, stepsPerEpoch: steps, shuffle: false, ...micro });
      rates.wasm.push((n * 1000) / (performance.now() - t0));
      rates.tf.push(await tfPeer.trainRate(values.model, batch, steps));
    }
    tfPeer.close();
    const best = (a) => Math.max(...a);
    versus = { wasm: best(rates.wasm), tf: best(rates.tf), version: tfPeer.info.version };
  }
}
model.dispose();

const per = (ms) => +(ms / steps).toFixed(2);
const share = (ms) => `${((100 * ms) / wallMs).toFixed(1)}%`;
console.log(
  `${values.model} on ${describeBackend()}, batch ${batch}${values.micro ? ` (micro-batches of ${values.micro})` : ''}: ${per(wallMs)} ms/step, ${Math.round((n * 1000) / wallMs)} samples/s (profiled; the timers add a little)`,
);
const kernelMs = rep.kernels.reduce((a, r) => a + r.selfMs, 0);
console.log('\nphase                 ms/step  share');
for (const p of rep.phases)
  console.log(
    `${p.phase.padEnd(20)} ${String(per(p.wallMs)).padStart(8)}  ${share(p.wallMs)}   (kernels ${per(p.kernelMs)}, outside kernels ${per(p.wallMs - p.kernelMs)})`,
  );
const rest = wallMs - rep.phases.reduce((a, p) => a + p.wallMs, 0);
console.log(
  `${'optimizer and other'.padEnd(20)} ${String(per(rest)).padStart(8)}  ${share(rest)}   (kernels ${per(rep.optimizerKernelMs)}, outside kernels ${per(rest - rep.optimizerKernelMs)})`,
);
console.log(`all kernels: ${per(kernelMs)} ms/step (${share(kernelMs)})`);
console.log('\nphase / family                              calls/step  self ms/step  share');
for (const f of rep.families.slice(0, 16))
  console.log(`${`${f.phase} / ${f.family}`.padEnd(44)} ${String(per(f.calls)).padStart(9)}  ${String(per(f.selfMs)).padStart(12)}  ${share(f.selfMs)}`);
console.log('\ntop kernels by self time');
for (const r of rep.kernels.slice(0, Number(values.top)))
  console.log(
    `${r.phase.padEnd(10).slice(0, 10)} ${r.kernel.padEnd(36)} ${String(per(r.calls)).padStart(6)} calls ${String(per(r.selfMs)).padStart(9)} ms ${share(r.selfMs).padStart(6)}${r.shapes ? `  ${r.shapes}` : ''}`,
  );
if (versus?.skipped) console.log(`\nvs TensorFlow: ${versus.skipped}`);
else if (versus)
  console.log(
    `\nunprofiled, alternating (best of 2 rounds): WASM ${versus.wasm.toFixed(1)} samples/s, ${versus.version} ${versus.tf.toFixed(1)} samples/s: ${(versus.wasm / versus.tf).toFixed(2)}x`,
  );
if (values.json) writeFileSync(values.json, JSON.stringify({ model: values.model, batch, steps, wallMs, ...rep, versus }, null, 2) + '\n');
