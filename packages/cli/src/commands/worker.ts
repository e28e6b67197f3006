import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_EXECUTORS, poolHost, startQueueWorker, type TrialEvent } from '@condense/search';
import { UserError } from '../errors.js';
import { intOption, type Command } from './command.js';

export const worker: Command = {
  name: 'worker',
  summary: 'take search trials from a BullMQ queue (on this or another machine) until stopped',
  usage: `condense worker --queue redis://HOST:PORT [options]

  --queue URL       the Redis the searching \`condense compress --queue URL\` uses
  --workers N       trials at once, each on its own thread (default: one per core)
  --backend B       node | wasm | cpu (default: best available; also CONDENSE_BACKEND)
  --queue-name Q    BullMQ queue name (default condense-trials)
  --plugin P        a plugin module or package folder the recipes name (repeatable); installed
                    plugin packages are found in the project that installed condense
  --module M,...    extra executor modules (each exports createExecutors(init)) for custom trial kinds
  --lock-ms N       a trial whose worker stops renewing its lock this long is given to another
                    worker (default 30000)
  --quiet           no line per trial

Stops on Ctrl-C / SIGTERM after the trials it is running finish.`,
  options: {
    queue: { type: 'string' },
    workers: { type: 'string' },
    backend: { type: 'string' },
    'queue-name': { type: 'string' },
    plugin: { type: 'string', multiple: true },
    module: { type: 'string' },
    'lock-ms': { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run({ values, print }) {
    const url = values.queue as string | undefined;
    if (!url) throw new UserError('worker needs --queue redis://HOST:PORT');
    const threads = intOption(values, 'workers') || availableParallelism();
    const lock = intOption(values, 'lock-ms');
    const modules = [
      DEFAULT_EXECUTORS,
      ...String(values.module ?? '')
        .split(',')
        .filter(Boolean),
    ];
    // Outcomes name the thread that ran them: <host>:<pid>/thread-<i>.
    const name = `${hostname()}:${process.pid}`;
    const host = poolHost({
      workers: threads,
      modules,
      init: { backend: values.backend, redis: url, plugins: ((values.plugin ?? []) as string[]).map((p) => resolve(p)), wasmThreads: 1 },
      name,
    });
    const quiet = Boolean(values.quiet);
    const w = await startQueueWorker({
      url,
      queue: values['queue-name'] as string | undefined,
      host,
      name,
      ...(lock ? { lockDuration: lock, stalledInterval: Math.max(1000, Math.round(lock / 2)) } : {}),
      onEvent: (e) => quiet || print(describeEvent(e)),
    }).catch(async (e) => {
      await host.close();
      throw e;
    });
    print(`condense worker ${w.name}: ${threads} thread${threads === 1 ? '' : 's'} taking trials from ${url.replace(/\/\/[^@/]*@/, '//')}; Ctrl-C stops`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        print(`condense worker ${w.name}: stopping after the running trials`);
        void w.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};

function describeEvent(e: TrialEvent): string {
  switch (e.type) {
    case 'trialStarted':
      return `${e.worker}: started ${e.id} (attempt ${e.attempt})`;
    case 'trialFinished':
      return `${e.worker ?? '?'}: ${e.ok ? `finished ${e.id} in ${((e.ms ?? 0) / 1000).toFixed(1)} s` : `failed ${e.id}: ${e.error}`}`;
    case 'trialRetried':
      return `retrying ${e.id} (attempt ${e.attempt}): ${e.reason}`;
  }
}
