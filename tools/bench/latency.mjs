// Latency of saved models (model.json + shards) in stock TF.js: the WASM backend in Node, and
// the WASM and WebGL backends in headless Chromium. Several models are timed side by side
// (interleaved rounds, see latency-timing.mjs), so before/after ratios survive a shared machine.
//
//   const r = await measureLatency([{ name: 'before', dir }, { name: 'after', dir: dir2 }], { quick });
//   r.node.results.after[32].median_ms; speedup(r.browser.webgl, 'before', 'after', 1)
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hasChromium, INSTALL_HINT, launchChromium } from '../browser/chromium.mjs';
import { timeModels } from './latency-timing.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const pkgDist = (name) => join(dirname(require.resolve(`${name}/package.json`)), 'dist');

/** Rounds and warm-up calls per batch size: quick for checks, full for BENCHMARKS.md. */
export const latencyPlan = (quick) => (quick ? { batches: [1, 32], repeats: 5, warmup: 2 } : { batches: [1, 32], repeats: 31, warmup: 5 });

/**
 * Stock TF.js WASM in Node, in a child process that loads nothing of condense.
 * Returns { backend, threads, simd, tfjs, results } (results as timeModels).
 */
export async function latencyNode(models, { batches, repeats, warmup } = latencyPlan(false)) {
  const arg = JSON.stringify({ models, batches, repeats, warmup });
  const { stdout } = await promisify(execFile)(process.execPath, [join(here, 'latency-node-worker.mjs'), arg], { maxBuffer: 64 << 20, timeout: 3_600_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

/** Script tags of the page: stock UMD bundles, as a web app would include them. */
const BUNDLES = [
  ['tf-core.min.js', '@tensorflow/tfjs-core'],
  ['tf-layers.min.js', '@tensorflow/tfjs-layers'],
  ['tf-backend-wasm.min.js', '@tensorflow/tfjs-backend-wasm'],
  ['tf-backend-webgl.min.js', '@tensorflow/tfjs-backend-webgl'],
];
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html', '.bin': 'application/octet-stream' };

/**
 * A local HTTP server for the page: /index.html, /tfjs/<bundle or .wasm>, /models/<k>/<file>.
 * Cross-origin isolated (COOP/COEP), so the WASM backend may use its threaded build.
 */
async function pageServer(models) {
  const files = new Map([
    ['/favicon.ico', { text: '' }],
    [
      '/index.html',
      { text: `<!doctype html><meta charset="utf-8"><title>condense latency</title>${BUNDLES.map(([f]) => `<script src="/tfjs/${f}"></script>`).join('')}` },
    ],
  ]);
  for (const [file, pkg] of BUNDLES) files.set(`/tfjs/${file}`, { path: join(pkgDist(pkg), file) });
  for (const file of WASM_FILES) files.set(`/tfjs/${file}`, { path: join(pkgDist('@tensorflow/tfjs-backend-wasm'), file) });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost').pathname;
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    try {
      let body;
      const known = files.get(url);
      const model = /^\/models\/(\d+)\/([^/]+)$/.exec(url);
      if (known) body = known.text ?? (await readFile(known.path));
      else if (model && models[+model[1]]) {
        const dir = models[+model[1]].dir;
        const path = normalize(join(dir, model[2]));
        if (!path.startsWith(normalize(dir) + sep)) throw new Error('outside the model directory');
        body = await readFile(path);
      } else throw new Error('not found');
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(url)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, headers);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** In the page: select the backend, describe what actually runs, load the models, time them. */
const pageRun = (backend, plan) => `(async () => {
  const timeModels = ${timeModels.toString()};
  tf.wasm.setWasmPaths(location.origin + '/tfjs/');
  let selected = false;
  try { selected = await tf.setBackend(${JSON.stringify(backend)}); } catch (e) { selected = false; }
  await tf.ready();
  const actual = tf.getBackend();
  const detail = { crossOriginIsolated: self.crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency };
  if (actual === 'wasm') Object.assign(detail, { threads: tf.wasm.getThreadsCount(), simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') });
  if (actual === 'webgl') {
    const gl = tf.backend().gpgpu.gl;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    Object.assign(detail, { webglVersion: tf.env().getNumber('WEBGL_VERSION'), renderer: info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER), vendor: info ? gl.getParameter(info.UNMASKED_VENDOR_WEBGL) : gl.getParameter(gl.VENDOR) });
    detail.software = /swiftshader|llvmpipe|software/i.test(detail.renderer + ' ' + detail.vendor);
  }
  const names = ${JSON.stringify(plan.names)};
  const models = [];
  for (let k = 0; k < names.length; k++) models.push({ name: names[k], model: await tf.loadLayersModel('/models/' + k + '/model.json') });
  const results = await timeModels(tf, models, ${JSON.stringify({ batches: plan.batches, repeats: plan.repeats, warmup: plan.warmup })});
  return { requested: ${JSON.stringify(backend)}, selected, actual, detail, tfjs: tf.version_core, results };
})()`;

/**
 * Stock TF.js in headless Chromium, one fresh page per backend. Returns { [backend]: { requested,
 * selected, actual (what really ran: a WebGL request may end on another backend), detail
 * (threads/SIMD, or the WebGL renderer and whether it is software: SwiftShader), results } },
 * or { skipped } when Chromium is not installed.
 */
export async function latencyBrowser(models, { backends = ['wasm', 'webgl'], batches, repeats, warmup } = { ...latencyPlan(false) }) {
  if (!hasChromium()) return { skipped: INSTALL_HINT };
  const server = await pageServer(models);
  const browser = await launchChromium();
  const out = {};
  try {
    for (const backend of backends) {
      const page = await browser.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(`${server.origin}/index.html`);
      try {
        out[backend] = await page.evaluate(pageRun(backend, { names: models.map((m) => m.name), batches, repeats, warmup }));
      } catch (e) {
        out[backend] = { requested: backend, error: e.message.split('\n')[0] };
      }
      if (errors.length) out[backend].consoleErrors = errors.slice(0, 5);
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return out;
}

/** Node WASM plus Chromium WASM and WebGL, for the same saved models. */
export async function measureLatency(models, { quick = false, backends } = {}) {
  const plan = latencyPlan(quick);
  return { plan, node: await latencyNode(models, plan), browser: await latencyBrowser(models, { ...plan, ...(backends ? { backends } : {}) }) };
}

/**
 * Before/after at one batch size from one side-by-side run: the ratio of the medians and the
 * median of the per-round ratios (each round timed both models back to back).
 */
export function speedup(run, before, after, batch) {
  const [b, a] = [run.results[before][batch], run.results[after][batch]];
  const rounds = b.times_ms.map((t, i) => t / a.times_ms[i]).sort((x, y) => x - y);
  return { before_ms: b.median_ms, after_ms: a.median_ms, speedup: b.median_ms / a.median_ms, paired_speedup: rounds[Math.floor(rounds.length / 2)] };
}

/** Flat metrics (one per environment, model and batch) for a benchmark result; `prefix` names the model. */
export function latencyMetrics(run, name, prefix = name) {
  const metrics = {};
  const put = (env, r) => {
    for (const [batch, t] of Object.entries(r?.results?.[name] ?? {})) metrics[`latency_ms_${env}_b${batch}_${prefix}`] = +t.median_ms.toFixed(3);
  };
  put('node_wasm', run.node);
  // The name says what ran: a WebGL request may end on another backend, or on software GL (SwiftShader).
  const ran = (backend, r) => (r.actual !== backend ? `${backend}_ran_${r.actual}` : r.detail?.software ? `${backend}_software` : backend);
  for (const [backend, r] of Object.entries(run.browser)) if (r && typeof r === 'object' && r.actual) put(`chromium_${ran(backend, r)}`, r);
  return metrics;
}

/** One line per environment saying what actually ran (backend, threads, SIMD, WebGL renderer). */
export function latencyNotes(run) {
  const notes = [
    `Node: stock @tensorflow/tfjs-backend-wasm ${run.node.tfjs} (${run.node.threads} thread(s), SIMD ${run.node.simd}), nothing of condense loaded; as tfjs ships, WASM in Node is single-threaded.`,
  ];
  if (run.browser.skipped) notes.push(`Chromium: skipped, ${run.browser.skipped}`);
  for (const [backend, r] of Object.entries(run.browser)) {
    if (!r || typeof r !== 'object') continue;
    if (r.error) notes.push(`Chromium ${backend}: failed: ${r.error}`);
    else
      notes.push(
        `Chromium ${backend}: ran on ${r.actual}${r.actual !== backend ? ` (the ${backend} backend did not initialise)` : ''}; ${JSON.stringify(r.detail)}`,
      );
  }
  notes.push(
    `Latency: median of ${run.plan.repeats} interleaved rounds after ${run.plan.warmup} warm-up calls per model and batch; one call = predict + reading the output back.`,
  );
  return notes;
}

// `node tools/bench/latency.mjs [--quick] [--backends wasm,webgl] NAME=DIR [NAME=DIR ...]`:
// the models side by side in every environment; prints the medians, the notes and, for two
// models, the first-over-second speedups.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { parseArgs } = await import('node:util');
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { quick: { type: 'boolean', default: false }, backends: { type: 'string' } } });
  const models = positionals.map((p) => {
    const [name, dir] = p.includes('=') ? [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] : [p.split('/').filter(Boolean).at(-1), p];
    return { name, dir };
  });
  if (models.length === 0) {
    console.error('usage: node tools/bench/latency.mjs [--quick] [--backends wasm,webgl] NAME=DIR [NAME=DIR ...]');
    process.exit(2);
  }
  const run = await measureLatency(models, { quick: values.quick, ...(values.backends ? { backends: values.backends.split(',') } : {}) });
  const rows = [];
  for (const [env, r] of [
    ['node wasm', run.node],
    ...Object.entries(run.browser).map(([b, r]) => [`chromium ${b}${r?.actual && r.actual !== b ? ` (ran ${r.actual})` : ''}`, r]),
  ]) {
    for (const m of models)
      for (const batch of run.plan.batches) if (r?.results) rows.push({ env, model: m.name, batch, median_ms: +r.results[m.name][batch].median_ms.toFixed(3) });
    if (models.length === 2 && r?.results)
      for (const batch of run.plan.batches)
        rows.push({ env, model: `${models[0].name}/${models[1].name}`, batch, speedup: +speedup(r, models[0].name, models[1].name, batch).speedup.toFixed(3) });
  }
  console.table(rows);
  for (const n of latencyNotes(run)) console.log(`- ${n}`);
}
