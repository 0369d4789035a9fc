import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BusyError } from '../errors.js';
import { connectionOptions, type QueueAddress } from './connection.js';
import { printable } from './names.js';

/**
 * One `serve` per queue: a key in Redis that the serve holding it refreshes
 * (SET NX PX, then a compare-and-refresh every sixth of its lifetime), deletes
 * when it ends, and that lapses by itself when the serve dies without ending
 * (kill -9, a lost machine), so that a new serve can start after at most its
 * lifetime. Per queue rather than per job: a serve empties the queue's waiting
 * batches when it starts, so two serves on one queue undo each other's work
 * whatever their jobs.
 */
export interface ServeLock {
  /** Aborted when the lock was found taken by another serve (Redis lost it, or it lapsed while this one could not refresh it). */
  readonly lost: AbortSignal;
  /** Lets go of the lock: waits for Redis at most 2 s (it may be down; the lock then lapses by itself). */
  release(): Promise<void>;
  /** Lets go without waiting (a process about to exit): the delete is sent if the connection is up. */
  releaseNow(): void;
}

/** The key of a queue's serve lock (outside BullMQ's `bull:` keys). */
export const serveLockKey = (queueName: string): string => `sparsetrace:serve-lock:${queueName}`;

/** Refresh if still ours; take again if gone (Redis flushed, or restarted without it); 0 if someone else holds it. */
const REFRESH = `
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not held then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Who holds a lock, from its value (written by another process: shown quoted, never trusted). */
function describeHolder(value: string | null): string {
  if (value === null) return 'a serve that has just let go';
  try {
    const holder = JSON.parse(value) as Record<string, unknown>;
    return `job ${printable(holder.job)}, pid ${printable(holder.pid)} on host ${printable(holder.host)}, since ${printable(holder.since)}`;
  } catch {
    return `not a sparsetrace serve: the key holds ${printable(value)}`;
  }
}

/**
 * Takes the serve lock of `queueName`, or throws a BusyError (exit 1: another
 * process, not the user's input) naming its holder and when it lapses.
 */
export async function lockQueue(
  address: QueueAddress,
  queueName: string,
  job: string,
  options: { readonly ttlMs: number; readonly log: (line: string) => void },
): Promise<ServeLock> {
  const { ttlMs, log } = options;
  const key = serveLockKey(queueName);
  const value = JSON.stringify({ job, pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex') });
  const client = new Redis(connectionOptions(address, false));
  // Connection trouble is said by the coordinator's queue, and by a failed refresh below.
  client.on('error', () => undefined);
  let taken: string | null;
  try {
    taken = (await client.set(key, value, 'PX', ttlMs, 'NX')) as string | null;
  } catch (error) {
    client.disconnect();
    throw error;
  }
  if (taken !== 'OK') {
    const [holder, left] = await Promise.all([client.get(key), client.pttl(key)]).finally(() => client.disconnect());
    throw new BusyError(
      `queue ${printable(queueName)} at ${address.display} is coordinated by another serve (${describeHolder(holder)}); one serve per queue: ` +
        `stop that one, or give this job a --queue-name (and --segments) of its own` +
        (left > 0 ? ` (if it was killed, its lock lapses within ${Math.ceil(left / 1000)} s)` : ''),
    );
  }
  const lost = new AbortController();
  let refreshing = false;
  let released = false;
  let refreshError = '';
  const refresh = async (): Promise<void> => {
    if (refreshing || released) return;
    refreshing = true;
    try {
      const outcome = (await client.eval(REFRESH, 1, key, value, String(ttlMs))) as number;
      refreshError = '';
      if (outcome === 0 && !released) {
        const holder = await client.get(key).catch(() => null);
        log(`serve: queue ${printable(queueName)} is now coordinated by another serve (${describeHolder(holder)}), which took it while this one could not refresh its lock; stopping`);
        lost.abort();
        stop();
      }
    } catch (error) {
      // Redis unreachable: the coordinator says so too; the lock is taken again (or found lost) once it answers.
      if ((error as Error).message !== refreshError) log(`queue lock: cannot refresh: ${(error as Error).message}`);
      refreshError = (error as Error).message;
    } finally {
      refreshing = false;
    }
  };
  const timer = setInterval(() => void refresh(), Math.max(Math.floor(ttlMs / 6), 100));
  const stop = (): void => {
    released = true;
    clearInterval(timer);
  };
  return {
    lost: lost.signal,
    async release() {
      if (released && lost.signal.aborted) {
        client.disconnect();
        return;
      }
      stop();
      await Promise.race([client.eval(RELEASE, 1, key, value).catch(() => undefined), new Promise((done) => setTimeout(done, 2000).unref())]);
      client.disconnect();
    },
    releaseNow() {
      stop();
      client.eval(RELEASE, 1, key, value).catch(() => undefined);
    },
  };
}
