// The benchmarks' peers: TensorFlow/Keras CPU and PyTorch processes (tools/bench/peers/*.py)
// that build the same networks and answer timing requests over stdin/stdout (one JSON line
// each way, see peers/protocol.py). They stay up for a whole benchmark, so its measurements can
// alternate between condense and the peers. Launched only from here; a missing interpreter or
// framework makes the peer `skipped`, with the reason and how to install it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Interpreters tried in order (the environment variable first); the first that imports the framework wins. */
export const PEERS = {
  tf: {
    script: join(here, 'peers', 'keras_peer.py'),
    env: 'CONDENSE_TF_PYTHON',
    pythons: ['/work/scratch-venv/bin/python', 'python3.11', 'python3'],
    install:
      'python3.11 -m venv /work/scratch-venv && /work/scratch-venv/bin/pip install --no-index --find-links /opt/pypi/files tensorflow_cpu (or set CONDENSE_TF_PYTHON)',
  },
  torch: {
    script: join(here, 'peers', 'torch_peer.py'),
    env: 'CONDENSE_TORCH_PYTHON',
    pythons: ['/usr/bin/python3', 'python3'],
    install: 'apt-get install -y python3-torch (or set CONDENSE_TORCH_PYTHON)',
  },
};

/** A running peer: `request(cmd, fields)` resolves to the result or rejects with the peer's error. */
class Peer {
  constructor(kind, python, child) {
    this.kind = kind;
    this.python = python;
    this.child = child;
    this.next = 1;
    this.pending = new Map();
    this.stderr = [];
    child.stderr.on('data', (d) => this.stderr.push(String(d)) > 20 && this.stderr.shift());
    createInterface({ input: child.stdout }).on('line', (line) => {
      let reply;
      try {
        reply = JSON.parse(line);
      } catch {
        return; // a framework printing to stdout: not a reply
      }
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new Error(`${kind} peer: ${reply.error}`));
    });
    child.on('exit', (code) => {
      const why = new Error(`${kind} peer (${python}) exited with code ${code}: ${this.stderr.join('').trim().split('\n').slice(-3).join(' | ')}`);
      for (const p of this.pending.values()) p.reject(why);
      this.pending.clear();
      this.exited = why;
    });
  }

  request(cmd, fields = {}, timeoutMs = 1_800_000) {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.kind} peer: no answer to '${cmd}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v)), reject: (e) => (clearTimeout(timer), reject(e)) });
      this.child.stdin.write(JSON.stringify({ id, cmd, ...fields }) + '\n');
    });
  }

  /** Training samples/s of `steps` steps at `batch` (Adam 1e-3, random data). */
  async trainRate(model, batch, steps) {
    return (await this.request('train', { model, batch, steps })).samples_per_s;
  }

  /** Times (ms) of `calls` inference calls at `batch`, after `warmup` untimed ones. */
  async latency(model, batch, calls, warmup = 3) {
    return (await this.request('latency', { model, batch, calls, warmup })).times_ms;
  }

  close() {
    this.child.stdin.end();
    if (!this.exited) this.child.kill();
  }
}

/**
 * Start the `kind` peer ('tf' or 'torch') with `threads` compute threads. Resolves to a Peer
 * (with `info`: framework, version, threads) or to { skipped: reason } when no interpreter can
 * run it. `interpreters` and `script` replace the defaults (tests use a stand-in peer).
 */
export async function startPeer(kind, { threads = 2, interpreters, script } = {}) {
  const spec = { ...PEERS[kind], ...(script ? { script } : {}) };
  const pythons = interpreters ?? [process.env[spec.env], ...spec.pythons].filter(Boolean);
  const failures = [];
  for (const python of pythons) {
    if (python.startsWith('/') && !existsSync(python)) continue;
    const child = spawn(python, [spec.script, String(threads)], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const spawned = await new Promise((resolve) => {
      child.once('error', (e) => resolve(e));
      child.once('spawn', () => resolve(undefined));
    });
    if (spawned) {
      failures.push(`${python}: ${spawned.message}`);
      continue;
    }
    const peer = new Peer(kind, python, child);
    try {
      peer.info = await peer.request('info', {}, 300_000);
      return peer;
    } catch (e) {
      failures.push(`${python}: ${e.message.split('\n')[0]}`);
      peer.close();
    }
  }
  return { skipped: `no ${kind} peer (${failures.join('; ') || 'no interpreter found'}); install: ${spec.install}` };
}
