import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveQueueAddress } from '../queue/address.js';
import { checkWritableFolder } from '../queue/folders.js';
import { DEFAULT_LOCK_SECONDS, DEFAULT_QUEUE_NAME, queueTiming } from '../queue/protocol.js';
import { checkSegmentsFolder } from '../queue/segments.js';
import { defaultThreads } from '../runner/threads.js';
import { log } from './output.js';
import { checkQueue } from './queue.js';
import { stopOnSignals } from './stopping.js';

export interface WorkerArgs {
  readonly queue?: string;
  readonly queuePasswordFile?: string;
  readonly segments: string;
  readonly queueName?: string;
  readonly workDir?: string;
  readonly threads?: number;
  readonly shardSize?: number;
  readonly lockSeconds?: number;
}

/** `sparsetrace worker --queue URL --segments DIR`: computes batches from the queue until stopped. */
export async function workerCommand(args: WorkerArgs): Promise<number> {
  const address = resolveQueueAddress(args);
  // Everything a batch needs is checked before the first one is taken: a worker
  // that cannot hand in its result would otherwise find out after computing it.
  checkSegmentsFolder(args.segments);
  const ownFolder = args.workDir === undefined;
  const workDir = args.workDir ?? join(tmpdir(), `sparsetrace-worker-${process.pid}`);
  // A folder of our own is removed with what an abandoned batch left in it (nobody else resumes it).
  const removeOwnFolder = (): void => {
    if (ownFolder) rmSync(workDir, { recursive: true, force: true });
  };
  let worker;
  try {
    checkWritableFolder(workDir, '--work-dir', 'batches are computed there', { create: true });
    await checkQueue(address);
    const { startWorker } = await import('../queue/worker.js');
    worker = startWorker({
      address,
      queueName: args.queueName ?? DEFAULT_QUEUE_NAME,
      segments: args.segments,
      workDir,
      threads: args.threads ?? defaultThreads(),
      shardSize: args.shardSize,
      timing: queueTiming(args.lockSeconds ?? DEFAULT_LOCK_SECONDS),
      log,
    });
  } catch (error) {
    removeOwnFolder();
    throw error;
  }
  const running = worker;
  log(`worker ${process.pid}: taking batches from queue ${args.queueName ?? DEFAULT_QUEUE_NAME} at ${address.display}`);
  const stopping = stopOnSignals({
    message: (signal) => `${signal}: stopping; a batch in progress goes back to the queue after the shards in flight (send it again to quit at once)`,
    stop: () => void running.stop().catch(() => undefined),
    quit: (why) => {
      // No goodbye to Redis here (it may be the reason): the batch's lock expires and another worker takes it.
      log(`worker ${process.pid}: ${why}; a batch in progress runs again once its lock expires (--lock-seconds)`);
      removeOwnFolder();
    },
  });
  try {
    await running.closed;
  } finally {
    stopping.dispose();
  }
  removeOwnFolder();
  log(`worker ${process.pid}: stopped`);
  return stopping.exitCode(0);
}
