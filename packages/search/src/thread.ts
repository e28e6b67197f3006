// Entry of a pool thread: load the executor modules once, then run the trials the pool posts.
import { parentPort, workerData } from 'node:worker_threads';
import { executeLocally, loadExecutors } from './host.js';
import type { FromThread, ThreadData, ToThread } from './pool.js';
import { oneLine, type Executors } from './trial.js';

const port = parentPort;
if (!port) throw new Error('@condense/search thread entry: run it as a worker thread');
const data = workerData as ThreadData;
const post = (m: FromThread) => port.postMessage(m);
const running = new Map<string, AbortController>();

let executors: Executors;
try {
  executors = await loadExecutors(data.modules, data.init);
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'initError', error: oneLine(e) });
}

port.on('message', async (m: ToThread) => {
  if (m.type === 'cancel') return running.get(m.id)?.abort();
  const abort = new AbortController();
  running.set(m.trial.id, abort);
  const r = await executeLocally(executors, m.trial, { id: m.trial.id, attempt: m.attempt, worker: data.name, signal: abort.signal });
  running.delete(m.trial.id);
  post({ type: 'result', id: m.trial.id, ...r });
});
