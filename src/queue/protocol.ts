/**
 * Timing of the queue, sized for batches of 10–60 s.
 *
 * BullMQ gives an active job to its worker under a lock of `lockDuration`, which
 * the worker renews every lockDuration/2 from its main thread (our computation
 * runs on worker threads, so renewals are not starved). A worker that dies stops
 * renewing; after at most `lockDuration`, the next stalled-job check (every
 * `stalledInterval`, by any live worker) puts the batch back in the queue: a
 * dead worker's batch is rerun after lockDuration + stalledInterval at most.
 * `maxStalledCount` bounds how often one batch may stall (a batch that kills its
 * workers) before it fails; `serve` then re-enqueues its runs when the queue
 * runs dry, at most `--max-rounds` times.
 */
export interface QueueTiming {
  readonly lockMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
}

export function queueTiming(lockSeconds: number): QueueTiming {
  return { lockMs: lockSeconds * 1000, stalledIntervalMs: lockSeconds * 1000, maxStalledCount: 5 };
}

/** The queue name shared by `serve` and `worker` (one coordinator per queue). */
export const DEFAULT_QUEUE_NAME = 'sparsetrace';

/** Default lock: 60 s, so a main thread busy for a while (a long SQLite commit) never loses its batch. */
export const DEFAULT_LOCK_SECONDS = 60;

/** Default batch: about 3 M position-steps, 20–40 s of one 2-core machine at Dmax 50. */
export const DEFAULT_BATCH_COST = 60_000 * 51;

/** Job options of every batch: completed and failed jobs are kept a while for inspection, then trimmed. */
export const BATCH_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'fixed', delay: 1000 },
  removeOnComplete: { count: 10_000 },
  removeOnFail: { count: 10_000 },
} as const;

/** Default lifetime of serve's lock on its queue (serveLock.ts): a serve killed with -9 can be replaced this long after it died. */
export const DEFAULT_SERVE_LOCK_SECONDS = 30;
