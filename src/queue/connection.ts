import { Redis } from 'ioredis';
import { InputError } from '../errors.js';

/** Where the queue lives: a Redis server, from `--queue redis://[:password@]host:port[/db]`. */
export interface QueueAddress {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly password?: string;
  readonly username?: string;
}

/** Redis is not reachable (or refused us): the commands exit 1 with this message. */
export class QueueUnreachableError extends Error {
  override readonly name = 'QueueUnreachableError';
}

export function parseQueueUrl(text: string): QueueAddress {
  const bad = (problem: string): never => {
    throw new InputError(`--queue ${text}: ${problem} (expected redis://HOST:PORT, e.g. redis://127.0.0.1:6380)`);
  };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return bad('not a URL');
  }
  if (url.protocol !== 'redis:') bad(`scheme ${url.protocol.replace(/:$/, '')} is not redis`);
  if (url.hostname === '') bad('no host');
  const port = url.port === '' ? 6379 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) bad(`port ${url.port} is not a port number`);
  const path = url.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0) bad(`database /${path} is not a number`);
  if (url.search !== '' || url.hash !== '') bad('no query or fragment expected');
  return {
    url: text,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
  };
}

/** ioredis options for BullMQ: reconnect forever (a restarted Redis is picked up again). */
export function connectionOptions(address: QueueAddress, forWorker: boolean) {
  return {
    host: address.host,
    port: address.port,
    db: address.db,
    ...(address.password !== undefined ? { password: address.password } : {}),
    ...(address.username !== undefined ? { username: address.username } : {}),
    // BullMQ workers need null here; the coordinator retries its own loop, so its commands may fail fast.
    maxRetriesPerRequest: forWorker ? null : 2,
    retryStrategy: (attempt: number) => Math.min(250 * attempt, 2000),
  };
}

/**
 * Checks once that Redis answers, before anything starts, so a wrong address is
 * one clear line instead of endless reconnection messages. Warns (through `log`)
 * about settings that lose jobs: no AOF, or an eviction policy.
 */
export async function checkRedis(address: QueueAddress, log: (line: string) => void): Promise<void> {
  const client = new Redis({ ...connectionOptions(address, false), lazyConnect: true, retryStrategy: () => null, connectTimeout: 5000, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new QueueUnreachableError(
      `--queue ${address.url}: cannot reach Redis: ${(error as Error).message}; start redis-server there (README: "Several machines") or fix the address`,
    );
  }
  try {
    const [, aof] = (await client.config('GET', 'appendonly')) as string[];
    const [, policy] = (await client.config('GET', 'maxmemory-policy')) as string[];
    if (aof !== 'yes') log(`warning: Redis at ${address.url} runs without AOF (appendonly ${aof}): a restart loses the queue; serve re-enqueues what is missing when the queue runs dry`);
    if (policy !== 'noeviction') log(`warning: Redis at ${address.url} has maxmemory-policy ${policy}: it may evict queue keys; use noeviction`);
  } catch {
    // CONFIG may be disabled (managed Redis): nothing to check.
  } finally {
    client.disconnect();
  }
}
