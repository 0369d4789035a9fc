import { SIGNAL_EXIT } from '../errors.js';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LOCK_SECONDS, DEFAULT_QUEUE_NAME, queueTiming } from '../queue/protocol.js';
import { checkSegmentsFolder } from '../queue/segments.js';
import { defaultThreads } from '../runner/threads.js';
import { log } from './output.js';
import { redisAnswers } from './queue.js';

export interface WorkerArgs {
  readonly queue: string;
  readonly segments: string;
  readonly queueName?: string;
  readonly workDir?: string;
  readonly threads?: number;
  readonly shardSize?: number;
  readonly lockSeconds?: number;
}

/** `sparsetrace worker --queue URL --segments DIR`: computes batches from the queue until stopped. */
export async function workerCommand(args: WorkerArgs): Promise<number> {
  const { parseQueueUrl } = await import('../queue/connection.js');
  const { startWorker } = await import('../queue/worker.js');
  const address = parseQueueUrl(args.queue);
  checkSegmentsFolder(args.segments);
  if (!(await redisAnswers(address))) return 1;
  const hook = process.env.SPARSETRACE_TEST_HOLD;
  const workDir = args.workDir ?? join(tmpdir(), `sparsetrace-worker-${process.pid}`);
  const worker = startWorker({
    address,
    queueName: args.queueName ?? DEFAULT_QUEUE_NAME,
    segments: args.segments,
    workDir,
    threads: args.threads ?? defaultThreads(),
    shardSize: args.shardSize,
    timing: queueTiming(args.lockSeconds ?? DEFAULT_LOCK_SECONDS),
    log,
    ...(hook === 'mid-batch' || hook === 'after-segment' ? { holdAt: hook, holdMs: Number(process.env.SPARSETRACE_TEST_HOLD_MS ?? 60_000) } : {}),
  });
  log(`worker ${process.pid}: taking batches from queue ${args.queueName ?? DEFAULT_QUEUE_NAME} at ${address.url}`);
  let signalName: string | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalName !== undefined) process.exit(SIGNAL_EXIT[signal] ?? 1);
    signalName = signal;
    log(`${signal}: stopping; a batch in progress goes back to the queue after the shards in flight (send it again to quit at once)`);
    void worker.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await worker.closed;
  // A folder of our own is removed with what an abandoned batch left in it (nobody else resumes it).
  if (args.workDir === undefined) rmSync(workDir, { recursive: true, force: true });
  log(`worker ${process.pid}: stopped`);
  return SIGNAL_EXIT[signalName ?? ''] ?? 0;
}
