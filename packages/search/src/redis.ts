import { Redis } from 'ioredis';
import { oneLine } from './trial.js';

/** Where the queue lives: `redis://[user:pass@]host[:port][/db]` or `rediss://...`. */
export interface QueueAddress {
  url: string;
  /** The URL without credentials, for messages. */
  display: string;
}

export function parseQueueUrl(raw: string, field = '--queue'): QueueAddress {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`${field}: '${raw}' is not a URL (expected redis://HOST:PORT)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`${field}: expected a redis:// or rediss:// URL, got '${u.protocol}'`);
  if (!u.hostname) throw new Error(`${field}: '${raw}' names no host (expected redis://HOST:PORT)`);
  return { url: raw, display: `${u.protocol}//${u.hostname}:${u.port || 6379}${u.pathname.length > 1 ? u.pathname : ''}` };
}

/**
 * A connection for BullMQ (`maxRetriesPerRequest: null`, as its workers require), after a probe
 * that fails fast: an unreachable server is one line naming the address, not a retry loop.
 * Once up, the connection reconnects by itself.
 */
export async function connectRedis(address: QueueAddress, timeoutMs = 3000): Promise<Redis> {
  const probe = new Redis(address.url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // ioredis rejects with 'Connection is closed'; the socket's own error says why.
  let cause: unknown;
  probe.on('error', (e) => (cause ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    probe.disconnect();
    throw new Error(`cannot reach Redis at ${address.display}: ${describeConnectError(cause ?? e)}`);
  }
  probe.disconnect();
  const client = new Redis(address.url, { maxRetriesPerRequest: null });
  // Reconnects are ioredis's job; without a listener it would print every failed attempt.
  client.on('error', () => {});
  return client;
}

function describeConnectError(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ECONNREFUSED') return 'connection refused (is redis-server running there?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host';
  if (code === 'ETIMEDOUT' || /timeout/i.test(oneLine(e))) return 'timed out';
  return oneLine(e);
}
