import { Redis } from 'ioredis';
import { InputError, NETWORK_REASONS, QueueError } from '../errors.js';
import { QUEUE_URL_VARIABLE, type QueueAddress } from './address.js';

export type { QueueAddress } from './address.js';

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

/** A ReplyError's text without its code word, e.g. "invalid username-password pair …". */
const replyText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Checks once that Redis answers and takes us, before anything starts, step by
 * step so that each failure is one precise line instead of ioredis's
 * "Connection is closed." for all of them: the connection (exit 1), AUTH (a
 * missing or refused password, exit 1), SELECT (a database index the server
 * does not have is the URL's fault, exit 2). Then warns (through `log`) about
 * settings that lose jobs: no AOF, or an eviction policy.
 */
export async function checkRedis(address: QueueAddress, log: (line: string) => void): Promise<void> {
  const where = `Redis at ${address.host}:${address.port}`;
  const fix = `${address.source} ${address.display}`;
  // No password and no database in the options: ioredis would send them itself and report any refusal as a closed connection.
  const client = new Redis({
    host: address.host,
    port: address.port,
    lazyConnect: true,
    enableReadyCheck: false,
    retryStrategy: () => null,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
  });
  let lastError: NodeJS.ErrnoException | undefined;
  client.on('error', (error: NodeJS.ErrnoException) => (lastError = error));
  try {
    try {
      await client.connect();
      await client.call('PING').catch((error: unknown) => {
        // NOAUTH: it answers, and wants a password; anything else is no Redis.
        if (!/NOAUTH/.test(replyText(error))) throw error;
      });
    } catch (error) {
      const code = lastError?.code;
      const reason =
        (code !== undefined ? NETWORK_REASONS[code] : undefined) ??
        (/Protocol error/.test(replyText(lastError ?? error)) ? 'what answers there does not speak the Redis protocol' : replyText(lastError ?? error));
      throw new QueueError(
        `${fix}: cannot reach ${where}: ${reason}${code !== undefined ? ` (${code})` : ''}; start redis-server there (README: "Several machines") or fix the address`,
      );
    }
    if (address.password !== undefined) {
      const auth = address.username !== undefined ? ['AUTH', address.username, address.password] : ['AUTH', address.password];
      try {
        await client.call(auth[0]!, ...auth.slice(1));
      } catch (error) {
        const text = replyText(error);
        if (/without any password configured/.test(text)) {
          log(`warning: ${where} has no password set, but ${address.passwordSource} gives one; a Redis that is not on loopback should require one (README: "Several machines")`);
        } else {
          throw new QueueError(
            `${where} refused the password${address.username !== undefined ? ` of user ${address.username}` : ''} given in ${address.passwordSource} (${text.split(' ')[0]}); check it against the server's requirepass or ACL`,
          );
        }
      }
    }
    try {
      await client.call('SELECT', String(address.db));
    } catch (error) {
      const text = replyText(error);
      if (/NOAUTH/.test(text)) {
        throw new QueueError(
          `${where} requires a password and none was given; put it in a file and pass --queue-password-file FILE, or give the URL with its password in ${QUEUE_URL_VARIABLE}`,
        );
      }
      if (/DB index is out of range/.test(text)) {
        const databases = await client.call('CONFIG', 'GET', 'databases').then((reply) => (reply as string[])[1], () => undefined);
        throw new InputError(
          `${fix}: ${where} has no database ${address.db}${databases !== undefined ? ` (it has ${databases}: 0 to ${Number(databases) - 1})` : ' (DB index is out of range)'}; pick another number after the port, or none for 0`,
        );
      }
      throw new QueueError(`${fix}: ${where} refused SELECT ${address.db}: ${text}`);
    }
    try {
      const [, aof] = (await client.call('CONFIG', 'GET', 'appendonly')) as string[];
      const [, policy] = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
      if (aof !== 'yes') log(`warning: ${where} runs without AOF (appendonly ${aof}): a restart loses the queue; serve re-enqueues what is missing when the queue runs dry`);
      if (policy !== 'noeviction') log(`warning: ${where} has maxmemory-policy ${policy}: it may evict queue keys; use noeviction`);
    } catch {
      // CONFIG may be disabled (managed Redis): nothing to check.
    }
  } finally {
    client.disconnect();
  }
}
