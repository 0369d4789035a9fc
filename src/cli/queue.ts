import type { QueueAddress } from '../queue/address.js';
import { log } from './output.js';

/**
 * Checks that the queue's Redis answers and takes us (address, password,
 * database); throws the error that says what is wrong (src/errors.ts: exit 1
 * for the server, 2 for the URL).
 */
export async function checkQueue(address: QueueAddress): Promise<void> {
  // BullMQ and ioredis load only for serve and worker: every other command starts without them.
  const { checkRedis } = await import('../queue/connection.js');
  if (address.source === '--queue' && address.passwordSource === 'the --queue URL') {
    log('note: the Redis password is on the command line, where ps shows it to every user of this machine; set REDIS_URL or use --queue-password-file instead');
  }
  await checkRedis(address, log);
}
