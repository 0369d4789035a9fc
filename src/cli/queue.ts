import type { QueueAddress } from '../queue/connection.js';
import { log } from './output.js';

/** Whether the queue's Redis answers; when it does not, says why in one line (the caller exits 1). */
export async function redisAnswers(address: QueueAddress): Promise<boolean> {
  // BullMQ and ioredis load only for serve and worker: every other command starts without them.
  const { checkRedis, QueueUnreachableError } = await import('../queue/connection.js');
  try {
    await checkRedis(address, log);
    return true;
  } catch (error) {
    if (!(error instanceof QueueUnreachableError)) throw error;
    log(`sparsetrace: ${error.message}`);
    return false;
  }
}
