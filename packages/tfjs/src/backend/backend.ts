/**
 * Backend selection: tfjs-node when installed and loadable, else WASM (SIMD,
 * multi-threaded when possible, with our conv backprop kernels), else CPU.
 * Override with the argument or CONDENSE_BACKEND=node|wasm|cpu (argument wins).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerCpuGrads, registerWasmGrads } from './wasm-grads.js';

export type BackendChoice = 'node' | 'wasm' | 'cpu';
export interface BackendSelection {
  name: BackendChoice;
  reason: string;
}

export const BACKEND_ENV = 'CONDENSE_BACKEND';
/** XNNPACK threads for WASM; 1 = single-threaded SIMD build. Default: CPU count, max 8. */
export const THREADS_ENV = 'CONDENSE_WASM_THREADS';
const CHOICES: readonly BackendChoice[] = ['node', 'wasm', 'cpu'];
/** tfjs registers tfjs-node under this name. */
const TF_NODE_NAME = 'tensorflow';
const TF_NODE_INSTALL = 'npm install @tensorflow/tfjs-node@4.22.0';

// ---- choosing ---------------------------------------------------------------

function parseChoice(value: string, source: string): BackendChoice {
  const v = value.trim().toLowerCase();
  if ((CHOICES as readonly string[]).includes(v)) return v as BackendChoice;
  throw new Error(`Invalid backend '${value}' in ${source}: expected one of ${CHOICES.join(', ')}.`);
}

/** The explicit choice (argument first, then env), or undefined for auto. */
function requested(preferred?: string): { choice: BackendChoice; source: string } | undefined {
  if (preferred != null) return { choice: parseChoice(preferred, 'selectBackend(preferred)'), source: `selectBackend('${preferred}')` };
  const env = process.env[BACKEND_ENV];
  if (env != null && env.trim() !== '') return { choice: parseChoice(env, `${BACKEND_ENV}=${env}`), source: `${BACKEND_ENV}=${env}` };
  return undefined;
}

let inFlight: Promise<BackendSelection> | undefined;
let last: BackendSelection | undefined;

/**
 * Activates a backend and says why. Idempotent: calls are serialized, and
 * asking again for the active backend returns at once.
 */
export function selectBackend(preferred?: BackendChoice): Promise<BackendSelection> {
  const run = async () => select(preferred);
  inFlight = (inFlight ?? Promise.resolve()).then(run, run) as Promise<BackendSelection>;
  return inFlight;
}

async function select(preferred?: BackendChoice): Promise<BackendSelection> {
  const want = requested(preferred);
  wantedThreads(); // validate the env early: a typo must not silently fall back to cpu
  if (want != null) {
    if (last?.name === want.choice && backendName() === want.choice) return last;
    await activate(want.choice, want.source);
    return remember({ name: want.choice, reason: `requested by ${want.source}` });
  }
  if (last != null && last.reason.startsWith('auto') && backendName() === last.name) return last;
  return remember(await auto());
}

function remember(s: BackendSelection): BackendSelection {
  last = s;
  return s;
}

async function auto(): Promise<BackendSelection> {
  const node = await tryActivate('node');
  if (node === true) return { name: 'node', reason: 'auto: @tensorflow/tfjs-node is installed' };
  const wasm = await tryActivate('wasm');
  if (wasm === true) return { name: 'wasm', reason: `auto: ${node}` };
  await activate('cpu');
  return { name: 'cpu', reason: `auto: ${node}; wasm failed (${wasm})` };
}

/** true, or a short reason why the backend could not be activated. */
async function tryActivate(choice: BackendChoice): Promise<true | string> {
  try {
    await activate(choice);
    return true;
  } catch (e) {
    return firstLine(e);
  }
}

/** `source` is set when the user asked for this backend (it goes into error messages). */
async function activate(choice: BackendChoice, source?: string): Promise<void> {
  if (choice === 'node') return activateNode(source);
  if (choice === 'wasm') return activateWasm();
  registerCpuGrads();
  if (!(await tf.setBackend('cpu'))) throw new Error('The tfjs cpu backend failed to initialize.');
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

// ---- tfjs-node ----------------------------------------------------------------

async function activateNode(source?: string): Promise<void> {
  // Built from parts so bundlers (tsup/esbuild/vite) leave the optional dependency alone.
  const specifier = ['@tensorflow', 'tfjs-node'].join('/');
  try {
    await import(/* @vite-ignore */ specifier);
  } catch (e) {
    const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && firstLine(e).includes(specifier);
    const why = missing ? `${specifier} is not installed` : `${specifier} failed to load (${firstLine(e)})`;
    if (source == null) throw new Error(why);
    throw new Error(`Backend 'node' was requested by ${source} but ${why}. Install it with: ${TF_NODE_INSTALL}`);
  }
  if (!(await tf.setBackend(TF_NODE_NAME))) {
    throw new Error(`@tensorflow/tfjs-node loaded but its backend failed to initialize. Reinstall it with: ${TF_NODE_INSTALL}`);
  }
}

// ---- wasm ---------------------------------------------------------------------

const pkgRequire = createRequire(import.meta.url);

/** Directory holding tfjs-backend-wasm's .wasm binaries (dist/) and emscripten outputs (wasm-out/). */
function wasmPackageDir(): string {
  return path.dirname(pkgRequire.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
}

async function activateWasm(): Promise<void> {
  registerWasmGrads();
  if (tf.findBackend('wasm') == null) await initWasm(wantedThreads());
  if (!(await tf.setBackend('wasm'))) throw new Error('The tfjs wasm backend failed to initialize.');
}

function wantedThreads(): number {
  const env = process.env[THREADS_ENV];
  if (env == null || env.trim() === '') return Math.min(8, os.availableParallelism?.() ?? os.cpus().length);
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    throw new Error(`Invalid ${THREADS_ENV}=${env}: expected an integer from 1 to 8.`);
  }
  return n;
}

/** First wasm initialization: threaded SIMD build when asked and it works, else the SIMD build. */
async function initWasm(threads: number): Promise<void> {
  const dir = wasmPackageDir();
  setWasmPaths(path.join(dir, 'dist') + path.sep);
  if (threads > 1 && (await initThreaded(dir, threads))) return;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('The tfjs wasm backend failed to initialize.');
}

/**
 * tfjs disables wasm threads in Node (tfjs issue 3830): its worker script and
 * main script are handed to emscripten as Blob URLs, which Node's Worker
 * cannot load, and it caps XNNPACK at os.cpus()/2 threads. For the duration of
 * the init we turn those Blobs into files and report enough CPUs.
 */
async function initThreaded(dir: string, threads: number): Promise<boolean> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'condense-wasm-'));
  const restore = patchForThreads(dir, tmp, threads);
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    setThreadsCount(threads);
    const ok = await withTimeout(tf.setBackend('wasm'), 60_000);
    if (ok) unrefWorkers();
    return ok;
  } catch {
    return false;
  } finally {
    restore();
    fs.rmSync(tmp, { recursive: true, force: true }); // workers have read it by now
  }
}

function patchForThreads(dir: string, tmp: string, threads: number): () => void {
  const g = globalThis as { Blob: typeof Blob };
  const saved = { Blob: g.Blob, createObjectURL: URL.createObjectURL, cpus: os.cpus };
  const texts = new WeakMap<object, string>();
  let files = 0;
  g.Blob = class {
    constructor(parts: unknown[]) {
      texts.set(this, parts.map(String).join(''));
    }
  } as unknown as typeof Blob;
  // The worker receives the main-script "Blob" as a plain object and asks for a URL: give it the file.
  const mainScript = JSON.stringify(path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js'));
  const workerPrelude = `URL.createObjectURL = () => ${mainScript}; URL.revokeObjectURL = () => {};\n`;
  URL.createObjectURL = (blob: Blob) => {
    const file = path.join(tmp, `worker-${files++}.cjs`);
    fs.writeFileSync(file, workerPrelude + (texts.get(blob) ?? ''));
    return file;
  };
  const cpu = saved.cpus.call(os)[0];
  (os as { cpus: () => os.CpuInfo[] }).cpus = () => Array.from({ length: 2 * threads }, () => cpu);
  return () => {
    g.Blob = saved.Blob;
    URL.createObjectURL = saved.createObjectURL;
    (os as { cpus: () => os.CpuInfo[] }).cpus = saved.cpus;
  };
}

/** Idle pthread workers must not keep Node alive after the program is done. */
function unrefWorkers(): void {
  const wasm = (tf.findBackend('wasm') as unknown as { wasm?: { PThread?: Record<string, { unref(): void }[]> } }).wasm;
  const pool = wasm?.PThread;
  for (const w of [...(pool?.runningWorkers ?? []), ...(pool?.unusedWorkers ?? [])]) w.unref();
}

/** SIMD and thread count of the initialized wasm backend (both known once it is initialized). */
function describeWasm(): string {
  try {
    const simd = tf.env().get('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
    const threads = getThreadsCount();
    return `wasm (${simd}, ${threads} thread${threads === 1 ? '' : 's'})`;
  } catch {
    return 'wasm';
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// ---- reporting ----------------------------------------------------------------

/** The active backend under our names ('tensorflow' is tfjs-node). */
export function backendName(): string {
  const name = tf.getBackend();
  return name === TF_NODE_NAME ? 'node' : name;
}

/** Human-readable backend, e.g. "wasm (SIMD, 2 threads)". */
export function describeBackend(): string {
  const name = backendName();
  if (name === 'wasm') return describeWasm();
  if (name === 'node') return 'node (@tensorflow/tfjs-node, native TensorFlow)';
  if (name === 'cpu') return 'cpu (plain JavaScript)';
  return name;
}

/**
 * Keep the backend already in use (chosen by selectBackend or by hand with tf.setBackend);
 * choose one (option, CONDENSE_BACKEND, best available) only when none is.
 */
export async function ensureBackend(): Promise<string> {
  if (!tf.engine().backendName) await selectBackend();
  return backendName();
}
