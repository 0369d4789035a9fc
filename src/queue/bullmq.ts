import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { RefusedBatchError } from '../errors.js';
import type { BatchData } from './batches.js';
import { connectionOptions, type QueueAddress } from './connection.js';
import { BATCH_JOB_OPTIONS } from './protocol.js';
import type { BatchConsumer, BatchHandler, BatchQueue, ConsumerOptions, Outstanding, QueueEngine } from './transport.js';

/** The states in which a batch is still going to be computed. */
const LIVE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;

/** Logs a queue's connection trouble, which repeats while Redis is down, once per message. */
function logOnce(log: (line: string) => void): (error: Error) => void {
  let last = '';
  return (error) => {
    if (error.message !== last) log(`queue: ${error.message}`);
    last = error.message;
  };
}

/**
 * Closes a BullMQ Queue or Worker once its connections are up. BullMQ (5.81)
 * closing a connection that is still connecting strips it of its listeners, and
 * the connecting then fails with an 'error' nobody listens to: an uncaught
 * error that ended a worker SIGTERMed just as Redis died with exit 1 ("internal
 * error: read ECONNRESET") instead of 143. While Redis stays down this waits;
 * the command's stop deadline (src/cli/stopping.ts) quits meanwhile.
 */
async function closeWhenConnected(closable: { waitUntilReady(): Promise<unknown>; close(): Promise<void> }): Promise<void> {
  await closable.waitUntilReady().catch(() => undefined);
  await closable.close();
}

/** The queue on Redis through BullMQ: the only file of sparsetrace that knows BullMQ (see transport.ts). */
export const bullmqEngine: QueueEngine = {
  openQueue(address: QueueAddress, name: string, log: (line: string) => void): BatchQueue {
    const queue = new Queue<BatchData>(name, { connection: connectionOptions(address, false) });
    queue.on('error', logOnce(log));
    return {
      async enqueue(batches) {
        await queue.addBulk(batches.map((batch) => ({ name: 'batch', data: batch.data, opts: { ...BATCH_JOB_OPTIONS, jobId: batch.id } })));
      },
      async dropWaiting() {
        await queue.drain(true);
      },
      async outstanding(): Promise<Outstanding> {
        const counts = await queue.getJobCounts(...LIVE_STATES);
        return {
          waiting: counts.waiting + counts.prioritized + counts.delayed,
          active: counts.active,
          live: LIVE_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0),
        };
      },
      async failures(limit) {
        const failed = await queue.getFailed(0, limit - 1);
        return failed.map((job) => ({ id: job.id, reason: job.failedReason }));
      },
      close: () => closeWhenConnected(queue),
    };
  },

  consume(address: QueueAddress, name: string, handle: BatchHandler, options: ConsumerOptions): BatchConsumer {
    const { timing } = options;
    const processBatch = async (job: Job<BatchData>, token?: string): Promise<unknown> => {
      const giveBack = async (): Promise<never> => {
        if (token !== undefined) await job.moveToWait(token);
        throw new WaitingError();
      };
      try {
        return await handle({ id: job.id, data: job.data, giveBack });
      } catch (error) {
        // BullMQ's word for "do not try this batch again".
        if (error instanceof RefusedBatchError) throw new UnrecoverableError(error.message);
        throw error;
      }
    };
    const worker = new Worker<BatchData>(name, processBatch, {
      connection: connectionOptions(address, true),
      concurrency: 1,
      lockDuration: timing.lockMs,
      stalledInterval: timing.stalledIntervalMs,
      maxStalledCount: timing.maxStalledCount,
      autorun: true,
    });
    worker.on('error', logOnce(options.log));
    worker.on('failed', (job, error) => {
      if (error instanceof WaitingError) return;
      options.onFailed(job?.id, error);
    });
    const closed = new Promise<void>((resolve) => worker.once('closed', () => resolve()));
    return { close: () => closeWhenConnected(worker), closed };
  },
};
