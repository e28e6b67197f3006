// Runs each container file named on stdin through the decoder, `condense inspect` and the loader,
// from the built packages, and reports one JSON line per case on stdout. Every file opened while
// the cases run is recorded (fs patched before anything is imported), so the parent can check
// that nothing outside the case's folder was read. Run by fuzz.test.ts; not a public tool.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { createInterface } from 'node:readline';

const opened = [];
let recording = false;
const track = (obj, name, pathArg = 0) => {
  const original = obj[name];
  obj[name] = function (...args) {
    if (recording && (typeof args[pathArg] === 'string' || args[pathArg] instanceof URL)) opened.push(String(args[pathArg]));
    return original.apply(this, args);
  };
};
for (const name of ['open', 'readFile', 'openSync', 'readFileSync', 'createReadStream']) track(fs, name);
for (const name of ['open', 'readFile']) track(fs.promises, name);
syncBuiltinESMExports();

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
await tf.setBackend('cpu');
const { decodeGraph, CodecError } = await import('@condense/codec');
const { loadCondenseModel } = await import('@condense/codec/loader');
const { exportTopology } = await import('@condense/tfjs');
const { main } = await import('@condense/cli');

const BUILT_IN = /TypeError|RangeError|ReferenceError|SyntaxError|internal error|Maximum call stack|\n\s+at /;

/** 'ok', a CodecError code, or 'RAW <what>' for anything that is not a named refusal. */
async function outcome(run) {
  try {
    await run();
    return 'ok';
  } catch (e) {
    if (e instanceof CodecError && !BUILT_IN.test(e.message) && !e.message.includes('\n')) return e.code;
    return `RAW ${e?.constructor?.name}: ${String(e?.message).split('\n')[0]}`;
  }
}

for await (const file of createInterface({ input: process.stdin })) {
  if (!file) continue;
  const t = performance.now();
  opened.length = 0;
  recording = true;
  const bytes = new Uint8Array(fs.readFileSync(file));
  const decoder = await outcome(() => decodeGraph(bytes, file, { exportTopology }));
  const err = [];
  const code = await main(
    ['inspect', file, '--json'],
    () => {},
    (s) => err.push(s),
  );
  const inspect =
    code === 0 ? 'ok' : code === 1 && err.length === 1 && !BUILT_IN.test(err[0]) ? 'refused' : `RAW exit ${code}: ${err.join(' | ').slice(0, 300)}`;
  const tensors = tf.memory().numTensors;
  const loader = await outcome(async () => (await loadCondenseModel(bytes)).dispose());
  recording = false;
  const leaked = tf.memory().numTensors - tensors;
  process.stdout.write(
    `${JSON.stringify({ file, ms: performance.now() - t, rss: process.memoryUsage().rss, decoder, inspect, loader, leaked, opened: [...new Set(opened)] })}\n`,
  );
}
process.stdout.write(`${JSON.stringify({ done: true, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
